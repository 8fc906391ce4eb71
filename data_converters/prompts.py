"""The judge prompts every part of the toolkit shares: converters, training, self-critique, evaluation.

One place, so a model trained on converted data is asked the same way at test time. The R1 thinking
suffix is the exact sentence of LLaVA-Critic-R1; the default instructions follow LLaVA-Critic's
general-purpose pairwise template (used when a source has no judge prompt of its own, e.g. benchmarks).
"""

from __future__ import annotations

from typing import Any

R1_THINK_SUFFIX = (
    "You FIRST think about the reasoning process as an internal monologue and then provide the final "
    "answer. The reasoning process MUST BE enclosed within <think> </think> tags. The final answer MUST "
    "BE put in \\boxed{}."
)

PAIRWISE_INSTRUCTION = (
    "Given an image and a corresponding question, please serve as an unbiased and fair judge to evaluate "
    "the quality of the answers provided by a Large Multimodal Model (LMM). Determine which answer is "
    "better and explain your reasoning with specific details. Your task is provided as follows:"
)

POINTWISE_INSTRUCTION = (
    "Given an image and a corresponding question, please serve as an unbiased and fair judge to evaluate "
    "the quality of the answer provided by a Large Multimodal Model (LMM). Rate the answer with a score "
    "from {low} to {high}, where a higher score means a better answer. Your task is provided as follows:"
)


def pairwise_prompt(question: str, first: str, second: str, instruction: str = PAIRWISE_INSTRUCTION) -> str:
    """Question and two responses in LLaVA-Critic's bracketed layout, labelled 1 and 2."""
    return f"{instruction}\nQuestion: [{question}]\nResponse 1: [{first}]\nResponse 2: [{second}]"


TWO_SCORE_INSTRUCTION = (
    "Given an image and a corresponding question, please serve as an unbiased and fair judge and rate the two "
    "answers provided by a Large Multimodal Model (LMM) on a scale of 1 to 10, where a higher score means a "
    "better answer. Give the two scores, for Response 1 and Response 2, separated by a space. Your task is "
    "provided as follows:"
)


def two_score_prompt(question: str, first: str, second: str) -> str:
    """LLaVA-Bench style: score both responses (1-10); used for score-based relative rewards."""
    return pairwise_prompt(question, first, second, instruction=TWO_SCORE_INSTRUCTION)


def pointwise_prompt(question: str, response: str, low: int, high: int) -> str:
    """Question and one response, asking for a score in [low, high]."""
    instruction = POINTWISE_INSTRUCTION.format(low=low, high=high)
    return f"{instruction}\nQuestion: [{question}]\nThe response: [{response}]"


def with_think_suffix(prompt: str) -> str:
    """Append the R1 instruction to think in <think> tags and box the final answer."""
    return f"{prompt.rstrip()}\n{R1_THINK_SUFFIX}"


def user_prompt(text: str, num_images: int = 0, num_videos: int = 0) -> list[dict[str, Any]]:
    """A TRL conversational prompt: one user turn, image then video placeholder(s) first (as LLaVA-Critic's
    `<image>\\n` prompts do), then the text. Media parts carry `"text": None` so every part has the same keys
    (Arrow needs one struct type per column)."""
    content: list[dict[str, Any]] = [{"type": "image", "text": None} for _ in range(num_images)]
    content += [{"type": "video", "text": None} for _ in range(num_videos)]
    content.append({"type": "text", "text": text})
    return [{"role": "user", "content": content}]


def assistant_turn(text: str) -> list[dict[str, Any]]:
    """The answer side of a conversation (an SFT target, a DPO `chosen` / `rejected`): one assistant turn."""
    return [{"role": "assistant", "content": [{"type": "text", "text": text}]}]
