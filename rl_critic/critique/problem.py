"""What a critic judges: one question, its images and the candidate answers to it (a best-of-N question's N
samples, a GRPO group's G completions)."""

from __future__ import annotations

from dataclasses import dataclass, field

from PIL import Image


@dataclass
class Problem:
    question: str
    candidates: list[str]
    images: list[Image.Image] = field(default_factory=list)
