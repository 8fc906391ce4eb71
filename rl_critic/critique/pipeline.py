"""The one sample -> judge layer: questions in, sampled candidates judged by a critic, one record each out.

Self-critique best-of-N (`rl-critic best-of-n`), policy evaluation (`rl-critic eval policy`) and critic-DPO
(`rl-critic train critic-dpo`) all do the same four things: read questions (unusable rows kept with
their error), sample N candidates per question in batches, build a judge (`critique.critic`), and run a
selection strategy. They do it here, once.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from data_converters.prompts import user_prompt
from rl_critic.critique.critic import CriticArguments, build_judge
from rl_critic.critique.journal import Journal
from rl_critic.critique.judge import Judge
from rl_critic.critique.problem import Problem
from rl_critic.critique.questions import Question, Row, load_question
from rl_critic.critique.strategies import JUDGED_STRATEGIES, select
from rl_critic.generation.engines import Engine, load_engine
from rl_critic.generation.prompts import TooLong
from rl_critic.generation.settings import SamplingSettings, policy_engine_settings
from rl_critic.models.media import MediaBudget


def sample_candidates(
    engine: Engine, problems: list[Problem], settings: SamplingSettings, batch_size: int, skip_too_long: bool = False
) -> list[int | TooLong]:
    """Fill every problem's `candidates` (`settings.num_return_sequences` each, batched generation);
    returns the tokens generated per problem (with `skip_too_long`, a `TooLong` for a prompt over the context,
    whose candidates stay empty)."""
    conversations = [user_prompt(p.question, len(p.media.images), len(p.media.videos)) for p in problems]
    outputs = engine.generate_counted(
        conversations, [p.media for p in problems], settings, batch_size, skip_too_long=skip_too_long
    )
    tokens: list[int | TooLong] = []
    for problem, sampled in zip(problems, outputs):
        if isinstance(sampled, TooLong):
            tokens.append(sampled)
            continue
        problem.candidates = [text for text, _ in sampled]
        tokens.append(sum(count for _, count in sampled))
    return tokens


@dataclass
class BestOfN:
    """Sample N answers per question with the `policy` engine, let `judge` pick one by `strategy`."""

    policy: Engine
    judge: Any  # a Judge, a judge-like object (`critic_class`), or None for `first` / `majority`
    sampling: SamplingSettings
    strategy: str = "knockout"
    both_orders: bool = False  # knockout: each pair in both orders
    relative: str = "preference"  # round_robin: a_ij from verdicts or from two scores
    batch_size: int = 8

    def __post_init__(self) -> None:
        if self.judge is None and self.strategy in JUDGED_STRATEGIES and self.sampling.num_return_sequences > 1:
            raise ValueError(f"strategy {self.strategy!r} needs a judge")
        if isinstance(self.judge, Judge):  # a question whose judge prompt is over-long fails alone, not the run
            self.judge.skip_too_long = True

    def run(self, questions: list[Question]) -> list[dict[str, Any]]:
        """One record per question, in input order; an unusable question's record holds its `errors`."""
        usable = [q for q in questions if q.problem is not None]
        sampled = sample_candidates(
            self.policy, [q.problem for q in usable], self.sampling, self.batch_size, skip_too_long=True
        )
        for question, result in zip(usable, sampled):  # an over-long question becomes an `errors` record
            if isinstance(result, TooLong):
                question.problem, question.error = None, str(result)
        tokens = [result for result in sampled if not isinstance(result, TooLong)]
        problems = [q.problem for q in questions if q.problem is not None]
        strategy = self.strategy if self.sampling.num_return_sequences > 1 else "first"
        selections = iter(zip(tokens, select(strategy, problems, self.judge, self.both_orders, self.relative)))
        records = []
        for question in questions:
            if question.problem is None:
                records.append({"id": question.id, "errors": [question.error]})
                continue
            sampled_tokens, selection = next(selections)
            problem = question.problem
            if selection.too_long:  # its candidates cannot be compared: an unusable question, with its answers
                records.append(
                    {"id": question.id, "errors": [f"judge {selection.too_long}"], "candidates": problem.candidates}
                )
                continue
            record = {
                "id": question.id,
                "question": problem.question,
                "candidates": problem.candidates,
                "judgments": selection.judgments,
                "pick": selection.pick,
                "picked": problem.candidates[selection.pick],
                "answer": question.answer,
                "num_judgments": len(selection.judgments),
                "generated_tokens": sampled_tokens + selection.judge_tokens,
            }
            if selection.scores:
                record["scores"] = selection.scores
            records.append(record)
        return records

    def over(
        self,
        rows: list[Row],
        chunk: int,
        budget: MediaBudget,
        progress: str | None = None,
        seed: int | None = None,
        done: int = 0,
    ) -> Iterator[dict[str, Any]]:
        """`run` over `rows[done:]`, `chunk` questions at a time (images loaded per chunk), with progress.

        With `seed`, sampling restarts from `seed + chunk index` at every chunk, so a run resumed after `done`
        rows (a multiple of `chunk`) samples exactly what the uninterrupted run would have."""
        from tqdm import tqdm
        from transformers import set_seed

        with tqdm(total=len(rows), initial=done, desc=progress, disable=progress is None) as bar:
            for offset in range(done, len(rows), chunk):
                if seed is not None:
                    set_seed(seed + offset // chunk)
                questions = [load_question(row, budget) for row in rows[offset : offset + chunk]]
                yield from self.run(questions)
                bar.update(len(questions))


def answer_all(
    rows: list[Row],
    journal: Journal,
    model_args,
    critic_args: CriticArguments,
    sampling: SamplingSettings,
    strategy: str,
    chunk: int,
    seed: int,
    progress: str,
    both_orders: bool = False,
    batch_size: int = 8,
) -> tuple[list[dict[str, Any]], Any]:
    """What `best-of-n` and `eval policy` share: load the policy (and the critic, when the strategy judges
    more than one sample), then every row's record, each kept in `journal` as it finishes; a killed run's
    records are taken up again (whole chunks, so the resumed run samples what an uninterrupted one would).
    Returns the records and the judge (None when nothing was judged), whose verdicts the command reports on."""
    budget = MediaBudget.of(model_args)  # a budget that cannot work is refused before the model loads
    policy = load_engine(policy_engine_settings(model_args), model_args)
    judged = sampling.num_return_sequences > 1 and strategy in JUDGED_STRATEGIES
    judge = build_judge(critic_args, model_args, batch_size, policy) if judged else None
    best_of_n = BestOfN(policy, judge, sampling, strategy, both_orders, batch_size=batch_size)
    records = journal.fill(
        chunk,
        lambda done: best_of_n.over(rows, chunk, budget, progress, seed=seed, done=done),
        "question(s)",
    )
    return records, judge
