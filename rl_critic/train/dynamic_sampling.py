"""Dynamic sampling (DAPO's): GRPO trains only on groups whose completions earned different rewards.

A group of G completions that all got the same reward has advantage 0 for every completion: it costs its
generation, its reward calls (with `critic_judge`, a critic judging every pair of it) and a backward pass, and
teaches nothing. With `dynamic_sampling: true`, each generation batch is scored as usual, groups whose *key*
reward has no spread (`dynamic_sampling_key`: by default the accuracy part of the reward, never a blend in which
format alone could differ) are dropped, and more prompts are drawn and generated until the batch holds its full
number of completions from informative groups, or `dynamic_sampling_max_batches` generation batches were drawn
(the step then trains on the informative completions it has, and is logged as short).

Built on TRL's own pieces, not a forked loop: `GRPOTrainer._generate_and_score_completions` generates, rewards
and scores each batch (advantages within each group, reference and old log-probabilities), and
`group_rows.take_rows` joins the kept rows into one batch of the form TRL's `_prepare_inputs` splits into steps.
More prompts come from a second seeded pass over the training set (`PromptReserve`), whose position is saved in
every checkpoint, so a resumed run draws what an uninterrupted one would. With several processes every decision
is global: rewards are gathered before groups are judged (as TRL gathers them for advantages), every process
draws the same prompts and keeps the same number of rows, and all stop together.

What a run logs every logging step (means over the generations in the window): `dynamic_sampling/*` (groups
generated, kept, dropped as all right or as all wrong/tied, generation batches, short steps) and, for every GRPO
run, `cost/*` (completions generated and trained on, critic judgments: running totals), so a run with dynamic
sampling and one without compare on cost.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from accelerate.utils import gather
from trl.trainer.utils import get_callable_name

from rl_critic.ground.errors import UserError
from rl_critic.train.group_rows import batch_rows, loss_tokens, take_rows
from rl_critic.train.reward_checks import RewardSignalGRPOTrainer

logger = logging.getLogger("rl_critic")

SPREAD_EPSILON = 1e-6  # rewards closer than this count as tied
ACCURACY, TOTAL = "accuracy", "total"
# After this many generations a run that spent its budget on most of them is told, once, that it cannot find
# informative groups (or at the run's end, if it is shorter).
WARNING_WINDOW = 10
STATE_FILE = "sampling_state.json"


@dataclass
class DynamicSamplingArguments:
    """Recipe fields of `rl-critic train grpo` (TRL's own `trl grpo` has no dynamic sampling)."""

    _argument_group_name = "dynamic sampling (DAPO): train only on groups whose rewards differ"

    dynamic_sampling: bool = field(
        default=False,
        metadata={
            "help": "Drop groups whose completions all earned the same key reward (advantage 0) and draw more "
            "prompts until the step holds informative groups only (DAPO's dynamic sampling)."
        },
    )
    dynamic_sampling_key: str = field(
        default=ACCURACY,
        metadata={
            "help": "The reward whose spread decides: `accuracy` (the accuracy part of `critic`, without format; "
            "`critic_judge`'s scores; `preference`, `pointwise`, `answer_accuracy` as they are), `total` (the "
            "weighted sum the advantages use), or a reward's name as TRL logs it (`critic_reward`, "
            "`rewards/format_reward/mean`)."
        },
    )
    dynamic_sampling_max_batches: int = field(
        default=4,
        metadata={
            "help": "Generation batches (the first included) one optimizer step may draw; when they are spent "
            "the step trains on the informative groups it has, and is logged as short."
        },
    )

    def check(self) -> None:
        """One line for a value no run can use, before anything loads."""
        if self.dynamic_sampling_max_batches < 1:
            raise UserError("dynamic_sampling_max_batches must be at least 1 (the first generation batch)")


@dataclass
class SpreadKey:
    """Which per-completion values decide whether a group has spread: a column of TRL's rewards matrix, a
    function computed on the same completions (the critic reward's accuracy part), or the weighted total."""

    description: str
    column: int | None = None
    function: Callable | None = None


def unwrapped(function):
    """A reward as the user named it, without `reward_checks.CheckedReward` around it."""
    return getattr(function, "function", function)


def resolve_key(spec: str, reward_funcs: list) -> SpreadKey:
    """`dynamic_sampling_key` -> a `SpreadKey`, or one line naming the choices (before any model loads)."""
    from rewards import AnswerAccuracyReward, CriticReward, PointwiseReward, PreferenceReward

    names = [get_callable_name(unwrapped(f)) for f in reward_funcs]
    wanted = spec.strip()
    if wanted == TOTAL:
        return SpreadKey("total reward")
    if wanted == ACCURACY:
        for column, function in enumerate(map(unwrapped, reward_funcs)):
            if isinstance(function, CriticReward):
                return SpreadKey(f"accuracy ({names[column]} without format)", function=function.accuracy_part())
            if type(function).__name__ == "CriticJudgeReward":
                return SpreadKey(f"score from {names[column]}", column=column)
            if isinstance(function, (PreferenceReward, PointwiseReward, AnswerAccuracyReward)):
                return SpreadKey(f"{names[column]} reward", column=column)
        logger.warning(
            "dynamic_sampling_key: accuracy, but no accuracy reward among %s: keyed on the total reward",
            ", ".join(names),
        )
        return SpreadKey("total reward")
    name = wanted.removeprefix("rewards/").removesuffix("/mean")
    if "." in name and ":" not in name:  # a dotted path, as reward_funcs names it: TRL logs the function's name
        name = name.rsplit(".", 1)[-1]
    if name.endswith("/accuracy"):  # `critic/accuracy`, as the critic reward logs its accuracy part
        critic = name.removesuffix("/accuracy")
        for column, function in enumerate(map(unwrapped, reward_funcs)):
            if isinstance(function, CriticReward) and critic in (names[column], names[column].removesuffix("_reward")):
                return SpreadKey(f"accuracy ({names[column]} without format)", function=function.accuracy_part())
    for column, reward_name in enumerate(names):
        if name in (reward_name, reward_name.removesuffix("_reward")):
            return SpreadKey(f"{reward_name} reward", column=column)
    raise UserError(
        f"dynamic_sampling_key {spec!r} is not a reward of this run; choose {ACCURACY}, {TOTAL} or one of: "
        + ", ".join(names)
    )


class PromptReserve:
    """Where dynamic sampling draws more prompts: a second seeded pass over the training set, epoch after epoch.
    Its `position` is saved in checkpoints, so a resumed run continues the same order."""

    def __init__(self, size: int, seed: int) -> None:
        self.size, self.seed, self.position = size, seed, 0
        self._orders: dict[int, list[int]] = {}

    def take(self, count: int) -> list[int]:
        indices: list[int] = []
        while len(indices) < count:
            epoch, offset = divmod(self.position, self.size)
            chunk = self._order(epoch)[offset : offset + count - len(indices)]
            indices += chunk
            self.position += len(chunk)
        return indices

    def _order(self, epoch: int) -> list[int]:
        if epoch not in self._orders:
            # Not the trainer's own order (TRL's RepeatSampler shuffles with `seed`), and not Python's hash (salted
            # per process): every process and every run with this seed gets the same order.
            generator = torch.Generator().manual_seed((self.seed + 1) * 1_000_003 + epoch)
            self._orders = {epoch: torch.randperm(self.size, generator=generator).tolist()}  # one epoch kept
        return self._orders[epoch]


@dataclass
class SamplingCounts:
    """Running totals over the whole run (saved in checkpoints): what was generated and what was trained on."""

    generations: int = 0  # generation rounds (one per optimizer step with TRL's defaults)
    completions_generated: int = 0
    completions_trained: int = 0
    critic_judgments: int = 0
    groups_generated: int = 0
    groups_informative: int = 0
    groups_all_right: int = 0
    groups_all_wrong_or_tied: int = 0
    budget_spent: int = 0  # generations that spent every batch of the budget before filling the step
    zero_spread_steps: int = 0  # generations without one informative completion: trained on a batch as TRL has it
    warned: bool = False

    def rate(self) -> float:
        """Share of generated groups that had spread so far."""
        return self.groups_informative / self.groups_generated if self.groups_generated else 0.0


@dataclass
class GroupOutcomes:
    """One generation batch's groups, judged on the gathered (all-process) rewards."""

    informative: torch.Tensor  # bool per group
    all_right: torch.Tensor  # bool per group: no spread, every completion at the key's top score (1)

    @property
    def groups(self) -> int:
        return int(self.informative.numel())


def judge_groups(key: torch.Tensor, total: torch.Tensor, size: int) -> GroupOutcomes:
    """Groups of `size` consecutive completions: informative when the key has spread and so does the total (a
    group with zero total spread has advantage 0 whatever its key says). A group the key did not score at all
    (None for every completion) is judged on the total."""
    key, total = key.view(-1, size), total.view(-1, size)
    unscored = torch.isnan(key).all(dim=1, keepdim=True)
    key = torch.where(unscored, total, key)
    key_spread = _spread(key)
    informative = (key_spread > SPREAD_EPSILON) & (_spread(total) > SPREAD_EPSILON)
    low = torch.where(torch.isnan(key), torch.inf, key).min(dim=1).values
    all_right = ~informative & (key_spread <= SPREAD_EPSILON) & (low >= 1.0 - SPREAD_EPSILON)
    return GroupOutcomes(informative, all_right)


def _spread(values: torch.Tensor) -> torch.Tensor:
    """Max - min per row, NaN ignored (a row of NaN: 0)."""
    high = torch.where(torch.isnan(values), -torch.inf, values).max(dim=1).values
    low = torch.where(torch.isnan(values), torch.inf, values).min(dim=1).values
    return torch.where(torch.isfinite(high - low), high - low, torch.zeros_like(high))


class DynamicSamplingGRPOTrainer(RewardSignalGRPOTrainer):
    """TRL's GRPOTrainer (with rl-critic's reward checks) plus dynamic sampling and cost accounting."""

    def __init__(
        self, *args, dynamic_sampling: DynamicSamplingArguments | None = None, key: SpreadKey | None = None, **kwargs
    ):
        super().__init__(*args, **kwargs)
        self.dynamic_sampling = dynamic_sampling if dynamic_sampling and dynamic_sampling.dynamic_sampling else None
        self.spread_key = key or SpreadKey("total reward")
        self.counts = SamplingCounts()
        self.filter_seconds = 0.0  # this round's time judging groups and joining rows: the filter's own cost
        self._key_values: torch.Tensor | None = None
        self._total_values: torch.Tensor | None = None
        if self.dynamic_sampling is None:
            return
        if not hasattr(self.train_dataset, "__getitem__") or not hasattr(self.train_dataset, "__len__"):
            raise UserError("dynamic_sampling needs a map-style training set (it draws more prompts by index)")
        self.reserve = PromptReserve(len(self.train_dataset), self.args.seed)
        self.accelerator.print(
            f"dynamic sampling: a group is dropped when every completion gets the same {self.spread_key.description}; "
            f"up to {self.dynamic_sampling.dynamic_sampling_max_batches} generation batches per step"
        )

    # ----- rewards: keep what the group decision needs
    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
        rewards = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
        if self.dynamic_sampling is not None and self.model.training:
            started = time.perf_counter()
            total = self._total_rewards(rewards)
            total[torch.isnan(rewards).all(dim=1)] = torch.nan  # unscorable, as TRL marks them
            self._total_values = total
            if self.spread_key.function is not None:
                self._key_values = self._computed_key(inputs, prompts, completions, completion_ids_list)
            elif self.spread_key.column is not None:
                self._key_values = rewards[:, self.spread_key.column]
            else:
                self._key_values = total
            self.filter_seconds += time.perf_counter() - started
        return rewards

    def _computed_key(self, inputs, prompts, completions, completion_ids_list) -> torch.Tensor:
        """The key function on this process's completions (with the row's columns, as TRL calls rewards),
        gathered from every process in TRL's order."""
        columns = [key for key in inputs[0] if key not in ("prompt", "completion", "completion_ids")]
        kwargs = {key: [row[key] for row in inputs] for key in columns}
        values = self.spread_key.function(
            prompts=prompts, completions=completions, completion_ids=completion_ids_list, **kwargs
        )
        local = torch.tensor([math.nan if v is None else v for v in values], dtype=torch.float32)
        return gather(local.to(self.accelerator.device))

    # ----- generation: one round per optimizer step (TRL's `steps_per_generation` x `num_iterations` steps)
    def _generate_and_score_completions(self, inputs):
        if not self.model.training:
            return super()._generate_and_score_completions(inputs)
        if self.dynamic_sampling is None:
            batch = super()._generate_and_score_completions(inputs)
            rows = batch_rows(batch) * self.accelerator.num_processes
            self._count_round(rows, rows)
            return batch
        return self._informative_batch(inputs)

    def _informative_batch(self, inputs: list[dict[str, Any]]) -> dict[str, Any]:
        """Generate, keep informative groups, draw more until the batch is full or the budget is spent."""
        target, size = len(inputs), self.num_generations
        processes, rank = self.accelerator.num_processes, self.accelerator.process_index
        budget = self.dynamic_sampling.dynamic_sampling_max_batches
        parts: list[tuple[dict[str, Any], list[int]]] = []
        kept, generated, batches = 0, 0, 0
        outcomes: list[GroupOutcomes] = []
        batch_inputs = inputs
        while True:
            batch = super()._generate_and_score_completions(batch_inputs)
            started = time.perf_counter()
            batches += 1
            rows = len(batch_inputs)
            generated += rows * processes
            judged = judge_groups(self._key_values, self._total_values, size)
            outcomes.append(judged)
            self.counts.groups_generated += judged.groups
            self.counts.groups_informative += int(judged.informative.sum())
            row_kept = judged.informative.repeat_interleave(size)[rank * rows : (rank + 1) * rows]
            keep = row_kept.nonzero().flatten().tolist()
            parts.append((batch, keep))
            kept += len(keep)
            everyone = self.accelerator.gather(torch.tensor([kept], device=self.accelerator.device))
            fewest, missing = int(everyone.min()), int((target - everyone).max())
            if fewest >= target or batches >= budget:
                self.filter_seconds += time.perf_counter() - started
                break
            batch_inputs = self._draw(missing, size, processes, rank)  # reading rows counts as the filter's cost
            self.filter_seconds += time.perf_counter() - started
        started = time.perf_counter()
        short = fewest < target
        usable = min(fewest, target) // self.args.steps_per_generation * self.args.steps_per_generation
        if usable == 0:  # not one informative completion on some process: train on the first batch as TRL would
            result, trained_rows = parts[0][0], target
        else:
            chosen, left = [], usable
            for batch, keep in parts:
                chosen.append((batch, keep[:left]))
                left -= len(chosen[-1][1])
            result = take_rows([(b, k) for b, k in chosen if k], self._tokenizer.pad_token_id)
            result["num_items_in_batch"] = self.accelerator.gather(loss_tokens(result)).sum()
            trained_rows = usable
        self.filter_seconds += time.perf_counter() - started
        self._count_round(generated, trained_rows * processes, outcomes, batches, short, usable == 0)
        return result

    def _draw(self, missing_rows: int, size: int, processes: int, rank: int) -> list[dict[str, Any]]:
        """Rows of more prompts, `size` completions each: enough, at the keep rate seen so far, to fill the
        process that misses most, at most one generation batch; the same prompts on every process, each process
        its own share."""
        most = self.args.generation_batch_size // size
        groups_per_process = math.ceil(missing_rows / size)
        rate = self.counts.rate()
        wanted = math.ceil(groups_per_process / rate) * processes if rate > 0 else most
        prompts = max(processes, min(most, wanted))
        prompts -= prompts % processes
        share = prompts // processes
        indices = self.reserve.take(prompts)[rank * share : (rank + 1) * share]
        return [self.train_dataset[index] for index in indices for _ in range(size)]

    def _count_round(
        self,
        generated: int,
        trained: int,
        outcomes: list[GroupOutcomes] | None = None,
        batches: int = 1,
        short: bool = False,
        untrainable: bool = False,
    ) -> None:
        """Running totals and this round's metrics (TRL averages them over the logging window)."""
        counts, metrics = self.counts, self._metrics["train"]
        counts.generations += 1
        counts.completions_generated += generated
        counts.completions_trained += trained
        judgments = [f.judgments_made for f in map(unwrapped, self.reward_funcs) if hasattr(f, "judgments_made")]
        if judgments:  # every process judges its own groups: the run's total is their sum
            local = torch.tensor([float(sum(judgments))], device=self.accelerator.device)
            counts.critic_judgments = int(self.accelerator.gather(local).sum())
        if outcomes is None:
            return
        right = sum(int(o.all_right.sum()) for o in outcomes)
        wrong = sum(int((~o.informative & ~o.all_right).sum()) for o in outcomes)
        counts.groups_all_right += right
        counts.groups_all_wrong_or_tied += wrong
        counts.budget_spent += int(short)
        counts.zero_spread_steps += int(untrainable)
        size = self.num_generations
        metrics["dynamic_sampling/groups_generated"].append(float(sum(o.groups for o in outcomes)))
        metrics["dynamic_sampling/groups_kept"].append(0.0 if untrainable else trained / size)
        metrics["dynamic_sampling/dropped_all_right"].append(float(right))
        metrics["dynamic_sampling/dropped_all_wrong_or_tied"].append(float(wrong))
        metrics["dynamic_sampling/generation_batches"].append(float(batches))
        metrics["dynamic_sampling/short"].append(float(short))
        metrics["dynamic_sampling/trained_zero_spread"].append(float(untrainable))
        metrics["dynamic_sampling/filter_seconds"].append(self.filter_seconds)  # this round's (reset below)
        self.filter_seconds = 0.0
        self._warn_if_starved()

    def _warn_if_starved(self) -> None:
        """One line when the budget ran out on most rounds: the data is too easy or too hard for GRPO."""
        counts = self.counts
        last = self.state.global_step + self.args.steps_per_generation * self.num_iterations >= self.state.max_steps
        if counts.warned or (counts.generations < WARNING_WINDOW and not last):
            return
        if counts.budget_spent * 2 > counts.generations:
            counts.warned = True
            logger.warning(starved_line(counts, self.dynamic_sampling.dynamic_sampling_max_batches))

    # ----- logs and checkpoints
    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        if "loss" in logs and self.model.training:
            logs["cost/completions_generated"] = self.counts.completions_generated
            logs["cost/completions_trained"] = self.counts.completions_trained
            if self.counts.critic_judgments:
                logs["cost/critic_judgments"] = self.counts.critic_judgments
        super().log(logs, start_time)

    def _save_checkpoint(self, model, trial):
        super()._save_checkpoint(model, trial)
        if self.args.should_save:
            folder = os.path.join(self._get_output_dir(trial=trial), f"checkpoint-{self.state.global_step}")
            state = asdict(self.counts)
            if self.dynamic_sampling is not None:
                state["reserve_position"] = self.reserve.position
            with open(os.path.join(folder, STATE_FILE), "w") as handle:
                json.dump(state, handle)

    def _load_optimizer_and_scheduler(self, checkpoint):
        super()._load_optimizer_and_scheduler(checkpoint)
        path = os.path.join(checkpoint, STATE_FILE) if checkpoint else None
        if path and os.path.exists(path):
            with open(path) as handle:
                saved = json.load(handle)
            self.counts = SamplingCounts(**{k: v for k, v in saved.items() if k in SamplingCounts.__dataclass_fields__})
            if self.dynamic_sampling is not None:
                self.reserve.position = saved.get("reserve_position", 0)


def starved_line(counts: SamplingCounts, budget: int) -> str:
    """What a run that cannot find informative groups tells its user."""
    groups = max(counts.groups_generated, 1)
    batches = f"{budget} generation batch{'es' if budget > 1 else ''}"
    return (
        f"dynamic sampling: the budget ({batches}) ran out on {counts.budget_spent} of "
        f"{counts.generations} steps; of {counts.groups_generated} groups, {counts.groups_all_right / groups:.0%} "
        f"had every completion right (too easy for this policy) and {counts.groups_all_wrong_or_tied / groups:.0%} "
        "every completion wrong or all tied (too hard, or answers the reward cannot tell apart), so GRPO learns from "
        f"the {counts.rate():.0%} with mixed rewards: use harder or easier data, more generations per prompt, or a "
        "larger dynamic_sampling_max_batches"
    )


def cost_line(counts: SamplingCounts) -> str:
    """The closing line's cost part: completions generated per completion trained on."""
    ratio = counts.completions_generated / counts.completions_trained if counts.completions_trained else math.inf
    return (
        f"{counts.completions_generated} completions generated for {counts.completions_trained} trained on "
        f"({ratio:.2f} per completion trained on)"
    )
