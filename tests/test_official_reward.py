"""`critic` against the official LLaVA-Critic-R1 reward (tests/official_reward.py: its glue, the real `mathruler`).

Two corpora: the hand-picked one below (every think/box shape times 62 verdict spellings times the labels 1,
2, tie: 11,160 completions) and 24,000 drawn by `tests/verdict_corpus.py` from every category where two graders
of a box can part (other scripts, numbers as numbers, units, `x=` prefixes, LaTeX wrappers, two labels in
two scripts, punctuation, nested and unbalanced braces, long texts). The contract (SPEC.md, "Rewards"):

- by default (`verdicts=official`), format, accuracy and overall are *identical* on every completion;
- `verdicts=lenient` gives accuracy wherever the official reward does, and beyond it only to a box whose
  content `normalise_preference` reads as the label and that names it in words, letters, another script
  or punctuation (never a different number).

Run this file directly (`python -m tests.test_official_reward`) for the agreement table.
"""

from __future__ import annotations

import functools
import itertools
from collections import Counter

from rewards import CriticReward, PreferenceReward
from rewards.preference import normalise_preference
from tests.official_reward import official_scores
from tests.verdict_corpus import LABELS, generated_completions

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


def picked_completions() -> list[tuple[str, str]]:
    """(completion, label) pairs from the hand-picked spellings, deterministic; 11,160."""
    return [
        (think + shape, label)
        for verdict, think, label in itertools.product(VERDICTS, THINKS, LABELS)
        for shape in _shapes(verdict)
    ]


@functools.cache
def corpus() -> list[tuple[str, str]]:
    return picked_completions() + generated_completions(24_000, seed=0)


@functools.cache
def official_reference() -> list[dict]:
    return [official_scores(completion, label) for completion, label in corpus()]


def compare(verdicts: str) -> tuple[Counter, list[tuple[str, str, str]]]:
    """Score the corpus both ways; count agreements and collect contract violations."""
    pairs = corpus()
    completions = [[{"role": "assistant", "content": c}] for c, _ in pairs]
    ours = CriticReward(verdicts=verdicts)(completions=completions, solution=[label for _, label in pairs])
    counts: Counter = Counter(completions=len(pairs))
    violations: list[tuple[str, str, str]] = []
    for (completion, label), reward, official in zip(pairs, ours, official_reference()):
        our_accuracy = 1.0 if reward >= 0.9 - 1e-9 else 0.0
        our_format = round((reward - 0.9 * our_accuracy) / 0.1)
        counts["format agrees"] += our_format == official["format"]
        counts["overall identical"] += reward == official["overall"]
        if our_accuracy == official["accuracy"]:
            counts["accuracy agrees"] += 1
            counts[f"both accuracy {int(our_accuracy)}"] += 1
        elif official["accuracy"] == 1.0:
            violations.append(("official gives accuracy, critic does not", completion, label))
        elif verdicts == "official":
            violations.append(("critic gives accuracy, official does not", completion, label))
        elif not spelled_out(official["answer"], label):
            violations.append(("lenient accepted a box that is not a spelling of the label", completion, label))
        else:
            counts["lenient 1, official 0: a spelling of the label"] += 1
    return counts, violations


def spelled_out(answer: str, label: str) -> bool:
    """A box lenient mode may accept beyond the official grade: `normalise_preference` reads it as the label,
    and it spells the label with a letter, a non-ASCII character or punctuation around it rather than as
    another number (decided from the characters, not by asking the reader again)."""
    if normalise_preference(answer) != label:
        return False
    return any(not (ch.isascii() and (ch.isdigit() or ch in ".eE_+-")) for ch in answer.strip())


def test_critic_is_the_official_reward_on_every_completion():
    counts, violations = compare("official")
    assert counts["completions"] == 35_160
    assert counts["format agrees"] == counts["accuracy agrees"] == counts["overall identical"] == 35_160, counts
    assert not violations
    # The corpus reaches both outcomes plenty of times.
    assert counts["both accuracy 1"] > 2_000 and counts["both accuracy 0"] > 25_000


def test_lenient_verdicts_only_add_spellings_of_the_label():
    counts, violations = compare("lenient")
    assert counts["format agrees"] == counts["completions"]
    assert not violations, "\n".join(
        f"{why}: {completion[-80:]!r} (label {label})" for why, completion, label in violations[:20]
    )
    assert counts["lenient 1, official 0: a spelling of the label"] > 4_000


def test_preference_reward_is_the_official_accuracy_by_default():
    pairs = generated_completions(3_000, seed=1)
    completions = [c for c, _ in pairs]
    ours = PreferenceReward()(completions=completions, solution=[label for _, label in pairs])
    assert ours == [official_scores(c, label)["accuracy"] for c, label in pairs]
    # Lenient mode reads an `<answer>` tag where there is no box; the official reward does not.
    tagged = "<think>x</think><answer>Response 1</answer>"
    assert PreferenceReward()(completions=[tagged], solution=["1"]) == [0.0]
    assert PreferenceReward(verdicts="lenient")(completions=[tagged], solution=["1"]) == [1.0]


def test_the_fast_decisions_equal_mathruler_on_random_strings():
    """`rewards.grading` decides numbers, plain integers and digit-free text without the grader: random strings
    over those alphabets (and a few characters that are neither) against `grade_answer` itself, uncached."""
    import random

    from mathruler.grader import grade_answer

    from rewards.grading import official_match

    rng = random.Random(0)
    alphabets = ("0123456789", "0123456789.eE+-_ \u0661\u0968", "abcdeilmnorstu ,*$%{}()^=", "1e.-+ lion\\t{}x")
    for _ in range(2_000):
        answer = "".join(rng.choice(rng.choice(alphabets)) for _ in range(rng.randint(0, 12)))
        for label in ("0", "1", "2", "10", "tie"):
            assert official_match(answer, label) == bool(grade_answer(answer, label)), (answer, label)


def test_official_reimplementation_reads_as_the_source_does():
    """Worked examples of the official code itself, so a broken re-implementation cannot pass the tests above."""
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
    # What mathruler accepts that a word-reader would not, and what it refuses.
    assert official_scores("<think>x</think>\\boxed{2 days}", "2")["accuracy"] == 1.0
    assert official_scores("<think>x</think>\\boxed{\\textrm{1}}", "1")["accuracy"] == 1.0
    assert official_scores("<think>x</think>\\boxed{\u0662}", "2")["accuracy"] == 1.0  # Arabic-Indic 2
    assert official_scores("<think>x</think>\\boxed{\u0968 1}", "1")["accuracy"] == 0.0  # Devanagari 2, then 1


def test_a_box_naming_two_labels_in_two_scripts_names_no_label():
    for box in ("\u0968 1", "1 \u0662", "\u0661 2", "B \u0967"):
        assert normalise_preference(box) is None, box
        for verdicts in ("official", "lenient"):
            completion = f"<think>x</think>\\boxed{{{box}}}"
            assert CriticReward(verdicts=verdicts)(completions=[completion], solution=["1"]) == [0.1]
            assert CriticReward(verdicts=verdicts)(completions=[completion], solution=["2"]) == [0.1]
    assert normalise_preference("\u0968") == "2" and normalise_preference("Response \u0661") == "1"


def test_verdicts_option_is_checked():
    import pytest

    import rewards

    with pytest.raises(ValueError, match="verdicts must be one of official, lenient"):
        rewards.resolve(["critic:verdicts=loose"])
    assert rewards.resolve(["critic:verdicts=lenient"])[0].verdicts == "lenient"


if __name__ == "__main__":
    for mode in ("official", "lenient"):
        table, problems = compare(mode)
        print(f"verdicts={mode}")
        for key, value in sorted(table.items()):
            print(f"  {key:55s} {value:6d}")
        print(f"  {'contract violations':55s} {len(problems):6d}")
