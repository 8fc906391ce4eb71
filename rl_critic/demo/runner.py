"""Running the demo's stages as the public `rl-critic` commands a user would type.

Every command is a subprocess of the same Python (so the demo is also the integration test of the CLI),
its output copied to `logs/<name>.log` and, for the foreground command, to the terminal (progress bars
included). Each command line is appended to `commands.sh`, so the whole run can be replayed by hand.
A failing command stops the demo with a one-line error naming its log.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import threading
from pathlib import Path

from data_converters.errors import UserError


class Process:
    """One running command: output pumped to its log (and the terminal when `echo`)."""

    def __init__(self, argv: list[str], log: Path, echo: bool, threads: int | None) -> None:
        env = dict(os.environ)
        if threads:
            # On 2 cores one thread runs these tiny models as fast as two, so two commands can share the machine.
            env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
        env.setdefault("PYTHONUNBUFFERED", "1")
        self.log = log
        self.name = log.stem
        log.parent.mkdir(parents=True, exist_ok=True)
        self._handle = open(log, "wb")
        self._popen = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
        self._pump = threading.Thread(target=self._copy, args=(echo,), daemon=True)
        self._pump.start()

    def _copy(self, echo: bool) -> None:
        assert self._popen.stdout is not None
        while chunk := os.read(self._popen.stdout.fileno(), 65536):
            self._handle.write(chunk)
            self._handle.flush()  # `tail -f logs/<name>.log` follows a command live
            if echo:
                sys.stdout.buffer.write(chunk)
                sys.stdout.flush()
        self._handle.flush()

    def running(self) -> bool:
        return self._popen.poll() is None

    def stop(self) -> None:
        """Ask the command to end (SIGTERM), as a user pressing Ctrl-C would; checkpoints on disk stay."""
        if self.running():
            self._popen.terminate()
        self.wait(check=False)

    def wait(self, check: bool = True) -> int:
        code = self._popen.wait()
        self._pump.join()
        self._handle.close()
        if check and code != 0:
            tail = self.log.read_text(errors="replace").strip().splitlines()[-1:] or [""]
            raise UserError(f"{self.name} failed (exit {code}): {tail[0][:200]} (full log: {self.log})")
        return code


class Runner:
    """Starts `rl-critic` commands for one demo folder and records them."""

    def __init__(self, out: Path, echo: bool = True) -> None:
        self.out = out
        self.echo = echo
        self.logs = out / "logs"
        self.script = out / "commands.sh"

    def _argv(self, args: list[str]) -> list[str]:
        self.logs.mkdir(parents=True, exist_ok=True)
        new = not self.script.exists()
        with open(self.script, "a", encoding="utf-8") as handle:
            if new:
                handle.write(
                    "#!/bin/sh\n# The commands `rl-critic demo` ran, in order (run from the same folder).\nset -e\n"
                )
            handle.write("rl-critic " + shlex.join(args) + "\n")
        return [sys.executable, "-m", "rl_critic.cli", *args]

    def start(self, args: list[str], log: str, echo: bool | None = None, threads: int | None = None) -> Process:
        return Process(self._argv(args), self.logs / f"{log}.log", self.echo if echo is None else echo, threads)

    def run(self, args: list[str], log: str, echo: bool | None = None, threads: int | None = None) -> None:
        process = self.start(args, log, echo, threads)
        try:
            process.wait()
        except BaseException:  # interrupted or killed: take the command down too, no orphan keeps running
            process.stop()
            raise
