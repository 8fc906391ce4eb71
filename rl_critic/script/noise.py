"""Warnings nobody running rl-critic can act on, kept off the terminal and written to a log instead.

Libraries warn about their own internals: transformers deprecates `gradient_checkpointing` for
`activation_checkpointing` (TRL's configs still set the old name, 2-4 times a run), torch's DDP notes that
`find_unused_parameters` found none, bitsandbytes says at import that an optional `kernels` package is missing (its
CPU 4-bit path works without it), and vLLM's start on a CPU brings torch's own. A user cannot change any of these,
and they bury the lines that matter (a reward with no signal, a skipped row). Each is matched here by category and
text; a match goes to `<cache>/logs/warnings.log` (one line, with the command), everything else is shown as Python
would.
"""

from __future__ import annotations

import logging
import os
import re
import time
import warnings
from pathlib import Path

# (category, pattern of its message): library-internal, no action a user can take.
NOISE: tuple[tuple[type[Warning], re.Pattern[str]], ...] = (
    (FutureWarning, re.compile(r"`(is_)?gradient_checkpointing` is deprecated")),
    (UserWarning, re.compile(r"find_unused_parameters=True was specified in DDP constructor")),
    (UserWarning, re.compile(r"`max_length` is ignored when `padding`=`True`")),
    (FutureWarning, re.compile(r"`torch\.distributed\.reduce_op` is deprecated")),  # vLLM's, as it starts
)
# Loggers whose records at WARNING are of the same kind. The torch and vLLM ones speak when vLLM is imported on a
# CPU (torch internals vLLM still calls; no CUDA runtime; a Triton without a CPU backend).
QUIET_LOGGERS = (
    "bitsandbytes.backends.cpu.ops",
    "torch._opaque_base",
    "torch._library.opaque_object",
    "torch.utils.cpp_extension",
    "vllm.triton_utils.importing",
)
# (logger, pattern of a record): of the same kind, where the logger also says what matters. A resumed run of a
# model whose output layer is its tied input embedding (the tiny models) finds no `lm_head.weight` in the
# checkpoint (safetensors saves a tied weight once) and ties it again; transformers still warns of a missing key.
NOISY_RECORDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("transformers.trainer", re.compile(r"missing keys in the checkpoint model loaded: \['lm_head\.weight'\]")),
)


def log_file() -> Path:
    """Where the routed warnings go: beside the tiny-model cache (`RL_CRITIC_CACHE`), else the user cache."""
    root = os.environ.get("RL_CRITIC_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "rl-critic"
    )
    return Path(root) / "logs" / "warnings.log"


def quiet_library_loggers() -> None:
    """Raise the level of `QUIET_LOGGERS` and route `NOISY_RECORDS` to the log (done on import of `rl_critic`,
    before any library is imported)."""
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    for name, pattern in NOISY_RECORDS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RoutedRecords) for f in logger.filters):
            logger.addFilter(RoutedRecords(pattern))


class RoutedRecords(logging.Filter):
    """A logger's records that match `pattern` go to `log_file()`, not the terminal."""

    def __init__(self, pattern: re.Pattern[str]) -> None:
        super().__init__()
        self.pattern = pattern

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if not self.pattern.search(message):
            return True
        _append(f"{record.name}: {message}")
        return False


def _append(line: str) -> None:
    try:
        path = log_file()
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {line}\n")
    except OSError:  # an unwritable cache must not fail a run over a warning
        pass


def warning_filter_lines() -> list[str]:
    """`NOISE` as pytest `filterwarnings` entries: the test suite hides what the commands hide (tests/conftest)."""
    return [f"ignore:.*{pattern.pattern}:{category.__name__}" for category, pattern in NOISE]


def route_library_warnings(command: str) -> None:
    """Send the `NOISE` warnings of this process to `log_file()` instead of the terminal (idempotent)."""
    shown = warnings.showwarning
    if getattr(shown, "routes_noise", False):
        return

    def show(message, category, filename, lineno, file=None, line=None):
        if any(issubclass(category, kind) and pattern.search(str(message)) for kind, pattern in NOISE):
            _append(f"rl-critic {command}: {category.__name__}: {message} ({filename}:{lineno})")
            return
        shown(message, category, filename, lineno, file, line)

    show.routes_noise = True
    warnings.showwarning = show
