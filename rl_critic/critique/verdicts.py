"""Reading a critic's judgment: the one verdict reader every judge uses.

A critic may have been trained two ways, and writes what it was trained on:
- R1-style (`convert --task sft-r1`, GRPO with `critic`): `<think>...</think>\\boxed{1}`;
- LLaVA-Critic-style (`convert --task sft`): the annotator's rationale ending in a verdict layout of the
  113k data, e.g. `The better response: [first]`, `Response B is better`, `[[A>B]]`, a LLaVA-Bench score line
  `8 6`, or `Final Score: 85` for one response.

`read_verdict` and `read_score` read the box (or `<answer>` tag) when it holds a verdict, else every layout
the converters write as SFT targets, with the converters' own parsers (`data_converters.parsing`): a layout the
converter took a label from is a layout a judge reads. `best-of-n`, `eval critic`, `eval policy`,
`critic-dpo`, `make-pairs` and the `critic_judge` reward all read through here (`rl_critic.critique.judge`).

A judge reads more widely than the training reward: `critic` is the paper's reward (mathruler's grade of the
box), while a judge must understand any critic a user brings.
"""

from __future__ import annotations

from data_converters.parsing import (
    label_from_scores,
    parse_arena_verdict,
    parse_final_score,
    parse_pair_verdict,
    parse_two_scores,
)
from rewards.pointwise import parse_score
from rewards.preference import normalise_preference
from rewards.text import final_answer


def read_verdict(text: str) -> str | None:
    """`"1"`, `"2"` or `"tie"` from a pairwise judgment, else None.

    The boxed (or `<answer>`) verdict in any usual spelling; without one, the last `The better response: [..]`
    style verdict (or tie wording), a `[[A>B]]` verdict, or a first line of two scores (`8 6`: the higher wins)."""
    boxed = final_answer(text)
    verdict = normalise_preference(boxed) if boxed is not None else None
    if verdict is not None:
        return verdict
    verdict = parse_pair_verdict(text) or parse_arena_verdict(text)
    if verdict is not None:
        return verdict
    scores = parse_two_scores(text)
    return label_from_scores(*scores) if scores is not None else None


def read_score(text: str) -> float | None:
    """The score of a pointwise judgment: the boxed (or `<answer>`) number, else the last `Final Score: N`."""
    boxed = final_answer(text)
    score = parse_score(boxed) if boxed is not None else None
    if score is not None:
        return score
    final = parse_final_score(text)
    return float(final) if final is not None else None


def read_two_scores(text: str) -> tuple[float, float] | None:
    """Two scores for a pair (LLaVA-Bench style): from the box (`\\boxed{8 6}`), else the first line."""
    boxed = final_answer(text)
    scores = parse_two_scores(boxed) if boxed is not None else None
    return scores if scores is not None else parse_two_scores(text)
