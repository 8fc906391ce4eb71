"""The starting policy's teacher: an annotator who calls green shapes blue and yellow ones red.

A policy trained on right answers only is either untrained (garbled samples) or perfect; neither leaves a
critic anything to fix. Real base policies have systematic, confident mistakes. The demo's starting policy
first learns the colours from right answers, then is fine-tuned on this annotator's, who names a `CONFUSED`
colour as its twin most of the time: it answers in perfect sentences, still samples the right colour, and
greedily picks the wrong one. The critic learns from correct preference pairs; whether it can repair the
policy is what the demo measures.

Measured (tiny Qwen2.5-VL, seeds 0-2): one-directional and after right answers, because a policy that
never saw blue and green told apart reliably never learns to tell them apart from noisy labels (it says
"blue" for both, p ~0.55-0.9), and then GRPO needed 250 to over 400 steps to build the distinction; with it
(green pictures: p(green) 0.09-0.27 after 100 steps at 80%), GRPO fixed the mistake within 25 steps.
With both confusions, 100 steps at 80% leave p(green | green) 0.16 / 0.05 / 0.22 and p(yellow | yellow)
0.10 / 0.18 / 0.09 (seeds 0 / 1 / 2), the other colours >= 0.94.
Two confused colours, not one: half the questions have headroom, so self-critique has room to gain over the
first sample whatever the critic's own sampling rate of the right colour ends at (measured after its
`answers` stage: 0.006-0.59 by colour and seed; with one colour, 0.04 left best-of-8 no right sample to
pick on seed 0 and 0.6 left it no room over the first sample on seed 2).
"""

from __future__ import annotations

import random
from pathlib import Path

CONFUSED = {"green": "blue", "yellow": "red"}
CONFUSION_RATE = 0.8  # > 0.5: the wrong colour is the policy's favourite; < 1: the right one is still sampled


def confused_answer(answer: str, rng: random.Random) -> str:
    """`answer` with a confused colour replaced by its twin `CONFUSION_RATE` of the time."""
    words = answer.rstrip(".").split()
    if words and words[-1] in CONFUSED and rng.random() < CONFUSION_RATE:
        return " ".join([*words[:-1], CONFUSED[words[-1]]]) + "."
    return answer


def write_confused_policy_data(source: Path, out: Path, seed: int) -> dict[str, int]:
    """`sft-policy` rows (converted question -> answer messages) with the annotator's answers, as parquet."""
    from data_converters.io import load_any

    rng = random.Random(seed)
    swapped = 0

    def relabel(row: dict) -> dict:
        nonlocal swapped
        for message in row["messages"]:
            if message["role"] == "assistant":
                for part in message["content"]:
                    if part["type"] == "text":
                        new = confused_answer(part["text"], rng)
                        swapped += new != part["text"]
                        part["text"] = new
        return row

    rows = load_any(str(source)).map(relabel, load_from_cache_file=False)
    out.mkdir(parents=True, exist_ok=True)
    rows.to_parquet(str(out / "data.parquet"))
    return {"rows": len(rows), "answers_swapped": swapped}
