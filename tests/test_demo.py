"""`rl-critic demo`: the plan, the report, the stage bookkeeping, and (slow) a reduced run end to end."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from data_converters.errors import UserError
from rl_critic.demo.pipeline import STAGES, Demo
from rl_critic.demo.plan import DemoPlan
from rl_critic.demo.report import _best_of_n_reading, accuracy_table, best_of_n_table, plot_curves
from tests.test_cli import _error_line


def test_plan_scales_with_the_budget():
    full, quick = DemoPlan.for_minutes(10), DemoPlan.for_minutes(2, seed=3)
    assert full.sft_seconds == 240 and full.grpo_seconds == 150
    assert quick.sft_seconds == 48 and quick.grpo_seconds == 30 and quick.seed == 3
    assert quick.train_rows < full.train_rows and quick.test_rows < full.test_rows
    assert full.sft_seconds + full.grpo_seconds < 0.7 * 10 * 60  # room left for evaluation and start-up
    with pytest.raises(ValueError, match="at least 1"):
        DemoPlan.for_minutes(0.5)


def test_demo_cli_errors_are_one_line(capsys):
    assert "--minutes must be at least 1" in _error_line(capsys, ["demo", "--minutes", "0.5", "--out", "x"])


def test_another_plan_needs_force(tmp_path):
    Demo(tmp_path, DemoPlan.for_minutes(3))._check_plan()
    assert json.loads((tmp_path / "plan.json").read_text())["minutes"] == 3
    with pytest.raises(UserError, match="made with other settings"):
        Demo(tmp_path, DemoPlan.for_minutes(4))._check_plan()
    (tmp_path / "stages").mkdir()
    (tmp_path / "stages" / "data.json").write_text("{}")
    Demo(tmp_path, DemoPlan.for_minutes(4), force=True)._check_plan()
    assert not (tmp_path / "stages").exists()
    assert json.loads((tmp_path / "plan.json").read_text())["minutes"] == 4


def _results() -> dict:
    test = lambda accuracy, failures=0.0: {"test": {"accuracy": accuracy, "parse_failure_rate": failures, "n": 200}}  # noqa: E731
    return {
        "data": {"seconds": 20.0},
        "untrained": {**test(0.0, 1.0), "seconds": 15.0},
        "sft": {**test(0.725), "seconds": 200.0, "chosen_step": 700, "train_seconds": 180.0,
                "stopped": "validation threshold", "runs": 2, "chosen_run": "seed-0",
                "validation": {"seed-0": {"100": 0.5, "700": 0.74}, "seed-1000": {"100": 0.46, "600": 0.5}}},
        "grpo": {**test(0.88), "seconds": 150.0, "chosen_step": 125, "train_seconds": 140.0,
                 "stopped": "time budget", "runs": 1, "chosen_run": "grpo",
                 "validation": {"grpo": {"25": 0.75, "125": 0.9}}},
        "blank": {**test(0.515), "seconds": 10.0},
        "best_of_n": {"n": 8, "judgments": 336, "seconds": 30.0,
                      "accuracies": {"questions": 48, "knockout": 0.9, "first": 0.75, "majority": 0.85,
                                     "oracle (any correct)": 1.0}},
    }  # fmt: skip


def test_report_tables_say_what_each_stage_did():
    table = "\n".join(accuracy_table(_results()))
    assert "| untrained | 0.0% | 100.0% | - |" in table
    assert "| SFT warm start (step 700) | 72.5% | 0.0% | 180 s, validation threshold |" in table
    assert "| + GRPO (step 125) | 88.0% | 0.0% | 140 s, time budget |" in table
    assert "| final, blank images | 51.5% |" in table
    bon = "\n".join(best_of_n_table(_results()))
    assert "(48 questions, 8 samples each)" in bon
    assert "| self-critique (knockout) | 90.0% |" in bon and "| majority vote | 85.0% |" in bon
    results = _results()
    assert _best_of_n_reading(results).startswith("Self-critique picked better answers")
    results["best_of_n"]["accuracies"]["knockout"] = 0.8
    assert _best_of_n_reading(results).startswith("Self-critique did not beat the majority vote here")
    assert "critic (88.0% on held-out pairs)" in _best_of_n_reading(results)
    results["best_of_n"]["accuracies"].update(knockout=1.0, first=1.0, majority=1.0)
    assert _best_of_n_reading(results).endswith(
        "matched the best baseline (100.0%): the policy's first sample is "
        "already right 100.0% of the time, little to fix."
    )
    results["best_of_n"]["accuracies"].update(knockout=0.5, first=0.5, majority=0.5)
    assert _best_of_n_reading(results).endswith("(50.0%), with a critic right on 88.0% of held-out pairs.")


def test_reward_curve_is_drawn_from_the_grpo_log(tmp_path):
    history = [{"step": s, "reward": 0.5 + s / 100, "critic/format": 1.0, "critic/accuracy": 0.4 + s / 100}
               for s in range(5, 30, 5)]  # fmt: skip
    (tmp_path / "runs" / "grpo").mkdir(parents=True)
    (tmp_path / "runs" / "grpo" / "log_history.json").write_text(json.dumps({"log_history": history}))
    path = plot_curves(tmp_path, _results())
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000


@pytest.mark.slow
def test_reduced_demo_end_to_end(tmp_path):
    """`rl-critic demo --minutes 2`: every stage through the public commands, a report a user can read,
    a critic that beats the untrained one, and a second call that skips the finished stages."""
    out = tmp_path / "demo"
    command = [sys.executable, "-m", "rl_critic.cli", "demo", "--out", str(out), "--minutes", "2", "--quiet"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    report = (out / "REPORT.md").read_text()
    for heading in ("# rl-critic demo report", "## Self-critique best-of-N", "## Wall time per stage",
                    "## The same on a GPU with Qwen2.5-VL-7B"):  # fmt: skip
        assert heading in report
    rows = dict(
        re.findall(r"^\| (untrained|SFT warm start \(step \d+\)|\+ GRPO \(step \d+\)) \| ([\d.]+)%", report, re.M)
    )
    assert len(rows) == 3, report
    accuracies = [float(value) for value in rows.values()]
    assert accuracies[0] < max(accuracies[1:]), report  # training beats the untrained critic
    assert (out / "reward_curve.png").read_bytes()[:4] == b"\x89PNG"
    assert (out / "final" / "model.safetensors").exists() and not (out / "final" / "optimizer.pt").exists()
    commands = (out / "commands.sh").read_text()
    for public in ("rl-critic make-synthetic", "rl-critic convert", "rl-critic train sft", "rl-critic train grpo",
                   "rl-critic eval critic", "rl-critic best-of-n"):  # fmt: skip
        assert public in commands
    assert sorted(p.stem for p in (out / "stages").glob("*.json")) == sorted(STAGES)
    assert "held-out accuracy" in result.stdout  # the table is printed at the end
    start = time.perf_counter()
    again = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-2000:]
    assert again.stdout.count("skipped") == len(STAGES) and time.perf_counter() - start < 60
    assert Path(out / "REPORT.md").read_text() == report  # same numbers: read back from the stages' files


def test_runner_logs_records_and_fails_with_one_line(tmp_path):
    from rl_critic.demo.runner import Runner

    runner = Runner(tmp_path, echo=False)
    runner.run(["make-synthetic", "--n", "3", "--out", str(tmp_path / "d.parquet")], "synthetic")
    assert (tmp_path / "d.parquet").exists()
    assert "wrote 3 rows" in (tmp_path / "logs" / "synthetic.log").read_text()
    with pytest.raises(UserError, match=r"bad failed \(exit 1\): rl-critic make-synthetic: error: --n must be >= 0"):
        runner.run(["make-synthetic", "--n", "-1", "--out", str(tmp_path / "e.parquet")], "bad")
    lines = (tmp_path / "commands.sh").read_text().splitlines()
    assert lines[0] == "#!/bin/sh" and lines[-2].startswith("rl-critic make-synthetic --n 3 --out ")
    assert lines[-1].startswith("rl-critic make-synthetic --n -1")


def test_a_stopped_command_does_not_outlive_the_demo(tmp_path):
    from rl_critic.demo.runner import Process

    script = "import time; print('started', flush=True); time.sleep(60)"
    process = Process([sys.executable, "-c", script], tmp_path / "sleep.log", echo=False, threads=1)
    deadline = time.monotonic() + 20
    while "started" not in (tmp_path / "sleep.log").read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "started" in (tmp_path / "sleep.log").read_text() and process.running()  # the log is live
    process.stop()
    assert not process.running() and process.wait(check=False) == -15
