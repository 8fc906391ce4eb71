"""Preference reward: is the last boxed verdict the better response of the `solution` column?

Two ways to read a verdict (the `verdicts` option of `preference` and `critic`):

- `official` (default): exactly the official LLaVA-Critic-R1 accuracy, mathruler's `grade_answer` of the last
  box against the label (`rewards.grading`). `1`, `2.0`, `01`, `\\text{1}`, `2 days` are right for label 2 or 1
  as mathruler decides; `Response 1`, `first`, `A` are not.
- `lenient`: also every usual spelling of a label (`normalise_preference`: `Response 1`, `first`, `A`,
  `Both are equally good`, ...), and, in `preference`, an `<answer>` tag where there is no box. This is our
  extension: it rewards a bare spelling the paper's reward does not, so it is off unless asked for.

Judges at inference read verdicts more widely still (`rl_critic.critique.read_verdict`: the SFT layouts too).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from typing import Any

from rewards.grading import NO_ANSWER, boxed_answer, official_match
from rewards.options import choice
from rewards.text import collapse_tag_spaces, completion_text, last_answer_tag, unwrap_latex

VERDICT_MODES = ("official", "lenient")
TIES = ("match", "skip")  # a tie label needs a tie verdict, or tie rows are skipped (None)

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
# Digits of any script (`\d`: Devanagari `२`, Arabic-Indic `٢`) are words, so a box naming two labels in two
# scripts (`२ 1`) names two labels.
_WORDS = re.compile(r"\d+|[^\W\d_]+|[①②]")
_MAX_VERDICT_CHARS = 200  # a verdict is a few words; a longer box is not a verdict
_SIGNED = re.compile(r"[-\u2212]\s*\d")  # "-1" is not "1" (the official grader compares numbers)
_DECIMAL = re.compile(r"[0-9]+\.[0-9]+")
# "1+1", "1.+1", "(1)*(1)" are expressions, not verdict 1 (the text is at most _MAX_VERDICT_CHARS long).
_ARITHMETIC = re.compile(r"\d[\W_]*[-+*/^=\u00d7\u00f7][\W_]*\d")


@functools.lru_cache(maxsize=8192)
def normalise_preference(text: str | None) -> str | None:
    """`"1"`, `"2"` or `"tie"` from a boxed verdict in any usual spelling, else None.

    Pure, so cached: labels and verdicts repeat across a batch. Accepts `1`, `Response 1`, `first`, `A`,
    `Answer 1`, `\\text{1}`, `Response 1 is better`, `(A)`, `**B**`, `tie`, `equal`, `C`, `Both are equally
    good`, ...; rejects verdicts naming both sides (`1 or 2`), neither, or anything else (`3`, `neither`, a
    sentence of reasoning, a negated verdict such as `Response 2 is no better`, a signed number `-1`, an
    expression `1+1`). Numbers read as numbers, in any script: `01`, `2.0` and `२` are 1, 2 and 2.
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
    words = [str(int(w)) if w.isdecimal() else w for w in _WORDS.findall(text.lower()) if w not in _FILLER]
    if any(w not in _STRONG and w not in _WEAK for w in words):
        return None
    labels = {_STRONG[w] for w in words if w in _STRONG} or {_WEAK[w] for w in words if w in _WEAK}
    return labels.pop() if len(labels) == 1 else None


def preference_accuracy(
    answer: str | None, label_text: Any, ties: str = "match", verdicts: str = "official"
) -> float | None:
    """1.0 / 0.0 for one boxed answer against one label; None when the label is not a preference
    (or is a tie and `ties="skip"`).

    `official`: mathruler's grade of the answer against the label as written, as the official reward does.
    `lenient`: that, or the answer is a usual spelling of the label (`normalise_preference`)."""
    label = normalise_preference(str(label_text)) if label_text is not None else None
    if label is None or (label == "tie" and ties == "skip"):
        return None
    if answer is None:
        return 0.0
    if official_match(answer, str(label_text)):
        return 1.0
    return 1.0 if verdicts == "lenient" and normalise_preference(answer) == label else 0.0


def preference_answer(text: str, verdicts: str = "official") -> str:
    """The answer `preference` grades: the official reward's (`rewards.grading.boxed_answer`, `"None"` without a
    box, as mathruler), or in `lenient` mode, where there is no box, the last `<answer>` tag."""
    answer = boxed_answer(text)
    if answer is None and verdicts == "lenient":
        answer = last_answer_tag(collapse_tag_spaces(text))
    return answer if answer is not None else NO_ANSWER


class PreferenceReward:
    """A TRL reward: 1.0 when the boxed verdict equals the `solution` label, else 0.0.

    ties: `"match"` (a tie label needs a tie verdict) or `"skip"` (tie rows return None, which TRL skips).
    verdicts: `"official"` (mathruler's grade, as the official reward) or `"lenient"` (also the usual spellings,
    and an `<answer>` tag where there is no box). Rows whose `solution` is not a preference label return None.
    """

    __name__ = "preference_reward"

    def __init__(self, ties: str = "match", verdicts: str = "official") -> None:
        self.ties, self.verdicts = choice("ties", ties, TIES), choice("verdicts", verdicts, VERDICT_MODES)

    def __call__(self, prompts=None, completions=None, completion_ids=None, solution=None, **kwargs: Any):
        answers = [preference_answer(completion_text(c), self.verdicts) for c in completions or []]
        _log(kwargs, [normalise_preference(a) for a in answers])
        return [preference_accuracy(a, label, self.ties, self.verdicts) for a, label in zip(answers, solution or [])]


def _log(kwargs: dict[str, Any], verdicts: list[str | None]) -> None:
    if kwargs.get("log_extra") is not None:
        kwargs["log_extra"]("verdict", [v if v is not None else "" for v in verdicts])
    if kwargs.get("log_metric") is not None and verdicts:
        kwargs["log_metric"]("preference/unparsed_rate", sum(v is None for v in verdicts) / len(verdicts))


preference_reward = PreferenceReward()
