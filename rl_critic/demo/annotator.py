"""The starting policy's teacher: an annotator who confuses two colours.

A policy trained on right answers only is either untrained (garbled samples) or perfect; neither leaves a
critic anything to fix. Real base policies have systematic, confident mistakes. The demo's starting policy
learns them from an annotator who names `CONFUSED` colours the other way most of the time, so it answers
in perfect sentences, samples both colours of a confused pair, and greedily picks the wrong one. The critic
learns from correct preference pairs; whether it can repair the policy is what the demo measures.
"""

from __future__ import annotations

import random
from pathlib import Path

CONFUSED = {"blue": "green", "green": "blue"}
CONFUSION_RATE = 0.7  # > 0.5: the wrong colour is the policy's favourite; < 1: the right one is still sampled


def confused_answer(answer: str, rng: random.Random) -> str:
    """`answer` with a confused colour swapped for its twin `CONFUSION_RATE` of the time."""
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
