"""The judge: a critic model compares or scores responses, many judgments per engine call.

Self-critique best-of-N, critic-reward DPO and evaluation all ask a critic the same two questions:
"which of these two responses is better?" and "how good is this response?". The prompts are the ones
the critic was trained on (`data_converters.prompts`: LLaVA-Critic's layout plus the R1 thinking suffix), and
verdicts are read by `rl_critic.critique.verdicts` (the box in any usual spelling, else every verdict layout the
converters write as SFT targets), so an R1 critic and a LLaVA-Critic-style SFT critic both give verdicts.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable

from data_converters.prompts import (
    PAIRWISE_INSTRUCTION,
    pairwise_prompt,
    pointwise_prompt,
    two_score_prompt,
    user_prompt,
    with_think_suffix,
)
from rl_critic.critique.judgments import PairJudgment, PairRequest, PairScores, ScoreJudgment, ScoreRequest
from rl_critic.critique.readability import Readability
from rl_critic.critique.verdicts import read_score, read_two_scores, read_verdict
from rl_critic.generation.engines import Engine
from rl_critic.generation.hf import HFEngine
from rl_critic.generation.prompts import TooLong
from rl_critic.generation.settings import SamplingSettings
from rl_critic.models.media import Media


class Judge:
    """A critic behind an engine (`rl_critic.generation.engines`: in-process `generate`, vLLM, or a server) with
    its decoding settings; judgments go to the engine in batches."""

    def __init__(
        self,
        engine: Engine | None,
        settings: SamplingSettings | None = None,
        batch_size: int = 8,
        score_range: tuple[int, int] = (1, 10),
        instruction: str = PAIRWISE_INSTRUCTION,
    ) -> None:
        self.engine = engine
        self.instruction = instruction  # pairwise instruction of the default layout: ask as the critic was trained
        self.settings = settings or SamplingSettings(max_new_tokens=512)
        self.batch_size = batch_size
        self.score_range = score_range
        self.calls = 0  # judgments made, for reports
        self.skip_too_long = False  # True: a prompt over the context is a `TooLong` judgment, not a failed run
        self.readability = Readability(self.settings.max_new_tokens)  # verdicts read so far (`readability.py`)
        self.unreadable_ok = False  # True: go on when the first batch reads no verdict (else `UnreadableVerdicts`)
        self.unreadable_option = "--critic_unreadable_ok true"  # how the command says so, for the stop's advice
        self.on_batch: Callable[[int], None] | None = None  # called with each batch's size: progress per batch

    @property
    def model(self):
        """The in-process critic model (`hf` engine), else None: what GRPO puts in eval mode or on a device."""
        return self.engine.model if isinstance(self.engine, HFEngine) else None

    def _run(
        self, texts: list[str], media: list[Media], readable: Callable[[str], bool]
    ) -> list[tuple[str, int] | TooLong]:
        """Generate the judgments a batch at a time: each batch's verdicts are counted (`readable`), the progress
        moves (`on_batch`), and the run stops after the judge's first batch when none of it could be read. The
        in-process engine is handed one batch at a time anyway; vLLM and a server get the judge's first batch,
        then everything else in one call (they schedule their own batches)."""
        conversations = [user_prompt(text, len(shown.images), len(shown.videos)) for text, shown in zip(texts, media)]
        outputs: list[tuple[str, int] | TooLong] = []
        start = 0
        while start < len(texts):
            whole_rest = self.readability.batches > 0 and not isinstance(self.engine, HFEngine)
            end = len(texts) if whole_rest else min(start + self.batch_size, len(texts))
            batch = self.engine.generate_counted(
                conversations[start:end],
                media[start:end],
                self.settings,
                self.batch_size,
                skip_too_long=self.skip_too_long,
            )
            batch = [output if isinstance(output, TooLong) else output[0] for output in batch]
            judged = [output for output in batch if not isinstance(output, TooLong)]
            self.readability.add([readable(raw) for raw, _ in judged], [tokens for _, tokens in judged])
            self.calls += end - start
            outputs.extend(batch)
            if self.on_batch is not None:
                self.on_batch(end - start)
            self.readability.check_first_batch(self.unreadable_ok, self.unreadable_option)
            start = end
        return outputs

    def compare(self, requests: list[PairRequest]) -> list[PairJudgment]:
        """One pairwise judgment per request, all in batched `generate` calls."""
        if not requests:
            return []
        texts = [
            r.prompt or with_think_suffix(pairwise_prompt(r.question, r.first, r.second, self.instruction))
            for r in requests
        ]
        results = self._run(texts, [r.media for r in requests], lambda raw: read_verdict(raw) is not None)
        return [r if isinstance(r, TooLong) else PairJudgment(r[0], read_verdict(r[0]), r[1]) for r in results]

    def score_pairs(self, requests: list[PairRequest]) -> list[PairScores]:
        """Both responses scored 1-10 in one judgment (LLaVA-Bench style), batched; a request's own `prompt` (a
        benchmark's review layout) is asked as it is."""
        if not requests:
            return []
        texts = [r.prompt or with_think_suffix(two_score_prompt(r.question, r.first, r.second)) for r in requests]
        results = self._run(texts, [r.media for r in requests], lambda raw: read_two_scores(raw) is not None)
        return [r if isinstance(r, TooLong) else PairScores(r[0], read_two_scores(r[0]), r[1]) for r in results]

    def score(self, requests: list[ScoreRequest]) -> list[ScoreJudgment]:
        """One pointwise score per request (in `score_range`), all in batched `generate` calls."""
        if not requests:
            return []
        scales = [r.scale or self.score_range for r in requests]
        texts = [
            r.prompt or with_think_suffix(pointwise_prompt(r.question, r.response, *scale))
            for r, scale in zip(requests, scales)
        ]
        results = self._run(texts, [r.media for r in requests], lambda raw: read_score(raw) is not None)
        judgments = []
        for result, (low, high) in zip(results, scales):
            if isinstance(result, TooLong):
                judgments.append(result)
                continue
            raw, tokens = result
            value = read_score(raw)
            judgments.append(ScoreJudgment(raw, value if value is not None and low <= value <= high else None, tokens))
        return judgments


class RandomJudge:
    """The control judge: a coin flip per pair, no model, no image. Whatever a policy gains from it is what
    *any* preference signal gives (more training on its own samples); a critic's effect is what it adds
    on top. `--critic_class rl_critic.critique.judge.RandomJudge`; the seed comes from
    `RL_CRITIC_RANDOM_JUDGE_SEED` (default 0), so a control run is repeatable."""

    def __init__(self, seed: int | None = None) -> None:
        self.rng = random.Random(int(os.environ.get("RL_CRITIC_RANDOM_JUDGE_SEED", "0")) if seed is None else seed)
        self.calls = 0

    def compare(self, requests: list[PairRequest]) -> list[PairJudgment]:
        self.calls += len(requests)
        verdicts = [self.rng.choice(("1", "2")) for _ in requests]
        return [PairJudgment(f"random verdict: \\boxed{{{verdict}}}", verdict, 0) for verdict in verdicts]
