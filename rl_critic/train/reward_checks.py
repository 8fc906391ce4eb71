"""GRPO rewards that say when they cannot teach anything, instead of a run that "succeeds" doing nothing.

TRL turns a reward's `None` into NaN and sums rewards with `nansum`, so a reward that returns None or NaN for
every completion (a broken dotted-path reward, data whose labels it cannot read) gives zero advantages: every
step has loss 0 and grad 0, the model is saved unchanged, exit 0. And a reward that returns the wrong number
of values, or something that is not a number, fails deep inside the trainer with a torch error.

`CheckedReward` wraps each user reward: wrong counts and non-numbers are one line naming the reward.
`RewardSignalGRPOTrainer` watches what the rewards gave over the first `SIGNAL_WINDOW` batches of
completions: none a finite number from any reward stops the run with one line (nothing can be learned);
one reward that gave nothing while others did is a warning (it adds nothing to the sum). And when every group
of the first logging window got one total reward for all its completions (a random model earns 0 on every
critic reward), a warning names the rewards: GRPO's advantages are then 0 and nothing is learned.
"""

from __future__ import annotations

import logging
from numbers import Real
from typing import Any

import torch
from trl.trainer.utils import get_callable_name, is_async_callable

from rl_critic.ground.errors import UserError
from rl_critic.train.batch_num_images import BatchNumImagesGRPOTrainer

logger = logging.getLogger("rl_critic")

# Batches of completions (one `_calculate_rewards` call each) after which a reward that gave no finite value
# is judged: the first batch alone could hold only rows a reward skips by design (a pointwise row for
# `preference`).
SIGNAL_WINDOW = 2


class CheckedReward:
    """A reward function whose output is checked: one value per completion, each a real number or None."""

    def __init__(self, function) -> None:
        self.function = function
        self.__name__ = get_callable_name(function)

    def __call__(self, prompts=None, completions=None, **kwargs: Any) -> list[float | None]:
        values = self.function(prompts=prompts, completions=completions, **kwargs)
        name, expected = self.__name__, len(completions or [])
        if isinstance(values, torch.Tensor):
            values = values.tolist()
        if not isinstance(values, (list, tuple)):
            raise UserError(f"reward {name} returned a {type(values).__name__}, not a list of {expected} numbers")
        if len(values) != expected:
            raise UserError(
                f"reward {name} returned {len(values)} values for {expected} completions (it must give one each)"
            )
        for value in values:
            if value is not None and (isinstance(value, bool) or not isinstance(value, Real)):
                raise UserError(f"reward {name} returned {str(value)[:40]!r} (a {type(value).__name__}), not a number")
        return list(values)


def checked_rewards(functions: list) -> list:
    """`functions` with every plain (synchronous, non-model) reward wrapped in `CheckedReward`."""
    return [
        function
        if isinstance(function, (str, torch.nn.Module)) or is_async_callable(function)
        else CheckedReward(function)
        for function in functions
    ]


class RewardSignalGRPOTrainer(BatchNumImagesGRPOTrainer):
    """GRPO that stops when its rewards give nothing to learn from (see the module docstring)."""

    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
        rewards = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
        finite = torch.isfinite(rewards).any(dim=0).tolist()  # per reward function, in this batch
        if not hasattr(self, "_reward_batches"):
            self._reward_batches, self._reward_finite, self._spread = 0, [False] * len(finite), None
        last_step = self.state.global_step + 1 >= self.state.max_steps
        if self._reward_batches < SIGNAL_WINDOW:
            self._reward_batches += 1
            self._reward_finite = [seen or now for seen, now in zip(self._reward_finite, finite)]
            if self._reward_batches == SIGNAL_WINDOW or last_step:
                self._judge_signal(len(completions))
        if self._spread is not True:  # until one group is seen whose completions got different totals
            self._spread = bool(self._groups_differ(rewards))
            if not self._spread and (self.state.global_step + 1 >= self._first_window() or last_step):
                self._spread = True  # warned once
                self._warn_no_spread()
        return rewards

    def _total_rewards(self, rewards: torch.Tensor) -> torch.Tensor:
        """Each completion's total reward, as TRL sums the reward functions (weighted, None/NaN as 0)."""
        return (rewards * self.reward_weights.to(rewards.device).unsqueeze(0)).nansum(dim=1)

    def _groups_differ(self, rewards: torch.Tensor) -> bool:
        """Whether any group of `num_generations` completions got different total rewards (as TRL sums them)."""
        totals = self._total_rewards(rewards).view(-1, self.num_generations)
        return bool((totals.max(dim=1).values - totals.min(dim=1).values > 0).any())

    def _first_window(self) -> int:
        """The steps of the first logging window (`logging_steps` below 1 is a fraction of the run, as in HF)."""
        steps = self.args.logging_steps
        return max(1, int(steps if steps >= 1 else -(-steps * self.state.max_steps // 1)))

    def _warn_no_spread(self) -> None:
        logger.warning(
            "every group of %d completions got one total reward for all its completions in the first %d step(s) "
            "(rewards: %s): GRPO's advantages are 0, so nothing is learned until completions of a prompt earn "
            "different rewards (a random model earns 0 on every critic reward: start from an SFT checkpoint)",
            self.num_generations,
            self._first_window(),
            ", ".join(self.reward_func_names),
        )

    def _judge_signal(self, completions: int) -> None:
        silent = [name for name, seen in zip(self.reward_func_names, self._reward_finite) if not seen]
        batches = f"{self._reward_batches} batch(es) of {completions} completions"
        if len(silent) == len(self.reward_func_names):
            raise UserError(
                f"every reward ({', '.join(silent)}) gave None or NaN for every completion of the first {batches}: "
                "nothing can be learned (loss and gradients are 0); stopped before saving. Check the reward "
                "functions and the data's `solution` column"
            )
        for name in silent:
            message = "reward %s gave None or NaN for every completion of the first %s: it adds nothing"
            logger.warning(message, name, batches)
