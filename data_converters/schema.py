"""The one record every source produces (`Judgment`) and the rows each task makes of it.

Sources only *read* (a judge prompt, a verdict, an image reference); everything that shapes training
data (order randomisation, label flipping, the R1 thinking suffix, which rows a task can use) happens
here, once, identically for every source.

Verifiable-target schema (tasks `grpo` and `eval`), one row per judgment:

| column | content |
|---|---|
| `id`, `source`, `group` | row id, converter source name, sub-source / benchmark category (`""` if none) |
| `task` | `pairwise` or `pointwise` |
| `prompt` | TRL conversational messages: one user turn, image part(s) then the judge text + R1 suffix |
| `image` / `images` | the image (or list, for multi-image sources), stored as the original bytes |
| `solution` | `"1"`, `"2"`, `"tie"`, or the score as a string (pointwise) |
| `scale` | pointwise score range (`"0-100"`, `"1-10"`, `"1-5"`), `""` for pairwise |
| `question`, `responses` | the question and the response(s) in the order shown in the prompt |
| `swapped` | True when the two responses were exchanged (and the label flipped) by the randomisation |
| `models` | the models that wrote `responses`, same order (`[]` when the source does not say) |
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from data_converters.columns import TASK_COLUMNS
from data_converters.parsing import PairPrompt, ParseError, parse_two_scores
from data_converters.placeholders import special_token_problem
from data_converters.prompts import assistant_turn, pairwise_prompt, pointwise_prompt, user_prompt, with_think_suffix
from data_converters.videos import SampledFrames

TASKS = tuple(TASK_COLUMNS)
FLIP = {"1": "2", "2": "1", "tie": "tie"}


@dataclass
class Judgment:
    """One judgment, as read from any source, before any task-specific shaping."""

    id: str
    source: str
    task: str  # "pairwise" | "pointwise"
    question: str
    responses: list[str]
    label: str  # "1" | "2" | "tie" | score
    images: list[dict[str, Any]]  # {"bytes": ..., "path": ...}, never decoded
    group: str = ""
    scale: str = ""  # pointwise only, e.g. "0-100"
    judge_prompt: PairPrompt | str | None = None  # the source's own judge prompt, when it has one
    rationale: str | None = None  # the annotator's full answer (LLaVA-Critic), for SFT
    models: list[str] = field(default_factory=list)  # the models that wrote the responses, when known
    video: SampledFrames | None = None  # the frames of the row's video, sampled as `convert` was told

    @property
    def num_videos(self) -> int:
        return 0 if self.video is None else 1

    def check(self) -> None:
        """Reject judgments that cannot make an honest training row."""
        if not self.question.strip():
            raise ParseError("empty question")
        expected = 2 if self.task == "pairwise" else 1
        if len(self.responses) != expected or not all(r.strip() for r in self.responses):
            raise ParseError("missing response")
        if self.task == "pairwise" and self.label not in FLIP:
            raise ParseError(f"unknown pairwise label {self.label!r}")
        if not self.images and self.video is None:
            raise ParseError("missing image (or video)")
        prompt = self.judge_prompt.text if isinstance(self.judge_prompt, PairPrompt) else self.judge_prompt
        problem = special_token_problem(self.question, *self.responses, self.rationale, prompt)
        if problem:
            raise ParseError(problem)


def swap_decision(seed: int | None, row_id: str) -> bool:
    """Whether to swap the responses of one row: a hash of (seed, id), so the decision does not depend
    on row order, batching or the number of processes. `seed=None` keeps the source's order (for data
    already in random order, whose position-naming rationales a swap would make false)."""
    if seed is None:
        return False
    digest = hashlib.sha256(f"{seed}\x00{row_id}".encode()).digest()
    return digest[0] & 1 == 1


def _without_assistant_cue(text: str) -> str:
    """Drop the `ASSISTANT:` cue LLaVA-style prompts end with; the R1 suffix follows instead."""
    stripped = text.rstrip()
    return stripped[: -len("ASSISTANT:")].rstrip() if stripped.endswith("ASSISTANT:") else stripped


def _judge_text(j: Judgment, swapped: bool) -> str:
    if j.task == "pointwise":
        if isinstance(j.judge_prompt, str):
            return _without_assistant_cue(j.judge_prompt)
        low, high = (int(x) for x in j.scale.split("-"))
        return pointwise_prompt(j.question, j.responses[0], low, high)
    if isinstance(j.judge_prompt, PairPrompt) and j.judge_prompt.style != "assistant":
        # Keep the source's own instruction and markers; only the two responses trade places.
        return _without_assistant_cue(j.judge_prompt.swapped() if swapped else j.judge_prompt.text)
    first, second = reversed(j.responses) if swapped else j.responses
    return pairwise_prompt(j.question, first, second)


def verifiable_row(j: Judgment, seed: int, keep_ties: bool) -> dict[str, Any]:
    """The GRPO / eval row: randomised order, flipped label, R1 suffix (see the module docstring)."""
    if j.label == "tie" and not keep_ties:
        raise ParseError("tie (dropped; --keep-ties keeps it)")
    swapped = j.task == "pairwise" and swap_decision(seed, j.id)
    responses = list(reversed(j.responses)) if swapped else list(j.responses)
    return {
        "id": j.id,
        "source": j.source,
        "group": j.group,
        "task": j.task,
        "prompt": user_prompt(with_think_suffix(_judge_text(j, swapped)), len(j.images), j.num_videos),
        "solution": FLIP[j.label] if swapped else j.label,
        "scale": j.scale,
        "question": j.question,
        "responses": responses,
        "swapped": swapped,
        "models": list(reversed(j.models)) if swapped else list(j.models),
    }


def sft_row(j: Judgment) -> dict[str, Any]:
    """LLaVA-Critic SFT: the original judge prompt as the user turn, the full rationale as the answer."""
    if j.rationale is None or j.judge_prompt is None:
        raise ParseError("no judge rationale (sft needs llava-critic data)")
    prompt_text = j.judge_prompt.text if isinstance(j.judge_prompt, PairPrompt) else j.judge_prompt
    messages = user_prompt(prompt_text, len(j.images), j.num_videos) + assistant_turn(j.rationale)
    return {"id": j.id, "source": j.source, "group": j.group, "task": j.task, "messages": messages}


def _reasoning(rationale: str) -> str:
    """The rationale without its closing verdict (`... The better response: [first]`), which the box replaces."""
    cut = rationale.lower().rfind("the better response")
    return (rationale[:cut] if cut > 0 else rationale).strip()


_POSITION_WORDS = re.compile(r"\b(?:first|second|(?:response|assistant|answer|output)\s?[12ab])\b", re.I)


def sft_r1_row(j: Judgment, seed: int) -> dict[str, Any]:
    """A warm start in the R1 format: the verifiable prompt (R1 suffix, order randomised like `grpo`) answered
    with `<think>reasoning</think>\\boxed{label}`, so a model learns the format GRPO then rewards.

    The reasoning is the annotator's rationale without its verdict. When the order was swapped it is kept
    only if it names no position ("the first response ...", "Response A ...", LLaVA-Bench's "8 6" score
    line), which the swap would make false; otherwise the model thinks a position-free sentence."""
    if j.rationale is None:
        raise ParseError("no judge rationale (sft-r1 needs llava-critic data)")
    row = verifiable_row(j, seed, keep_ties=True)
    label = row["solution"]
    if j.task == "pointwise":
        thought = _reasoning(j.rationale)
    elif row["swapped"] and (_POSITION_WORDS.search(_reasoning(j.rationale)) or parse_two_scores(j.rationale)):
        thought = (
            "Both responses are equally good." if label == "tie" else "Comparing the two responses with the image."
        )
    else:
        thought = _reasoning(j.rationale)
    answer = f"<think>{thought}</think>\\boxed{{{label}}}"
    messages = row["prompt"] + assistant_turn(answer)
    return {"id": j.id, "source": j.source, "group": j.group, "task": j.task, "messages": messages}


def dpo_row(j: Judgment) -> dict[str, Any]:
    """Policy DPO: the question as prompt, the preferred response as chosen, the other as rejected."""
    if j.task != "pairwise":
        raise ParseError("pointwise row (no response pair for dpo)")
    if j.label == "tie":
        raise ParseError("tie (no preferred response for dpo)")
    chosen, rejected = j.responses if j.label == "1" else reversed(j.responses)
    pair = preference(j.question, len(j.images), chosen, rejected, j.num_videos)
    return {"id": j.id, "source": j.source, "group": j.group, **pair}


def preference(question: str, num_images: int, chosen: str, rejected: str, num_videos: int = 0) -> dict[str, Any]:
    """A DPO pair: the question as the prompt, two assistant answers. Shared by `dpo` rows and the pairs
    critic-DPO makes of a round's best and worst candidates."""
    return {
        "prompt": user_prompt(question, num_images, num_videos),
        "chosen": assistant_turn(chosen),
        "rejected": assistant_turn(rejected),
    }


def policy_prompt_row(question: str, num_images: int, answer: Any = None, num_videos: int = 0) -> dict[str, Any]:
    """A GRPO row for a *policy* from a question (the question files `best-of-n` reads): the question as
    the prompt, its reference answer (if any) as `solution`, so a critic reward can report how often its
    favourite is right. `solution` holds one text: of a list of acceptable answers, the first."""
    if isinstance(answer, list):
        answer = answer[0] if answer else None
    return {"prompt": user_prompt(question, num_images, num_videos), "solution": "" if answer is None else str(answer)}


def policy_prompt_from_messages(messages: list[dict[str, Any]]) -> dict[str, Any]:
    """`sft-policy` `messages` (question turn, answer turn) -> the GRPO `prompt` and reference `solution`."""
    answer = messages[-1]
    parts = answer["content"] if isinstance(answer["content"], list) else [{"text": answer["content"]}]
    return {"prompt": messages[:-1], "solution": "".join(part.get("text") or "" for part in parts)}


def sft_policy_row(j: Judgment) -> dict[str, Any]:
    """Policy SFT: the question answered with the preferred response (the `chosen` side of `dpo`, as
    `messages`), so a model that starts from nothing can also *answer* the questions it learns to judge:
    self-critique needs a policy. Same columns as `sft` / `sft-r1`, so the datasets can be mixed."""
    row = dpo_row(j)
    return {
        "id": j.id,
        "source": j.source,
        "group": j.group,
        "task": "policy",
        "messages": row["prompt"] + row["chosen"],
    }


def task_row(j: Judgment, task: str, seed: int, keep_ties: bool) -> dict[str, Any]:
    """Dispatch one judgment to the row of `task` (raises `ParseError` with the rejection reason)."""
    j.check()
    if task == "grpo":
        return verifiable_row(j, seed, keep_ties)
    if task == "eval":
        return verifiable_row(j, seed, keep_ties=True)
    if task == "sft":
        return sft_row(j)
    if task == "sft-r1":
        return sft_r1_row(j, seed)
    if task == "sft-policy":
        return sft_policy_row(j)
    if task == "dpo":
        return dpo_row(j)
    raise ValueError(f"unknown task {task!r}; expected one of {', '.join(TASKS)}")
