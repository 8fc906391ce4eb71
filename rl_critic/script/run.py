"""Running a script's `main(argv)` the way every rl-critic command runs: bad input (a missing folder, an
unknown name, a full disk) ends with one line on stderr, `rl-critic NAME: error: ...`, and a non-zero exit;
set `RL_CRITIC_DEBUG=1` to see the traceback instead.

Below `cli/`, so that `python -m rl_critic.train.<method>` (what `accelerate launch -m` runs) gives the same
one-line errors as `rl-critic train <method>` without importing the command line.
"""

from __future__ import annotations

import os
import re
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from rl_critic.ground.errors import UserError, os_error_line, redacted, storage_failure
from rl_critic.ground.files import OutputClaim
from rl_critic.script.noise import route_library_warnings


class Terminated(KeyboardInterrupt):
    """SIGTERM (a `kill`, a scheduler's time limit), raised where the run is, as Ctrl-C's KeyboardInterrupt
    is: every writer's cleanup (staging removed, journal kept, half-saved checkpoints deleted) runs the same."""


def run_module(name: str, main_function: Callable[[list[str]], int | None], argv: Sequence[str] | None = None) -> int:
    """Call `main_function(argv)` with the CLI's error handling (also for `python -m rl_critic.train.<method>`)."""
    argv = sys.argv[1:] if argv is None else argv
    route_library_warnings(name)
    try:
        with terminate_as_interrupt(), releasing_claims():
            return int(main_function(list(argv)) or 0)
    except (UserError, OSError) as err:  # OSError: missing, not-a-folder, permission, disk full (ENOSPC), ...
        if os.environ.get("RL_CRITIC_DEBUG"):
            raise
        if _interrupt_in_chain(err) is not None:  # a worker pool's error on the way out of a Ctrl-C
            return _interrupted(name, _interrupt_in_chain(err))
        message = str(err) if isinstance(err, UserError) else os_error_line(err)
        return _fail(name, f"error: {message}", 1)
    except KeyboardInterrupt as err:
        return _interrupted(name, err)
    except RuntimeError as err:  # pathlib's resolve() on a path the user named that loops back to itself
        looped = re.fullmatch(r"Symlink loop from '(.*)'", str(err))
        if looped is None or os.environ.get("RL_CRITIC_DEBUG"):
            raise
        return _fail(name, f"error: {looped.group(1)} is a symbolic link loop (it leads back to itself)", 1)
    except Exception as err:
        interrupt = _interrupt_in_chain(err)
        if interrupt is not None:  # e.g. `datasets`' process pool raises TimeoutError after its workers got Ctrl-C
            return _interrupted(name, interrupt)
        cause = storage_failure(err)
        if cause is None or os.environ.get("RL_CRITIC_DEBUG"):
            raise
        return _fail(name, f"error: {cause}", 1)


@contextmanager
def releasing_claims() -> Iterator[None]:
    """The outputs this command claimed (`OutputClaim`) are free again when it ends, however it ends."""
    try:
        yield
    finally:
        OutputClaim.release_all()


@contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises `Terminated` in the main thread (Python's default would end the process
    at once, leaving staging folders and journals without their cleanup). The old handler is put back after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    owner = os.getpid()

    def raise_terminated(signum, frame):
        if os.getpid() != owner:  # a forked worker (a `num_proc` pool's) inherited this: it ends as by default
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)
            return
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _interrupt_in_chain(err: BaseException) -> KeyboardInterrupt | None:
    seen: set[int] = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        if isinstance(err, KeyboardInterrupt):
            return err
        err = err.__cause__ or err.__context__
    return None


def _interrupted(name: str, err: KeyboardInterrupt) -> int:
    if isinstance(err, Terminated):
        return _fail(name, "terminated", 143)
    return _fail(name, "interrupted", 130)


def run_script(name: str, make_parser: Callable, main: Callable, argv: Sequence[str] | None = None) -> int:
    """A TRL-style script (`make_parser()` + `main(*parsed args)`) run with `run_module`'s error handling: what
    `python -m rl_critic.train.<method>` and `rl-critic train <method>` both do."""
    from rl_critic.script.parsing import parse_args

    return run_module(name, lambda args: main(*parse_args(make_parser(), args)), argv)


def _fail(name: str, message: str, code: int) -> int:
    """Print the one line, last: progress bars the failure left open are closed first (tqdm would redraw
    them below it when collected)."""
    tqdm_module = sys.modules.get("tqdm.std")
    for bar in list(getattr(getattr(tqdm_module, "tqdm", None), "_instances", ())):
        bar.close()
    print(f"rl-critic {name}: {redacted(message)}", file=sys.stderr)
    return code
