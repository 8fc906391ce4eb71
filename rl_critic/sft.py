"""Alias: `python -m rl_critic.sft` (and `accelerate launch -m ...`) runs `rl_critic.train.sft`."""

import sys

from rl_critic.train.sft import main

if __name__ == "__main__":
    from rl_critic.cli import run_module

    sys.exit(run_module("train sft", main))
