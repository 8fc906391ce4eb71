"""Answer accuracy for policy data: math (math-verify), multiple choice, or short answers.

This is the reward for the *policy* side (a critic-trained model answering questions, self-critique
evaluation), where `solution` is the reference answer: an expression (`\\frac{1}{3}`, `0.5`), a choice
letter (`B`, `(B)`), or a short phrase (`red`, `two apples`).
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

from rewards.text import completion_text, final_answer, unwrap_latex

_CHOICE_GOLD = re.compile(r"\(?([A-J])\)?")
_CHOICE_PRED = re.compile(
    r"(?:(?:the\s+)?(?:answer|option|choice)\s*(?:is\s*)?:?\s*)?\(?([A-J])\)?(?:[.:)\s].*)?", re.S | re.I
)
_ARTICLES = re.compile(r"\b(?:a|an|the)\b")
_PUNCTUATION = re.compile(r"[^\w\s]")
_MAX_ANSWER_CHARS = 1000  # what math-verify is given at most: keeps adversarial completions cheap


def normalise_text(text: str) -> str:
    """Lower-case, no punctuation or articles, single spaces: `"The  Red."` -> `"red"`."""
    text = _PUNCTUATION.sub(" ", unwrap_latex(text).lower())
    return " ".join(_ARTICLES.sub(" ", text).split())


def _parse_math(text: str, timeout: int | None):
    from math_verify import parse

    # A bare final answer is read as LaTeX math first (plain parsing reads `1+x^2` as the number 1).
    return parse(f"${text}$", parsing_timeout=timeout) or parse(text, parsing_timeout=timeout)


def extract_answer(text: str) -> str:
    """The answer a completion gives: its last box, else its `<answer>` tag, else its last non-empty line."""
    answer = final_answer(text)
    if answer is None:
        lines = [line for line in text.strip().splitlines() if line.strip()]
        answer = lines[-1] if lines else ""
    return unwrap_latex(answer[-_MAX_ANSWER_CHARS:])


def answer_accuracy(text: str, solution: Any) -> float | None:
    """1.0 / 0.0 for one completion against one reference answer, or against a list of acceptable ones (1.0
    when it matches any); None for an empty reference."""
    if isinstance(solution, (list, tuple)):
        scores = [answer_accuracy(text, gold) for gold in solution]
        return max((score for score in scores if score is not None), default=None)
    gold = unwrap_latex(str(solution or ""))
    if not gold:
        return None
    answer = extract_answer(text)
    choice = _CHOICE_GOLD.fullmatch(gold)
    if choice:
        predicted = _CHOICE_PRED.fullmatch(answer.strip())
        return 1.0 if predicted and predicted.group(1).upper() == choice.group(1) else 0.0
    if normalise_text(answer) == normalise_text(gold):
        return 1.0
    from math_verify import verify

    main_thread = threading.current_thread() is threading.main_thread()
    timeout = 5 if main_thread else None  # math-verify's timeouts use signals: main thread only
    gold_parsed = _parse_math(gold, timeout)
    if not gold_parsed:
        return 0.0
    return 1.0 if verify(gold_parsed, _parse_math(answer, timeout), timeout_seconds=timeout) else 0.0


class AnswerAccuracyReward:
    """A TRL reward: 1.0 when the completion's final answer matches `solution` (see `answer_accuracy`)."""

    __name__ = "answer_accuracy_reward"

    def __call__(self, prompts=None, completions=None, completion_ids=None, solution=None, **kwargs: Any):
        for name in ("math_verify.parser", "math_verify.grader"):
            logging.getLogger(name).setLevel(logging.ERROR)
        return [answer_accuracy(completion_text(c), s) for c, s in zip(completions or [], solution or [])]


answer_accuracy_reward = AnswerAccuracyReward()
