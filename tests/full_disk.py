"""Run rl-critic commands as if the disk filled up: `python -m tests.full_disk '[[limit, argv], ...]'`.

Each command runs with a file-size limit (`RLIMIT_FSIZE`): the kernel then fails any write past `limit` bytes
with EFBIG, in Python, C++ (pyarrow) and Rust (safetensors, tokenizers) alike, exactly where a full disk
fails with ENOSPC. Results go to stdout (a pipe, which the limit does not touch) as one JSON list of
`{"argv", "rc", "stderr"}`.
"""

from __future__ import annotations

import contextlib
import io
import json
import resource
import signal
import sys
import traceback

from rl_critic.cli import main


def run(commands: list[tuple[int, list[str]]]) -> list[dict]:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write fails with EFBIG instead of killing the process
    results = []
    for limit, argv in commands:
        stderr = io.StringIO()
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
            try:
                code = main(argv)
            except BaseException:  # noqa: BLE001 - the test reports it as a traceback
                traceback.print_exc(file=stderr)
                code = -1
        resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        results.append({"argv": argv, "rc": code, "stderr": stderr.getvalue()})
    return results


if __name__ == "__main__":
    print(json.dumps(run(json.loads(sys.argv[1]))))
