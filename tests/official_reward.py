"""The official LLaVA-Critic-R1 reward, re-implemented from reading it, to test `critic` against.

Source read: `llava-critic-r1/EasyR1/examples/reward_function/math.py` in LLaVA-VL/LLaVA-NeXT at commit
af21fed79f5173bf422ef8d87eaf558ebfd1f1c5 (`compute_score`, with `format_weight` 0.1 as its
`examples/config.yaml` sets). What it does, step by step:

1. collapse whitespace around `<`, `>` and `/` (`re.sub(r"\\s*(<|>|/)\\s*", r"\\1", predict)`);
2. format = 1.0 iff the collapsed text full-matches `<think>.*</think>.*\\\\boxed\\{.*\\}.*` (DOTALL);
3. accuracy = 1.0 iff mathruler's `grade_answer(extract_boxed_content(collapsed), ground_truth)`;
4. overall = (1 - format_weight) * accuracy + format_weight * format.

The grading functions are the real `mathruler` package (0.1.0) that the official file imports, so only the
glue above is ours. `compute_score` is that glue as the official file runs it (the benchmark's baseline);
`official_scores` is one completion's scores with the grade cached (the agreement test's reference). The cache
is the one `rewards.grading` keeps around the same `grade_answer`: the grade is pure and slow (sympy, pylatexenc),
and sharing it halves the test's time without weakening it, since each side looks up the answer *it* read and
the fast paths of `rewards.grading` never reach the cache, so the grades of those pairs come from mathruler.
"""

from __future__ import annotations

import re

from mathruler.grader import extract_boxed_content, grade_answer

_FORMAT = re.compile(r"<think>.*</think>.*\\boxed\{.*\}.*", re.DOTALL)
_COLLAPSE = re.compile(r"\s*(<|>|/)\s*")


def compute_score(predicts: list[str], ground_truths: list[str], format_weight: float = 0.1) -> list[dict]:
    """The official `compute_score`, step for step (no cache)."""
    scores = []
    for predict, ground_truth in zip(predicts, ground_truths):
        predict = _COLLAPSE.sub(r"\1", predict)
        format_score = 1.0 if _FORMAT.fullmatch(predict) else 0.0
        accuracy = 1.0 if grade_answer(extract_boxed_content(predict), ground_truth) else 0.0
        overall = (1 - format_weight) * accuracy + format_weight * format_score
        scores.append({"overall": overall, "format": format_score, "accuracy": accuracy})
    return scores


def _grade(answer: str, ground_truth: str) -> bool:
    from rewards.grading import _graded

    return _graded(answer, ground_truth)


def official_scores(predict: str, ground_truth: str, format_weight: float = 0.1) -> dict[str, float | str]:
    """One completion's official scores, plus the answer it read (`"None"` when it found no box)."""
    predict = _COLLAPSE.sub(r"\1", predict)
    format_score = 1.0 if _FORMAT.fullmatch(predict) else 0.0
    answer = extract_boxed_content(predict)
    accuracy = 1.0 if _grade(answer, ground_truth) else 0.0
    return {
        "overall": (1 - format_weight) * accuracy + format_weight * format_score,
        "format": format_score,
        "accuracy": accuracy,
        "answer": answer,
    }
