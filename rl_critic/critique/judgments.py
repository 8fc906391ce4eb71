"""What a judge is asked and what it answers: requests, judgments, and their JSON records.

The records are what every output file holds (best-of-N results, critic-DPO rounds, evaluation
judgments), so a judgment is written the same way wherever it was made.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from rl_critic.models.media import Media

VERDICT_VALUE = {"1": 1, "2": -1, "tie": 0}


@dataclass
class PairRequest:
    """Compare `first` (shown as Response 1) with `second` (Response 2) for one question, showing `media` (a
    `Media`, or a list of pictures)."""

    question: str
    first: str
    second: str
    media: Media = field(default_factory=Media)
    prompt: str | None = None  # a ready judge text (R1 suffix included) to use instead of the default layout

    def __post_init__(self) -> None:
        self.media = Media.of(self.media)

    @property
    def images(self) -> list[Image.Image]:
        return self.media.images


@dataclass
class ScoreRequest:
    question: str
    response: str
    media: Media = field(default_factory=Media)
    scale: tuple[int, int] | None = None  # score range asked for; default: the judge's `score_range`
    prompt: str | None = None  # a ready judge text (a benchmark's rating prompt) to use instead of the default layout

    def __post_init__(self) -> None:
        self.media = Media.of(self.media)

    @property
    def images(self) -> list[Image.Image]:
        return self.media.images


@dataclass
class PairJudgment:
    raw: str
    verdict: str | None  # "1", "2", "tie", or None when unparseable
    tokens: int

    @property
    def value(self) -> int:
        """+1: Response 1 is better, -1: Response 2 is better, 0: tie or unparseable."""
        return VERDICT_VALUE.get(self.verdict, 0) if self.verdict else 0

    def record(self, pair: tuple[int, int]) -> dict[str, Any]:
        """JSON-ready: which candidates were shown (first, second), the raw text and the verdict."""
        return {
            "kind": "pair",
            "raw": self.raw,
            "tokens": self.tokens,
            "pair": list(pair),
            "verdict": self.verdict,
            "value": self.value,
        }


@dataclass
class ScoreJudgment:
    raw: str
    score: float | None
    tokens: int

    def record(self, candidate: int) -> dict[str, Any]:
        return {"kind": "score", "raw": self.raw, "tokens": self.tokens, "candidate": candidate, "score": self.score}


@dataclass
class PairScores:
    raw: str
    scores: tuple[float, float] | None  # (Response 1, Response 2), 1-10, or None when unparseable
    tokens: int

    def record(self, pair: tuple[int, int]) -> dict[str, Any]:
        scores = list(self.scores) if self.scores else None
        return {"kind": "scores", "raw": self.raw, "tokens": self.tokens, "pair": list(pair), "scores": scores}
