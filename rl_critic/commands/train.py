"""`rl-critic train {sft,grpo}`: train a critic from a flat TRL recipe (`--config FILE`, `--field value`)."""

from __future__ import annotations

import importlib
import sys

METHODS = {"sft": "rl_critic.sft", "grpo": "rl_critic.grpo"}
USAGE = (
    "usage: rl-critic train {sft,grpo} --config RECIPE.yaml [--field value ...]\n\n"
    "  sft   LLaVA-Critic: supervised fine-tuning on judge prompts and rationales\n"
    "  grpo  LLaVA-Critic-R1: GRPO on verifiable preference targets\n\n"
    "Every recipe field can be overridden on the command line; `rl-critic train grpo --help` lists them.\n"
    "Multi-process: accelerate launch --config_file recipes/accelerate/<cfg>.yaml -m rl_critic.grpo --config ...\n"
)


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE, end="")
        return 0
    if argv[0] not in METHODS:
        print(f"rl-critic train: error: unknown method {argv[0]!r}; choose from: {', '.join(METHODS)}", file=sys.stderr)
        return 2
    return importlib.import_module(METHODS[argv[0]]).main(argv[1:])
