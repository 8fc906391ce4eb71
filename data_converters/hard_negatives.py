"""Hard negatives: pairs whose worse response is a content-free "master key" or a cut-off answer.

A generative judge can be fooled by answers such as ":", "Thought process:" or "Let's solve this problem step by
step." ("One Token to Fool LLM-as-a-Judge", arXiv 2507.08794, whose remedy is training on such pairs), and a
critic that rewards a truncated answer teaches a policy to stop early. `convert --hard_negatives RATE` adds, for
a RATE share of the decided pairs, one more pair: the same image and question, the better response kept, the
worse one replaced by a master key or by the better response cut in half, labelled for the better response.
Which rows get one, and of which kind, is a hash of (seed, row id): the same on any machine and any batching.
The same keys are what `eval critic --probes master_key` tries (`rl_critic.evaluation.probes`).
"""

from __future__ import annotations

import hashlib
from dataclasses import replace

from data_converters.prompts import pairwise_prompt
from data_converters.schema import Judgment

# Answers that carry no content but fool judges (arXiv 2507.08794), by name; an empty answer is probed too
# (`probes.py`) but cannot be a training response (every response of a row must have text).
MASTER_KEYS = {
    "colon": ":",
    "period": ".",
    "thought_process": "Thought process:",
    "step_by_step": "Let's solve this problem step by step.",
    "solution": "Solution",
    "jie": "解",
}
QUESTION_REPEATED = "question_repeated"  # the question given back as its own answer
KINDS = (*MASTER_KEYS, QUESTION_REPEATED, "truncated")


def _draw(seed: int | None, row_id: str) -> tuple[float, int]:
    """(a number in [0, 1) deciding whether the row gets a hard negative, an index choosing its kind)."""
    digest = hashlib.sha256(f"{seed}\x00hard-negative\x00{row_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64, int.from_bytes(digest[8:12], "big")


def truncated(text: str) -> str:
    """The first half of `text`'s words (at least one), cut mid-answer."""
    words = text.split()
    return " ".join(words[: max(1, len(words) // 2)])


def hard_negative(j: Judgment, rate: float, seed: int | None) -> Judgment | None:
    """The hard-negative twin of a decided pair (None when the draw says no, or the pair is a tie or a score).

    The better response stays where it was; the worse becomes the key; the label still names the better one.
    The source's own judge prompt is replaced by the default layout, the prompt every judging command asks in
    (best-of-n, critic_judge, the probes), and the rationale, for `sft`, says why in that layout (`The better
    response: [N]`). Measured on the demo's critic (seed 0, its warm start only, master-key win rate on held-out
    pairs): no hard negatives 0.172, 10% in the default layout 0.036, 10% kept in each source row's own layout
    0.446 (it never saw a key in the prompt it is asked in)."""
    if rate <= 0 or j.task != "pairwise" or j.label not in ("1", "2"):
        return None
    chance, pick = _draw(seed, j.id)
    if chance >= rate:
        return None
    kind = KINDS[pick % len(KINDS)]
    better_slot = 0 if j.label == "1" else 1
    better = j.responses[better_slot]
    if kind == "truncated":
        worse = truncated(better)
        if worse == better.strip():  # a one-word answer cannot be cut: a key instead
            kind, worse = "thought_process", MASTER_KEYS["thought_process"]
    elif kind == QUESTION_REPEATED:
        worse = j.question
    else:
        worse = MASTER_KEYS[kind]
    responses = [better, worse] if better_slot == 0 else [worse, better]
    why = "stops half-way through its answer" if kind == "truncated" else "does not answer the question"
    rationale = (
        f"Response {2 - better_slot} {why}, while Response {better_slot + 1} does.\n"
        f"The better response: [{better_slot + 1}]"
    )
    return replace(
        j,
        id=f"{j.id}#hard-{kind}",
        responses=responses,
        judge_prompt=pairwise_prompt(j.question, responses[0], responses[1]),
        rationale=rationale,
        models=[],
    )
