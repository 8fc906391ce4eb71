"""Preference reward: is the last boxed verdict the better response of the `solution` column?

`normalise_preference` is the one reader of verdicts in the project: training rewards, self-critique
and evaluation all parse what a judge boxed through it, so a spelling accepted in training is accepted
everywhere.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from typing import Any

from rewards.text import completion_text, final_answer, unwrap_latex

_FILLER = set(
    (
        "the response responses answer answers output assistant option choice candidate model is are was "
        "better best winner wins preferred more accurate helpful correct right good final verdict my choose "
        "prefer select so therefore overall an of number"
    ).split()
)
_STRONG = {
    "1": "1",
    "first": "1",
    "①": "1",
    "2": "2",
    "second": "2",
    "b": "2",
    "ii": "2",
    "②": "2",
    "tie": "tie",
    "tied": "tie",
    "equal": "tie",
    "equally": "tie",
    "both": "tie",
    "c": "tie",
    "same": "tie",
    "draw": "tie",
}
# Words that are labels only when nothing else is: "a" and "i" are also an article and a pronoun, "one"
# and "two" also plain numerals ("The two responses are equally good").
_WEAK = {"a": "1", "i": "1", "one": "1", "two": "2"}
_WORDS = re.compile(r"[0-9]+|[^\W\d_]+|[①②]")
_MAX_VERDICT_CHARS = 200  # a verdict is a few words; a longer box is not a verdict
_SIGNED = re.compile(r"[-\u2212]\s*[0-9]")  # "-1" is not "1" (the official grader compares numbers)
_DECIMAL = re.compile(r"[0-9]+\.[0-9]+")
_ARITHMETIC = re.compile(r"[0-9]\s*[-+*/^=\u00d7\u00f7]+\s*[0-9]")  # "1+1" is an expression, not verdict 1


@functools.lru_cache(maxsize=8192)
def normalise_preference(text: str | None) -> str | None:
    """`"1"`, `"2"` or `"tie"` from a boxed verdict in any usual spelling, else None.

    Pure, so cached: labels and verdicts repeat across a batch. Accepts `1`, `Response 1`, `first`, `A`,
    `Answer 1`, `\\text{1}`, `Response 1 is better`, `(A)`, `**B**`, `tie`, `equal`, `C`, `Both are equally
    good`, ...; rejects verdicts naming both sides (`1 or 2`), neither, or anything else (`3`, `neither`, a
    sentence of reasoning, a negated verdict such as `Response 2 is no better`, a signed number `-1`, an
    expression `1+1`). Numbers read as numbers: `01` and `2.0` are 1 and 2.
    """
    if text is None:
        return None
    # NFKC: full-width "１" and "Ｂ" read as "1" and "B", as the official grader's normalisation does.
    text = unwrap_latex(unicodedata.normalize("NFKC", text))
    if not text or len(text) > _MAX_VERDICT_CHARS or _SIGNED.search(text) or _ARITHMETIC.search(text):
        return None
    if _DECIMAL.fullmatch(text):  # "2.0": the official grader compares it as the number 2
        return {1.0: "1", 2.0: "2"}.get(float(text))
    # Numbers as numbers: "01" is 1, as the official grader reads it.
    words = [
        str(int(w)) if w.isascii() and w.isdigit() else w for w in _WORDS.findall(text.lower()) if w not in _FILLER
    ]
    if any(w not in _STRONG and w not in _WEAK for w in words):
        return None
    labels = {_STRONG[w] for w in words if w in _STRONG} or {_WEAK[w] for w in words if w in _WEAK}
    return labels.pop() if len(labels) == 1 else None


def preference_accuracy(answer: str | None, label_text: Any, ties: str = "match") -> float | None:
    """1.0 / 0.0 for one boxed answer against one label; None when the label is not a preference
    (or is a tie and `ties="skip"`)."""
    label = normalise_preference(str(label_text)) if label_text is not None else None
    if label is None or (label == "tie" and ties == "skip"):
        return None
    return 1.0 if normalise_preference(answer) == label else 0.0


class PreferenceReward:
    """A TRL reward: 1.0 when the boxed verdict equals the `solution` label, else 0.0.

    ties: `"match"` (a tie label needs a tie verdict) or `"skip"` (tie rows return None, which TRL skips).
    Rows whose `solution` is not a preference label return None.
    """

    __name__ = "preference_reward"

    def __init__(self, ties: str = "match") -> None:
        if ties not in ("match", "skip"):
            raise ValueError(f"ties must be 'match' or 'skip', not {ties!r}")
        self.ties = ties

    def __call__(self, prompts=None, completions=None, completion_ids=None, solution=None, **kwargs: Any):
        answers = [final_answer(completion_text(c)) for c in completions or []]
        _log(kwargs, [normalise_preference(a) for a in answers])
        return [preference_accuracy(a, label, self.ties) for a, label in zip(answers, solution or [])]


def _log(kwargs: dict[str, Any], verdicts: list[str | None]) -> None:
    if kwargs.get("log_extra") is not None:
        kwargs["log_extra"]("verdict", [v if v is not None else "" for v in verdicts])
    if kwargs.get("log_metric") is not None and verdicts:
        kwargs["log_metric"]("preference/unparsed_rate", sum(v is None for v in verdicts) / len(verdicts))


preference_reward = PreferenceReward()
