"""The `rl-critic` command: one sub-command per task, each a module with `main(argv) -> int`.

Sub-command modules are imported only when run, so `rl-critic --help` answers without loading torch.
Bad input ends with one line on stderr and a non-zero exit (`rl_critic.script.run`).
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Sequence

from rl_critic import __version__
from rl_critic.script.clone import run_from_this_clone
from rl_critic.script.help import cached_help
from rl_critic.script.run import run_module

# name -> (module, one-line description); the order is the order `--help` lists them in.
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("rl_critic.cli.demo", "the whole pipeline on synthetic data in minutes on a CPU, with a report"),
    "tiny-model": ("rl_critic.cli.tiny_model", "build a tiny offline Qwen2.5-VL / LLaVA-OneVision checkpoint"),
    "train": ("rl_critic.cli.train", "train from a recipe: sft | dpo | grpo | critic-dpo"),
    "best-of-n": ("rl_critic.cli.best_of_n", "self-critique: sample N answers, let a critic pick the best"),
    "eval": ("rl_critic.cli.eval", "evaluate a critic on benchmark data, or a policy (accuracy, or a judge's scores)"),
    "convert": ("rl_critic.cli.convert", "turn critic preference data into grpo / sft / dpo / eval datasets"),
    "make-synthetic": ("rl_critic.cli.make_synthetic", "generate shape-image critic data in the 113k schema"),
    "make-pairs": ("rl_critic.cli.make_pairs", "critic data from a policy's own answers, labelled against references"),
    "generate": ("rl_critic.cli.generate", "answer a prompt about image(s) or a video with any model (smoke test)"),
    "export-trl": ("rl_critic.cli.export_trl", "write a recipe as a YAML that `trl grpo|sft|dpo --config` takes"),
    "env": ("rl_critic.cli.env", "print versions and devices, for bug reports"),
}

# Commands that went, and what to run instead (one entry point per command).
MOVED = {"critic-dpo": "rl-critic train critic-dpo"}


def _usage() -> str:
    width = max(len(name) for name in COMMANDS)
    lines = [f"  {name:<{width}}  {help_text}" for name, (_, help_text) in COMMANDS.items()]
    return (
        "usage: rl-critic [--version] [--help] <command> [<args>]\n\n"
        "Train and use critic vision-language models, R1-style, on Hugging Face TRL.\n\n"
        "commands:\n" + "\n".join(lines) + "\n\n"
        "Run `rl-critic <command> --help` for the options of one command.\n"
    )


def run_command(name: str, argv: Sequence[str]) -> int:
    """Run one sub-command, turning user errors into one line on stderr."""
    module = importlib.import_module(COMMANDS[name][0])
    return run_module(name, module.main, argv)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        os.getcwd()
    except FileNotFoundError:  # every relative path, and the output checks, start from it
        print("rl-critic: error: the working directory no longer exists: cd to a folder that does", file=sys.stderr)
        return 1
    if argv is None:  # the `rl-critic` command (not a call from Python): this clone's code, where it runs
        run_from_this_clone(sys.argv[1:])
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(_usage(), end="")
        return 0
    if argv[0] in ("-V", "--version"):
        print(f"rl-critic {__version__}")
        return 0
    name = argv[0]
    cached = cached_help(argv)  # `rl-critic train grpo --help` a second time: printed without importing torch
    if cached is not None:
        print(cached, end="")
        return 0
    if name in MOVED:
        print(f"rl-critic: error: `rl-critic {name}` is now `{MOVED[name]}`", file=sys.stderr)
        return 2
    if name not in COMMANDS:
        print(f"rl-critic: error: unknown command {name!r}; choose from: {', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    return run_command(name, argv[1:])


if __name__ == "__main__":
    sys.exit(main())
