"""One live run per output (`OutputClaim`): a second run on the same output gets one line, whatever it is, and
the first run's clean-up removes only what it wrote itself."""

from __future__ import annotations

import hashlib
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cli_batch import Command, run_commands
from tests.test_hostile_inputs import one_line

ROOT = Path(__file__).resolve().parent.parent
CPU = ["--use_cpu", "true", "--bf16", "false", "--gradient_checkpointing", "false", "--report_to", "none"]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("one_run")
    steps = [
        ["make-synthetic", "--n", "200", "--kind", "pairwise", "--out", str(folder / "raw.parquet")],
        *(
            ["convert", "--source", "llava-critic-pairwise", "--input", str(folder / "raw.parquet"), "--task", task]
            + ["--out", str(folder / task)]
            for task in ("eval", "sft")
        ),
    ]
    for result in run_commands([Command(argv) for argv in steps]):
        assert result.returncode == 0, result.stderr[-1000:]
    return folder


def _started(argv: list[str], lock: Path) -> subprocess.Popen:
    """`rl-critic ARGV` in a process of its own, returned once it holds its output's claim (`lock` exists)."""
    process = subprocess.Popen([sys.executable, "-m", "rl_critic.cli", *argv], cwd=ROOT, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not lock.exists():
        assert process.poll() is None, process.stderr.read().decode()[-1500:]
        assert time.monotonic() < deadline, "the first run never claimed its output"
        time.sleep(0.2)
    return process


def _terminated(process: subprocess.Popen) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=120)


def test_two_evaluations_of_one_output(data, tmp_path):
    out = tmp_path / "eval" / "report.json"
    argv = ["eval", "critic", "--model", "tiny", "--data", str(data / "eval"), "--out", str(out)]
    argv += ["--max-new-tokens", "48", "--chunk", "8"]
    first = _started(argv, tmp_path / "eval" / ".report.json.lock")
    try:
        [second] = run_commands([Command(argv)])
        one_line(second, "eval", f"another run (pid {first.pid}) is writing {out}: wait for it to finish")
    finally:
        assert _terminated(first) == 143
    assert not out.exists() and not (tmp_path / "eval" / ".report.json.lock").exists()


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_two_trainings_into_one_folder_and_a_terminated_one_keeps_the_model_saved_before(data, tmp_path):
    out = tmp_path / "sft"
    argv = ["train", "sft", "--config", str(ROOT / "recipes/tiny/sft_critic.yaml"), "--dataset_name"]
    argv += [str(data / "sft"), "--output_dir", str(out), "--save_strategy", "no", *CPU]
    [finished] = run_commands([Command([*argv, "--max_steps", "2"])])
    assert finished.returncode == 0, finished.stderr[-1500:]
    saved = _sha(out / "model.safetensors")
    running = _started([*argv, "--max_steps", "100000"], tmp_path / ".sft.lock")
    try:
        [second] = run_commands([Command([*argv, "--max_steps", "2"])])
        one_line(second, "train", f"another run (pid {running.pid}) is writing {out}: wait for it to finish")
        time.sleep(5)  # well into its training steps
    finally:
        assert _terminated(running) == 143
    assert _sha(out / "model.safetensors") == saved  # the earlier run's model, untouched by either
    assert not (tmp_path / ".sft.lock").exists()
