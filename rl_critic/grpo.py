"""Alias: `python -m rl_critic.grpo` (and `accelerate launch -m ...`) runs `rl_critic.train.grpo`."""

import sys

from rl_critic.train.grpo import main

if __name__ == "__main__":
    from rl_critic.cli import run_module

    sys.exit(run_module("train grpo", main))
