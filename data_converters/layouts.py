"""The LLaVA-Critic-113k pairwise judge layouts, and judge rows written in them.

The real 113k data asks for a pairwise judgment with ~30 instructions and three spellings of the two
response markers (`The first/second response`, `Response 1/2`, `Response A/B`), each with its verdict word.
Every writer of critic data in the 113k schema (synthetic scenes, pairs built from a policy's own answers)
uses the same ones, so a critic trained on them reads the prompts real data and every judging command
(`data_converters.prompts.PAIRWISE_INSTRUCTION`, the first instruction below, with `Response 1/2`) use.
"""

from __future__ import annotations

import random
from typing import Any

from data_converters.columns import VIDEO_COLUMN, VIDEO_FPS_COLUMN, video_features
from data_converters.prompts import PAIRWISE_INSTRUCTION
from data_converters.videos import SampledFrames

PAIR_INSTRUCTIONS = [
    PAIRWISE_INSTRUCTION,
    "As an expert, you are asked to evaluate two responses to the given image-based question. Provide a "
    "professional assessment of responses and decide which one is better. Here are the question and "
    "responses:",
    "You will be given an image and a corresponding question. Your task is to evaluate the responses "
    "provided, select the better response, and give reasons for your choice.",
]
# The `short` layout: one brief instruction and one marker style (a smaller prompt for a tiny model; a
# critic trained on it must be asked with `--judge-instruction SHORT_INSTRUCTION`).
SHORT_INSTRUCTION = "Which response answers the question about the image correctly?"
LAYOUTS = ("mixed", "short")
# (first marker, second marker, verdict for the first, verdict for the second)
PAIR_STYLES = [
    ("The first response", "The second response", "first", "second"),
    ("Response 1", "Response 2", "1", "2"),
    ("Response A", "Response B", "A", "B"),
]


def claim(response: str, other: str) -> str:
    """What `response` claims that `other` does not: the words after their common prefix ("blue", or
    "circle is blue" against "The square is blue."). Quoting only the difference keeps the rationale from
    repeating the fact sentence word for word, where a small model copies the fact instead of the response
    (measured: with whole quoted answers the critic wrote the image's colour for both responses)."""
    words, other_words = response.rstrip(".").split(), other.rstrip(".").split()
    same = 0
    while same < min(len(words), len(other_words)) - 1 and words[same] == other_words[same]:
        same += 1
    return " ".join(words[same:]) or response


def fact_sentence(reference: str) -> str:
    """The opening step of a rationale: what the image shows, from the reference answer. A sentence
    ("The circle is red.") reads as a fact; a short answer ("red", "3") is stated as the answer."""
    text = reference.strip()
    if text.endswith(".") and len(text.split()) >= 3:
        return f"The image shows that {text[0].lower() + text[1:-1]}."
    return f"The correct answer is {text}."


def pair_reasoning(reference: str, responses: list[str], right: list[bool], markers: tuple[str, str]) -> str:
    """A step-by-step rationale: the fact in the image, then each response's claim checked against it.

    Short steps are what a small model can learn to chain (read the image, copy each claim, compare);
    a single "the image shows X" sentence leaves the matching of X to a response position implicit."""
    steps = [fact_sentence(reference)]
    for marker, response, other, ok in zip(markers, responses, reversed(responses), right):
        steps.append(f"{marker} says {claim(response, other)}, which is {'right' if ok else 'wrong'}.")
    return " ".join(steps)


def judge_row(
    row_id: str,
    group: str,
    shown: bytes | SampledFrames,
    question: str,
    responses: list[str],
    better: str,
    reference: str,
    rng: random.Random,
    style: int,
    layout: str = "mixed",
) -> dict[str, Any]:
    """One pairwise 113k row: `responses[0]` / `responses[1]` judged against `reference`, `better` the
    right one (`1`/`2`, or `tie` for two right answers), in marker `style` and an instruction drawn by `rng`.
    `shown`: the picture's PNG bytes, or a video's frames (the row then shows a `video`, its turn says `<video>`)."""
    first_marker, second_marker, first_verdict, second_verdict = PAIR_STYLES[1 if layout == "short" else style]
    if better == "tie":
        reason = "Both responses are equally good."
    else:
        rationale = pair_reasoning(reference, responses, [better == "1", better == "2"], (first_marker, second_marker))
        reason = f"{rationale} The better response: [{first_verdict if better == '1' else second_verdict}]"
    instruction = SHORT_INSTRUCTION if layout == "short" else rng.choice(PAIR_INSTRUCTIONS)
    human = (
        f"{'<video>' if isinstance(shown, SampledFrames) else '<image>'}\n{instruction}\nQuestion: [{question}]\n"
        f"{first_marker}: [{responses[0]}]\n{second_marker}: [{responses[1]}]\nASSISTANT:\n"
    )
    return raw_row(row_id, group, human, reason, shown)


def raw_row(row_id: str, group: str, human: str, gpt: str, shown: bytes | SampledFrames) -> dict[str, Any]:
    """One row in the 113k schema: the judge prompt (human turn), the judgment (gpt turn), the PNG; or for a
    video, no picture and the video's frames and rate (`features(video=True)`)."""
    row = {
        "id": row_id,
        "source": group,
        "conversations": [{"from": "human", "value": human}, {"from": "gpt", "value": gpt}],
    }
    if isinstance(shown, SampledFrames):
        return {**row, "image": None, VIDEO_COLUMN: shown.frames, VIDEO_FPS_COLUMN: shown.fps}
    return {**row, "image": {"bytes": shown, "path": f"{row_id}.png"}}


def features(video: bool = False):
    """The llava-critic-113k columns as `datasets.Features` (with `video`: the video columns too)."""
    from datasets import Features, Image, List, Value

    turn = {"from": Value("string"), "value": Value("string")}
    columns = {"id": Value("string"), "source": Value("string"), "conversations": List(turn), "image": Image()}
    return Features(columns | (video_features() if video else {}))
