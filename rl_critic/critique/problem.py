"""What a critic judges: one question, what it shows and the candidate answers to it (a best-of-N question's N
samples, a GRPO group's G completions)."""

from __future__ import annotations

from dataclasses import dataclass, field

from PIL import Image

from rl_critic.models.media import Media


@dataclass
class Problem:
    question: str
    candidates: list[str]
    media: Media = field(default_factory=Media)  # a `Media`, or a list of pictures

    def __post_init__(self) -> None:
        self.media = Media.of(self.media)

    @property
    def images(self) -> list[Image.Image]:
        return self.media.images
