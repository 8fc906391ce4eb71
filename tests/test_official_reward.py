"""`critic` against a faithful re-implementation of the official LLaVA-Critic-R1 reward (tests/official_reward.py).

A few thousand completions are generated from every shape a GRPO rollout can take (think block present,
missing, spaced out or doubled; no box, one box, an earlier box then a later one, a last box cut by
`max_completion_length`, an `<answer>` tag instead of a box) times every verdict spelling we know of, for
the labels `1`, `2` and `tie`. The contract (SPEC.md, "Rewards"):

- format agrees on every completion;
- where the official reward gives accuracy, `critic` does too;
- where `critic` gives accuracy and the official reward does not, the official code read the *same* box,
  and its content is a documented spelling of the label (`first`, `A`, `Response 1`, `**1**`, `equal`, ...),
  never a different answer or no answer.

Run this file directly (`python -m tests.test_official_reward`) for the agreement table.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter

from rewards import critic_reward
from rewards.preference import normalise_preference
from rewards.text import collapse_tag_spaces, last_boxed
from tests.official_reward import official_scores

LABELS = ("1", "2", "tie")
# Box contents: the labels as the official grader needs them, numbers it compares as numbers, LaTeX
# wrappings, the documented spellings, and verdicts that name no label or the wrong one.
VERDICTS = (
    "1",
    "2",
    "tie",
    " 1 ",
    "2.0",
    "1.00",
    "3.0",
    "01",
    "-1",
    "\u22122",
    "+1",
    "\uff11",
    "\uff12",
    "{1}",
    "{{2}}",
    "{\\text{1}}",
    "\\text{2}",
    "\\textbf{1}",
    "\\mathrm{tie}",
    "$1$",
    "1.",
    "1 or 2",
    "3",
    "0",
    "",
    "12",
    "1/2",
    "\\frac{2}{1}",
    "4/2",
    "1+1",
    "\\sqrt{4}",
    "first",
    "second",
    "A",
    "B",
    "C",
    "Response 1",
    "Response 2",
    "Answer 1",
    "Response 1 is better",
    "(A)",
    "(1)",
    "**B**",
    "[2]",
    "equal",
    "Both are equally good",
    "Tie",
    "Response 2 is no better",
    "neither",
    "None",
    "Two",
    "one",
    "I",
    "II",
    "tie.",
    "Response \uff12",
    "The first response",
    "1, 2",
    "\\boxed{1}",
    "x",
    "2 }",
    "{1",
)
THINKS = (
    "<think>I compare both responses with the image.</think>",
    "< think >spaced tags</ think >\n",
    "<think>first</think><think>second thought</think>",
    "<think>never closed ",
    "",
    "I forgot the tags. ",
)


def _shapes(verdict: str) -> list[str]:
    """Where the verdict sits after the think block: every place a box can be found, or not."""
    other = "2" if verdict.strip() == "1" else "1"
    return [
        f"\\boxed{{{verdict}}}",
        f"So the answer is \\boxed{{{verdict}}}.",
        f"\\boxed{{{other}}} Wait, on reflection: \\boxed{{{verdict}}}",
        f"\\boxed{{{verdict}}} Wait, on reflection: \\boxed{{{other}",  # last box cut mid-way
        f"\\boxed{{{verdict}}} and then the text was cut: \\boxed{{",
        f"<answer>{verdict}</answer>",
        f"<answer>\\boxed{{{verdict}}}</answer>",
        f"\\boxed {{{verdict}}}",  # a space: not a box
        f"\\boxed{{\\text{{Response }}{verdict}}}",
        f"Final verdict: {verdict}",
    ]


def generated_completions() -> list[tuple[str, str]]:
    """(completion, label) pairs, deterministic; len > 5,000."""
    return [
        (think + shape, label)
        for verdict, think, label in itertools.product(VERDICTS, THINKS, LABELS)
        for shape in _shapes(verdict)
    ]


def documented_spelling(answer: str, label: str) -> bool:
    """A box `critic` reads as `label` while the official grader needs the label itself: words, letters,
    ordinals (`first`, `A`, `Response 1`, `tie.`), or the bare label in brackets or emphasis (`(1)`,
    `[2]`, `**1**`), as docs/rewards.md's "`critic` against the official reward" lists them. Decided here from
    the characters, not by asking `normalise_preference`, so the test is not circular."""
    if normalise_preference(answer) != label:
        return False
    core = answer.strip()
    if re.search(r"[^\W\d_]", core):
        return True
    return re.fullmatch(r"[\s(\[*]*" + re.escape(label) + r"[\s)\]*]*", core) is not None


def compare() -> tuple[Counter, list[tuple[str, str, str]]]:
    """Score everything both ways; count agreements and collect contract violations."""
    pairs = generated_completions()
    ours = critic_reward(
        completions=[[{"role": "assistant", "content": c}] for c, _ in pairs], solution=[label for _, label in pairs]
    )
    counts: Counter = Counter(completions=len(pairs))
    violations: list[tuple[str, str, str]] = []
    for (completion, label), reward in zip(pairs, ours):
        official = official_scores(completion, label)
        our_format = float(round(reward * 10) % 9 == 1) if reward is not None else None  # 0.1 / 1.0 -> 1
        our_accuracy = 1.0 if reward is not None and reward >= 0.9 - 1e-9 else 0.0
        counts["format agrees"] += our_format == official["format"]
        if our_accuracy == official["accuracy"]:
            counts["accuracy agrees"] += 1
            counts[f"both accuracy {int(our_accuracy)}"] += 1
            continue
        if official["accuracy"] == 1.0:
            violations.append(("official gives accuracy, critic does not", completion, label))
            continue
        ours_read = last_boxed(completion)
        same_box = ours_read is not None and collapse_tag_spaces(ours_read).strip() == official["answer"]
        if not same_box:
            violations.append(("critic scored a box the official code did not read", completion, label))
        elif not documented_spelling(official["answer"], label):
            violations.append(("critic accepted an undocumented spelling", completion, label))
        else:
            counts["critic 1, official 0: documented spelling"] += 1
            counts[f"  spelling {official['answer']!r}"] += 1
    return counts, violations


def test_critic_agrees_with_the_official_reward_outside_documented_spellings():
    counts, violations = compare()
    assert counts["completions"] >= 5000
    assert counts["format agrees"] == counts["completions"]
    assert not violations, "\n".join(
        f"{why}: {completion!r} (label {label})" for why, completion, label in violations[:20]
    )
    # The generator reaches every branch of the contract: plenty of both outcomes and of spellings.
    assert counts["both accuracy 1"] > 300 and counts["both accuracy 0"] > 2000
    assert counts["critic 1, official 0: documented spelling"] > 300


def test_official_reimplementation_reads_as_the_source_does():
    """Worked examples of the official code itself, so a broken re-implementation cannot pass the test above."""
    assert official_scores("<think>x</think>\\boxed{1}", "1") == {
        "overall": 1.0,
        "format": 1.0,
        "accuracy": 1.0,
        "answer": "1",
    }
    assert official_scores("<think>x</think>\\boxed{2.0}", "2")["accuracy"] == 1.0
    assert official_scores("<think>x</think>\\boxed{first}", "1")["accuracy"] == 0.0
    assert official_scores("<think>x</think>\\boxed{1} \\boxed{2", "1")["answer"] == "None"
    assert official_scores("< think >x</ think >\\boxed{1}", "1")["format"] == 1.0
    assert official_scores("x</think>\\boxed{1}", "1")["overall"] == 0.9


if __name__ == "__main__":
    table, problems = compare()
    for key, value in sorted(table.items(), key=lambda kv: (kv[0].startswith("  "), kv[0])):
        print(f"{key:55s} {value:6d}")
    print(f"{'contract violations':55s} {len(problems):6d}")
