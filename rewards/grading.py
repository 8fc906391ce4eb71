"""The official LLaVA-Critic-R1 answer check, exactly, and fast.

The official reward (`llava-critic-r1/EasyR1/examples/reward_function/math.py` in LLaVA-VL/LLaVA-NeXT, commit
af21fed) reads the answer as mathruler's `extract_boxed_content` of the completion after its whitespace
collapse (the content of the *last* `\\boxed{`, stripped; the string `"None"` when there is no box or its braces
never close) and grades it with mathruler's `grade_answer(answer, label)`. `boxed_answer` and
`official_match` give the same results; they are only faster:

- the box is found with `rewards.text.last_boxed` (a regex over braces, not a Python loop over characters) in
  the text as written, and only its content is collapsed: the collapse deletes whitespace next to `<`, `>`, `/`,
  which can neither make nor break a `\\boxed{` nor move a brace, so it is the same content;
- decisions that need no grader are made first: an answer equal to the label is right (mathruler's first
  test); two whole numbers of at most 15 ASCII digits are equal exactly when they are the same integer
  (mathruler parses both with `float`, exact below 2**53, and compares the integers; for two different
  integers it then asks sympy, which is the slow part, and sympy can only agree that they differ); and a
  number written with digits (any script), `.`, `e`, signs and `_` against a whole-number label is right exactly
  when `float` reads it within 1e-7 of that integer (what mathruler's normalisation does to it: no unit, LaTeX
  or `x=` rule touches these characters, and a non-integer never equals an integer label); and an answer with
  no digit of any script and no backslash is never a non-zero whole-number label (mathruler's rules add digits
  only as `0`s or inside `*10^6`, whose `*` stays);
- everything else goes to the real `grade_answer`, once per (answer, label): a GRPO run boxes the same few
  verdicts millions of times.

`tests/test_official_reward.py` checks this against the official function on 30,000 generated completions.
"""

from __future__ import annotations

import functools
import math
import re

from rewards.text import collapse_tag_spaces, last_boxed

NO_ANSWER = "None"  # what mathruler's extract_boxed_content returns when it finds no (closed) box
_SHORT_INTEGER = re.compile(r"[0-9]{1,15}")
_NUMBER_CHARACTERS = re.compile(r"[\d.eE+\-_]{1,40}")
_NO_DIGIT_NO_LATEX = re.compile(r"[^\d\\]*")


def boxed_answer(text: str) -> str | None:
    """The answer the official reward grades: the last `\\boxed{}` of the whitespace-collapsed text, stripped;
    None where mathruler's `extract_boxed_content` finds no (closed) box and grades the string `"None"`."""
    boxed = last_boxed(text)
    return collapse_tag_spaces(boxed).strip() if boxed is not None else None


@functools.lru_cache(maxsize=65536)
def _graded(answer: str, label: str) -> bool:
    from mathruler.grader import grade_answer

    return bool(grade_answer(answer, label))


def official_match(answer: str, label: str) -> bool:
    """mathruler's `grade_answer(answer, label)`: is the answer the label (as numbers, as LaTeX, as text)?"""
    if answer == label:
        return True
    if _SHORT_INTEGER.fullmatch(label):
        if _SHORT_INTEGER.fullmatch(answer):
            return int(answer) == int(label)
        if _NUMBER_CHARACTERS.fullmatch(answer):
            return _number_is(answer, int(label))
        if int(label) != 0 and _NO_DIGIT_NO_LATEX.fullmatch(answer):
            return False
    return _graded(answer, label)


def _number_is(answer: str, integer: int) -> bool:
    """mathruler on a number-like answer against an integer label: `float` must read it, finitely, within 1e-7
    of an integer, and that integer is the label."""
    try:
        value = float(answer)
    except ValueError:
        return False
    if not math.isfinite(value):
        return False
    nearest = round(value)
    return abs(value - nearest) <= 1e-7 and nearest == integer
