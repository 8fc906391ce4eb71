"""Critic data from a policy's own answers: questions + reference answers + a model -> 113k pairwise rows.

A critic trained only on curated response pairs has never read what a policy actually writes (cut-off
sentences, repeated words, near-misses), and at test time it is asked about exactly that: judging the
samples of best-of-N, critic-DPO and the critic reward. Here a policy samples N answers per question,
each is labelled right or wrong against the reference answer (the policy accuracy reward's own check,
`rewards.accuracy.answer_accuracy`), and every (right, wrong) pair becomes a row of the LLaVA-Critic-113k
pairwise schema in its real layouts (`data_converters.layouts`), with a rationale that checks each
answer against the reference. Convert it like the real data: `rl-critic convert --source
llava-critic-pairwise --task sft-r1|grpo|eval ...`.
"""

from __future__ import annotations

import io
import random
from collections import Counter
from collections.abc import Iterator
from typing import Any

from data_converters.layouts import PAIR_STYLES, judge_row
from data_converters.videos import SampledFrames
from rewards.accuracy import answer_accuracy
from rl_critic.critique.questions import Question, Row, load_question
from rl_critic.generation.prompts import TooLong
from rl_critic.generation.settings import SamplingSettings
from rl_critic.models.media import MediaBudget

GROUP = "model-answers"


def _png(image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def sample_answers(
    rows: list[Row],
    engine,
    sampling: SamplingSettings,
    batch_size: int,
    chunk: int,
    seed: int,
    done: int = 0,
) -> Iterator[dict[str, Any]]:
    """One record per question row from `rows[done:]`: its sampled answers (`candidates`), or why it has none
    (`error`: an unusable row, a prompt over the model's context). Sampling restarts from `seed + chunk index`
    at every chunk of `chunk` rows, so a run resumed after `done` rows (whole chunks) samples what an
    uninterrupted one would."""
    from tqdm import tqdm
    from transformers import set_seed

    from rl_critic.critique.pipeline import sample_candidates

    with tqdm(
        total=len(rows), initial=done, desc=f"make-pairs: {sampling.num_return_sequences} answers a question"
    ) as bar:
        for offset in range(done, len(rows), chunk):
            set_seed(seed + offset // chunk)
            # Images at the stored size, as they go into the rows (the trainer bounds them later).
            questions = [load_question(row, MediaBudget()) for row in rows[offset : offset + chunk]]
            usable = [q for q in questions if q.problem is not None]
            sampled = iter(
                sample_candidates(engine, [q.problem for q in usable], sampling, batch_size, skip_too_long=True)
            )
            for question in questions:
                if question.problem is None:
                    yield {"id": question.id, "error": "unusable question", "reason": question.error}
                    continue
                result = next(sampled)
                if isinstance(result, TooLong):
                    error = result.reason or f"prompt over {result.positions:,} positions - max_new_tokens"
                    yield {"id": question.id, "error": error}
                    continue
                yield {"id": question.id, "candidates": question.problem.candidates}
            bar.update(len(questions))


def question_pairs(
    question: Question,
    pairs_per_question: int,
    rng: random.Random,
    layout: str = "mixed",
    counts: Counter | None = None,
) -> list[dict[str, Any]]:
    """The 113k rows of one sampled question (`problem.candidates` filled): up to `pairs_per_question`
    pairs of a right and a distinct wrong answer, in random order, layout and instruction. With no right
    sample the reference answer stands in as the right response. `counts` tallies right and wrong samples
    and why questions give no pair."""
    counts = counts if counts is not None else Counter()
    problem, references = question.problem, question.answer  # a `Reference`: a text or a list of them
    reference = references[0] if isinstance(references, list) else references
    if not reference:
        counts["no reference answer"] += 1
        return []
    if problem.media.videos and (problem.images or len(problem.media.videos) > 1):
        counts["a video beside other pictures or videos (a 113k row shows one)"] += 1
        return []
    if not problem.media.videos and len(problem.images) != 1:
        counts["not exactly one image (the 113k schema has one)"] += 1
        return []
    right, wrong = [], []
    for candidate in problem.candidates:
        text = candidate.strip()
        ok = answer_accuracy(text, references) == 1.0
        counts["samples right" if ok else "samples wrong"] += 1
        target = right if ok else wrong
        if text and text not in target:
            target.append(text)
    if not wrong:
        counts["every sample right"] += 1
        return []
    if not right:
        counts["no sample right: the reference answer is the right response"] += 1
        right = [reference]
    counts["questions with pairs"] += 1
    if problem.media.videos:  # the frames the question showed, and their rate
        video = problem.media.videos[0]
        shown = SampledFrames.of_pictures(video.frames, video.fps)
    else:
        shown = _png(problem.images[0])
    rows = []
    for k, bad in enumerate(rng.sample(wrong, min(pairs_per_question, len(wrong)))):
        good = rng.choice(right)
        better = rng.choice(("1", "2"))
        responses = [good, bad] if better == "1" else [bad, good]
        style = rng.randrange(len(PAIR_STYLES))
        rows.append(
            judge_row(
                f"{question.id}-pair-{k}",
                GROUP,
                shown,
                problem.question,
                responses,
                better,
                reference,
                rng,
                style,
                layout,
            )
        )
    return rows
