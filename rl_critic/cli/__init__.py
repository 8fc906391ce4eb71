"""The `rl-critic` command: one sub-command per task, each a module with `main(argv) -> int`.

Sub-command modules are imported only when run, so `rl-critic --help` answers without loading torch.
Bad input (a missing folder, an unknown name, an unreadable config) ends with one line on stderr,
`rl-critic: error: ...`, and a non-zero exit; set `RL_CRITIC_DEBUG=1` to see the traceback instead.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Sequence

from data_converters.errors import UserError
from rl_critic import __version__

# name -> (module, one-line description); the order is the order `--help` lists them in.
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("rl_critic.cli.demo", "the whole pipeline on synthetic data in minutes on a CPU, with a report"),
    "tiny-model": ("rl_critic.cli.tiny_model", "build a tiny offline Qwen2.5-VL / LLaVA-OneVision checkpoint"),
    "train": ("rl_critic.cli.train", "train from a recipe: sft | dpo | grpo | critic-dpo"),
    "critic-dpo": ("rl_critic.cli.critic_dpo", "alias of `train critic-dpo`: DPO where a critic judges the policy"),
    "best-of-n": ("rl_critic.cli.best_of_n", "self-critique: sample N answers, let a critic pick the best"),
    "eval": ("rl_critic.cli.eval", "evaluate a critic on benchmark data, or a policy on questions"),
    "convert": ("rl_critic.cli.convert", "turn critic preference data into grpo / sft / dpo / eval datasets"),
    "make-synthetic": ("rl_critic.cli.make_synthetic", "generate shape-image critic data in the 113k schema"),
    "make-pairs": ("rl_critic.cli.make_pairs", "critic data from a policy's own answers, labelled against references"),
    "generate": ("rl_critic.cli.generate", "answer a prompt about image(s) with any model (smoke test)"),
    "export-trl": ("rl_critic.cli.export_trl", "write a recipe as a YAML that `trl grpo|sft|dpo --config` takes"),
    "env": ("rl_critic.cli.env", "print versions and devices, for bug reports"),
}


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


def run_module(name: str, main_function, argv: Sequence[str] | None = None) -> int:
    """Call `main_function(argv)` with the CLI's error handling (also for `python -m rl_critic.<method>`)."""
    argv = sys.argv[1:] if argv is None else argv
    quiet_optional_kernel_warnings()
    try:
        return int(main_function(list(argv)) or 0)
    except (UserError, OSError) as err:  # OSError: missing, not-a-folder, permission, disk full (ENOSPC), ...
        if os.environ.get("RL_CRITIC_DEBUG"):
            raise
        message = str(err) if isinstance(err, UserError) else _os_error_line(err)
        print(f"rl-critic {name}: error: {message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"rl-critic {name}: interrupted", file=sys.stderr)
        return 130


def _os_error_line(err: OSError) -> str:
    """`No space left on device: /data/out/.x.partial-...`: what failed and on which file, in one line."""
    where = f": {err.filename}" if err.filename else ""
    return f"{err.strerror or str(err).splitlines()[0]}{where}"


def quiet_optional_kernel_warnings() -> None:
    """bitsandbytes warns at import, on every CPU run, that an optional `kernels` package is missing (its CPU
    4-bit path works without it); TRL and peft import it, so every command would start with that line."""
    import logging

    logging.getLogger("bitsandbytes.backends.cpu.ops").setLevel(logging.ERROR)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    quiet_optional_kernel_warnings()
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(_usage(), end="")
        return 0
    if argv[0] in ("-V", "--version"):
        print(f"rl-critic {__version__}")
        return 0
    name = argv[0]
    if name not in COMMANDS:
        print(f"rl-critic: error: unknown command {name!r}; choose from: {', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    return run_command(name, argv[1:])


if __name__ == "__main__":
    sys.exit(main())
