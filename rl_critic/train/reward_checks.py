"""GRPO rewards that say when they cannot teach anything, instead of a run that "succeeds" doing nothing.

TRL turns a reward's `None` into NaN and sums rewards with `nansum`, so a reward that returns None or NaN for
every completion (a broken dotted-path reward, data whose labels it cannot read) gives zero advantages: every
step has loss 0 and grad 0, the model is saved unchanged, exit 0. And a reward that returns the wrong number
of values, or something that is not a number, fails deep inside the trainer with a torch error.

`CheckedReward` wraps each user reward: wrong counts and non-numbers are one line naming the reward.
`RewardSignalGRPOTrainer` watches what the rewards gave over the first `SIGNAL_WINDOW` batches of
completions: none a finite number from any reward stops the run with one line (nothing can be learned);
one reward that gave nothing while others did is a warning (it adds nothing to the sum).
"""

from __future__ import annotations

import logging
from numbers import Real
from typing import Any

import torch
from trl.trainer.utils import get_callable_name, is_async_callable

from data_converters.errors import UserError
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
            self._reward_batches, self._reward_finite = 0, [False] * len(finite)
        if self._reward_batches < SIGNAL_WINDOW:
            self._reward_batches += 1
            self._reward_finite = [seen or now for seen, now in zip(self._reward_finite, finite)]
            if self._reward_batches == SIGNAL_WINDOW or self.state.global_step + 1 >= self.state.max_steps:
                self._judge_signal(len(completions))
        return rewards

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
