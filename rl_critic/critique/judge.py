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

from data_converters.prompts import (
    PAIRWISE_INSTRUCTION,
    pairwise_prompt,
    pointwise_prompt,
    two_score_prompt,
    user_prompt,
    with_think_suffix,
)
from rl_critic.critique.judgments import PairJudgment, PairRequest, PairScores, ScoreJudgment, ScoreRequest
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
        self.progress: str | None = None  # set a description to show a progress bar while judging
        self.skip_too_long = False  # True: a prompt over the context is a `TooLong` judgment, not a failed run

    @property
    def model(self):
        """The in-process critic model (`hf` engine), else None: what GRPO puts in eval mode or on a device."""
        return self.engine.model if isinstance(self.engine, HFEngine) else None

    def _run(self, texts: list[str], media: list[Media]) -> list[tuple[str, int] | TooLong]:
        conversations = [user_prompt(text, len(shown.images), len(shown.videos)) for text, shown in zip(texts, media)]
        outputs = self.engine.generate_counted(
            conversations,
            media,
            self.settings,
            self.batch_size,
            progress=self.progress,
            skip_too_long=self.skip_too_long,
        )
        self.calls += len(texts)
        return [output if isinstance(output, TooLong) else output[0] for output in outputs]

    def compare(self, requests: list[PairRequest]) -> list[PairJudgment]:
        """One pairwise judgment per request, all in batched `generate` calls."""
        if not requests:
            return []
        texts = [
            r.prompt or with_think_suffix(pairwise_prompt(r.question, r.first, r.second, self.instruction))
            for r in requests
        ]
        results = self._run(texts, [r.media for r in requests])
        return [r if isinstance(r, TooLong) else PairJudgment(r[0], read_verdict(r[0]), r[1]) for r in results]

    def score_pairs(self, requests: list[PairRequest]) -> list[PairScores]:
        """Both responses scored 1-10 in one judgment (LLaVA-Bench style), batched; a request's own `prompt` (a
        benchmark's review layout) is asked as it is."""
        if not requests:
            return []
        texts = [r.prompt or with_think_suffix(two_score_prompt(r.question, r.first, r.second)) for r in requests]
        results = self._run(texts, [r.media for r in requests])
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
        results = self._run(texts, [r.media for r in requests])
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
