"""The `rl-critic` command: one sub-command per task, each a module with `main(argv) -> int`.

Sub-command modules are imported only when run, so `rl-critic --help` answers without loading torch.
Bad input (a missing folder, an unknown name, an unreadable config) ends with one line on stderr,
`rl-critic: error: ...`, and a non-zero exit; set `RL_CRITIC_DEBUG=1` to see the traceback instead.
"""

from __future__ import annotations

import errno
import importlib
import os
import re
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
        return _fail(name, f"error: {message}", 1)
    except KeyboardInterrupt:
        return _fail(name, "interrupted", 130)
    except Exception as err:
        cause = _storage_failure(err)
        if cause is None or os.environ.get("RL_CRITIC_DEBUG"):
            raise
        return _fail(name, f"error: {cause}", 1)


def _fail(name: str, message: str, code: int) -> int:
    """Print the one line, last: progress bars the failure left open are closed first (tqdm would redraw
    them below it when collected)."""
    tqdm_module = sys.modules.get("tqdm.std")
    for bar in list(getattr(getattr(tqdm_module, "tqdm", None), "_instances", ())):
        bar.close()
    print(f"rl-critic {name}: {message}", file=sys.stderr)
    return code


# A full disk, a quota or a file-size limit: libraries (datasets, pyarrow, safetensors) wrap these in their own
# exceptions, but to the user they are all "the output could not be written".
_STORAGE_ERRNOS = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EROFS}


def _storage_failure(err: BaseException) -> str | None:
    """The one line for an exception caused (anywhere in its chain) by a storage failure, else None."""
    seen: set[int] = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        if isinstance(err, OSError) and err.errno in _STORAGE_ERRNOS:
            return _os_error_line(err)
        code = re.search(r"\(os error (\d+)\)", str(err))  # safetensors (Rust) reports the errno in its text
        if code and int(code.group(1)) in _STORAGE_ERRNOS:
            return f"{os.strerror(int(code.group(1)))} (while writing weights)"
        err = err.__cause__ or err.__context__
    return None


def _os_error_line(err: OSError) -> str:
    """`No space left on device: /data/out/.x.partial-...`: what failed and on which file, in one line."""
    where = f": {err.filename}" if err.filename else " (while writing)" if err.errno in _STORAGE_ERRNOS else ""
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
