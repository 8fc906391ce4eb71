"""Many `rl-critic` commands, each in a process of its own, for the price of one start-up.

A subprocess test of every bad input would pay Python's and torch's imports (3-5 s) per command. Here one
server process imports them once, then forks a child per command: each child is a real process (its own
exit status, signals, stdin, stdout and stderr, working directory and environment) that runs the CLI's
`main` as the console script does. `run_commands` sends the commands and returns what each printed.

    python -m tests.cli_batch     (what `run_commands` starts: a JSON list of commands a line in, results out)
"""

from __future__ import annotations

import atexit
import glob
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass
class Command:
    """One command line (`argv` after `rl-critic`), where and how it runs."""

    argv: list[str]
    cwd: str | None = None
    env: dict[str, str] = field(default_factory=dict)  # added to the environment
    timeout: float = 120.0
    stdin: str | None = None  # a file to read standard input from (default: nothing)
    stdin_text: str | None = None  # or this text, through a pipe (as `cat recipe.yaml | rl-critic ...`)
    # (seconds, signal): sent after that long to the command's process group (the command and any workers it
    # started), as a terminal sends Ctrl-C (SIGINT) to the foreground group
    signal_after: tuple[float, int] | None = None
    signal_once: str | None = None  # a glob: the `signal_after` seconds count from when a path matches it


@dataclass
class Result:
    returncode: int  # negative: killed by that signal; None never: a command past its timeout is killed (-9)
    stdout: str
    stderr: str
    seconds: float
    timed_out: bool = False

    @property
    def last_line(self) -> str:
        lines = self.stderr.strip().splitlines()
        return lines[-1] if lines else ""


_server: subprocess.Popen | None = None


def run_commands(commands: list[Command]) -> list[Result]:
    """Run `commands` (each forked from the warm server, one after the other) and return their results. The
    server starts on the first call and serves every later one (of this test session), so its imports are
    paid once; it inherits this process's environment as it was then."""
    global _server
    if _server is None or _server.poll() is not None:
        log = tempfile.NamedTemporaryFile(prefix="rl-critic-cli-batch-", suffix=".log", delete=False)  # noqa: SIM115
        _server = subprocess.Popen(
            [sys.executable, "-m", "tests.cli_batch"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            cwd=Path(__file__).resolve().parent.parent,
        )
        _server.log = log.name
        atexit.register(_stop, _server)
    _server.stdin.write(json.dumps([asdict(command) for command in commands]) + "\n")
    _server.stdin.flush()
    answer = _server.stdout.readline()
    if not answer:
        raise RuntimeError(f"cli_batch server died: {Path(_server.log).read_text()[-2000:]}")
    return [Result(**result) for result in json.loads(answer)]


def _stop(server: subprocess.Popen) -> None:
    if server.poll() is None:
        server.stdin.close()
        server.wait(timeout=30)
    Path(server.log).unlink(missing_ok=True)


def _serve() -> None:
    import rl_critic.cli  # noqa: F401 - imported once here, shared by every child
    from rl_critic.cli import main

    for module in ("torch", "transformers", "trl", "datasets", "peft", "PIL.Image", "qwen_vl_utils"):
        __import__(module)
    for line in sys.stdin:  # one batch of commands a line, one line of results back
        commands = [Command(**command) for command in json.loads(line)]
        sys.stdout.write(json.dumps([asdict(_run(command, main)) for command in commands]) + "\n")
        sys.stdout.flush()


def _run(command: Command, main) -> Result:
    with tempfile.TemporaryDirectory(prefix="rl-critic-cli-batch-") as folder:
        out, err = Path(folder) / "stdout", Path(folder) / "stderr"
        start = time.monotonic()
        pipe = os.pipe() if command.stdin_text is not None else None
        pid = os.fork()
        if pid == 0:  # the child: becomes the command
            code = 1
            try:
                if pipe:
                    os.close(pipe[1])
                    os.dup2(pipe[0], 0)
                _become(command, out, err)
                code = main(command.argv)
            except SystemExit as exit_:
                code = exit_.code if isinstance(exit_.code, int) else 1
            except BaseException:
                import traceback

                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code if isinstance(code, int) else 1)
        if pipe:
            os.close(pipe[0])
            with os.fdopen(pipe[1], "w") as writer:  # a recipe fits the pipe's buffer: written before it is read
                writer.write(command.stdin_text)
        try:
            os.setpgid(pid, pid)  # also done by the child: whichever comes first, before any signal is sent
        except OSError:
            pass
        status, timed_out, signalled, armed = None, False, False, None if command.signal_once else start
        while status is None:
            finished, raw = os.waitpid(pid, os.WNOHANG)
            if finished:
                status = raw
                break
            elapsed = time.monotonic() - start
            if armed is None and command.signal_once and glob.glob(command.signal_once):
                armed = time.monotonic()
            ready = armed is not None and time.monotonic() - armed >= (command.signal_after or (0, 0))[0]
            if command.signal_after and not signalled and ready:
                os.killpg(pid, command.signal_after[1])
                signalled = True
            if elapsed > command.timeout:
                os.killpg(pid, signal.SIGKILL)
                timed_out = True
                _, status = os.waitpid(pid, 0)
                break
            time.sleep(0.02)
        code = os.waitstatus_to_exitcode(status)
        return Result(
            code,
            out.read_text(errors="replace"),
            err.read_text(errors="replace"),
            round(time.monotonic() - start, 2),
            timed_out,
        )


def _become(command: Command, out: Path, err: Path) -> None:
    """In the child: its own process group, standard streams, directory and environment of the command."""
    os.setpgid(0, 0)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if command.stdin_text is None:
        os.dup2(os.open(command.stdin or os.devnull, os.O_RDONLY), 0)
    for path, descriptor in ((out, 1), (err, 2)):
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(handle, descriptor)
    sys.stdin = open(0, closefd=False)  # noqa: SIM115 - the process's own stream
    sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
    os.environ.update(command.env)
    if command.cwd:
        os.chdir(command.cwd)


if __name__ == "__main__":
    _serve()
