"""Running the demo's stages as the public `rl-critic` commands a user would type.

Every command is a subprocess of the same Python (so the demo is also the integration test of the CLI),
its output (TRL's per-step dicts, library warnings) copied to `logs/<name>.log` only; the terminal shows
the stage lines and, for a training run, one progress bar read from the trainer's own step counter. Each
command line is appended to `commands.sh`, so the whole run can be replayed by hand. A failing command
stops the demo with a one-line error naming its log.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import threading
import time
from pathlib import Path

from rl_critic.ground.errors import UserError

# Threads of a command run on its own. A fixed number, not the machine's core count: torch's CPU kernels split
# their sums by thread, so another count rounds differently and, through greedy decoding, can change a result.
SEQUENTIAL_THREADS = 2


class Process:
    """One running command: output pumped to its log; `bar` (a tqdm bar of `total` steps) follows the
    trainer's `step/total` counter in that output."""

    def __init__(self, argv: list[str], log: Path, threads: int | None, bar=None) -> None:
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
        self.bar = bar
        self._counter = re.compile(rb"(\d+)/%d \[" % bar.total) if bar is not None else None
        self._pump = threading.Thread(target=self._copy, daemon=True)
        self._pump.start()

    def _copy(self) -> None:
        assert self._popen.stdout is not None
        while chunk := os.read(self._popen.stdout.fileno(), 65536):
            self._handle.write(chunk)
            self._handle.flush()  # `tail -f logs/<name>.log` follows a command live
            if self._counter is not None and (steps := self._counter.findall(chunk)):
                self.bar.update(int(steps[-1]) - self.bar.n)
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
        if self.bar is not None:
            self.bar.close()
        if check and code != 0:
            raise UserError(f"{self.name} failed (exit {code}): {self.last_line()[:200]} (full log: {self.log})")
        return code

    def last_line(self) -> str:
        """The last line the command wrote (its error line, when it failed)."""
        return (self.log.read_text(errors="replace").strip().splitlines()[-1:] or [""])[0]


class Runner:
    """Starts `rl-critic` commands for one demo folder and records them."""

    def __init__(self, out: Path, progress: bool = True) -> None:
        self.out = out
        self.progress = progress
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

    def start(
        self, args: list[str], log: str, threads: int | None = None, steps: int | None = None, position: int = 0
    ) -> Process:
        """Start a command; with `steps` (a training run's max_steps) a progress bar follows it."""
        bar = None
        if steps and self.progress:
            from tqdm import tqdm

            bar = tqdm(total=steps, desc=f"  {log}", unit="step", position=position, leave=False, dynamic_ncols=True)
        return Process(self._argv(args), self.logs / f"{log}.log", threads, bar)

    def run(self, args: list[str], log: str, threads: int = SEQUENTIAL_THREADS, steps: int | None = None) -> None:
        process = self.start(args, log, threads, steps)
        try:
            process.wait()
        except BaseException:  # interrupted or killed: take the command down too, no orphan keeps running
            process.stop()
            raise

    def run_parallel(self, commands: list[tuple[list[str], str]], check: bool = True) -> dict[str, str]:
        """Run commands side by side, one thread each, two at a time where there are two cores: these small
        commands spend most of their time importing and starting, so two at once take half the time. A failed
        command stops them all, or with `check=False` is returned (its log name -> its last line) and the others
        go on."""
        width, pending, running, failed = max(1, min(2, os.cpu_count() or 1)), list(commands), [], {}
        try:
            while pending or running:
                while pending and len(running) < width:
                    args, log = pending.pop(0)
                    running.append(self.start(args, log, threads=1))
                finished = [process for process in running if not process.running()]
                for process in finished:
                    running.remove(process)
                    if process.wait(check=check) != 0:
                        failed[process.name] = process.last_line()
                if not finished:
                    time.sleep(0.2)
        except BaseException:  # one failed or the demo was interrupted: stop the others too
            for process in running:
                process.stop()
            raise
        return failed
