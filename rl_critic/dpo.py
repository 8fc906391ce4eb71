"""Alias: `python -m rl_critic.dpo` (and `accelerate launch -m ...`) runs `rl_critic.train.dpo`."""

import sys

from rl_critic.train.dpo import main

if __name__ == "__main__":
    from rl_critic.cli import run_module

    sys.exit(run_module("train dpo", main))
