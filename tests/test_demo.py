"""`rl-critic demo`: the plan, the report, the stage bookkeeping, and (slow) a reduced run end to end."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from rl_critic.demo.figures import plot_curves, plot_policy
from rl_critic.demo.pipeline import STAGES, Demo
from rl_critic.demo.plan import DemoPlan
from rl_critic.demo.report import _best_of_n_reading, accuracy_table, best_of_n_table, policy_table, summary
from rl_critic.demo.watch import in_step_order, train_watched, twice_at_least
from rl_critic.ground.errors import UserError
from tests.test_cli import _error_line


def test_plan_is_in_steps_and_the_same_on_any_machine(monkeypatch):
    full, reduced = DemoPlan.for_minutes(12), DemoPlan.for_minutes(2, seed=3)
    assert (full.name, full.sft_steps, full.sft_every, full.grpo_steps, full.policy_grpo_steps) == (
        "full",
        2000,
        100,
        50,
        100,
    )
    # the curriculum's short-layout phase ends on a validation step, inside the warm start's budget
    for plan in (full, DemoPlan.for_minutes(2)):
        assert 0 < plan.sft_short_first_steps < plan.sft_steps and plan.sft_short_first_steps % plan.sft_every == 0
    assert reduced.name == "reduced" and reduced.seed == 3 and reduced.dpo_rounds == 1 and reduced.sft_steps == 300
    assert reduced.critic_rows < full.critic_rows and reduced.test_questions < full.test_questions
    assert replace(DemoPlan.for_minutes(30), minutes=8) == DemoPlan.for_minutes(8)  # more minutes, not more steps
    assert 6 < full.estimated_minutes() <= 12 and reduced.estimated_minutes() < full.estimated_minutes()
    monkeypatch.setattr("os.cpu_count", lambda: 64)  # nothing in the plan follows the machine
    assert DemoPlan.for_minutes(12) == full
    with pytest.raises(ValueError, match="at least 1"):
        DemoPlan.for_minutes(0.5)


def test_demo_cli_errors_are_one_line(capsys, tmp_path):
    assert "--minutes must be at least 1" in _error_line(capsys, ["demo", "--minutes", "0.5", "--out", "x"])
    a_file = tmp_path / "taken"
    a_file.write_text("keep me")
    assert "is a file" in _error_line(capsys, ["demo", "--out", str(a_file)])
    assert a_file.read_text() == "keep me"


def test_another_plan_needs_force(tmp_path):
    Demo(tmp_path, DemoPlan.for_minutes(3))._check_plan()
    assert json.loads((tmp_path / "plan.json").read_text())["minutes"] == 3
    Demo(tmp_path, DemoPlan.for_minutes(4))._check_plan()  # the same plan: the minutes only picked it
    with pytest.raises(UserError, match=r"made with other settings \(answer_steps 60 -> 300, best_of_n 4 -> 8, "):
        Demo(tmp_path, DemoPlan.for_minutes(12))._check_plan()
    (tmp_path / "stages").mkdir()
    (tmp_path / "stages" / "data.json").write_text("{}")
    Demo(tmp_path, DemoPlan.for_minutes(12), force=True)._check_plan()
    assert not (tmp_path / "stages").exists()
    assert json.loads((tmp_path / "plan.json").read_text())["minutes"] == 12


def _results() -> dict:
    test = lambda accuracy, failures=0.0: {"test": {"accuracy": accuracy, "parse_failure_rate": failures, "n": 200}}  # noqa: E731
    return {
        "data": {
            "seconds": 20.0,
            "hard_negatives": {"sft-r1-replay": {"rate": 0.5, "rows": 1009}, "grpo": {"rate": 0.5, "rows": 8093}},
        },
        "start": {"seconds": 30.0, "steps": 200, "validation": 0.6},
        "untrained": {**test(0.0, 1.0), "seconds": 15.0},
        "sft": {
            **test(0.725),
            "seconds": 200.0,
            "chosen_step": 700,
            "train_seconds": 180.0,
            "steps": 1500,
            "stopped": "validation target",
            "chosen_run": "seed-1000",
            "validation": {
                "seed-0": {"100": 0.5, "600": 0.5, "700": 0.5},
                "seed-1000": {"100": 0.5, "600": 0.92, "700": 0.94},
            },
        },
        "answers": {**test(0.74), "seconds": 30.0, "steps": 60},
        "grpo": {
            **test(0.88),
            "seconds": 150.0,
            "chosen_step": 125,
            "train_seconds": 140.0,
            "steps": 150,
            "stopped": "last step",
            "chosen_run": "grpo",
            "validation": {"grpo": {"25": 0.75, "125": 0.9}},
        },
        "blank": {**test(0.515), "drawn": test(0.865)["test"], "seconds": 10.0},
        "probes": {
            "seconds": 40.0,
            "probes": {
                "position": {"n": 200, "rate": 0.0, "low": 0.0, "high": 0.019, "first_share": 0.5},
                "master_key": {
                    "n": 1400,
                    "rate": 0.012,
                    "low": 0.007,
                    "high": 0.02,
                    "variants": {"colon": {"n": 200, "rate": 0.05, "low": 0.027, "high": 0.09}},
                },
            },
        },
        "best_of_n": {
            "n": 8,
            "judgments": 336,
            "seconds": 30.0,
            "accuracies": {
                "questions": 48,
                "knockout": 0.9,
                "first": 0.75,
                "majority": 0.85,
                "oracle (any correct)": 1.0,
            },
        },
        "critic_dpo": {
            "seconds": 90.0,
            "runs": {
                "critic_dpo": {
                    "rounds": [{}] * 3,
                    "test_by_round": [0.6, 0.7, 0.8],
                    "judgments": 10800,
                    "preferences": 700,
                    "chosen_round": 3,
                },
                "critic_dpo_random": {
                    "rounds": [{}] * 3,
                    "test_by_round": [0.5, 0.52, 0.49],
                    "judgments": 10800,
                    "preferences": 880,
                    "chosen_round": 2,
                },
            },
        },
        "policy_grpo": {
            "validation": {"critic_grpo": {"10": 0.55, "20": 0.7}, "rule_grpo": {"10": 0.6, "20": 0.8}},
            "critic_grpo": {
                "chosen_step": 20,
                "steps": 20,
                "judgments": 4800,
                "steps_to_target": 8,
                "completions_to_target": 108,
                "judgments_to_target": 68,
                "master_key_win_rate_max": 0.25,
                "hacking_alarms": 0,
            },
            "critic_grpo_control": {
                "chosen_step": 20,
                "steps": 20,
                "judgments": 3000,
                "steps_to_target": 20,
                "completions_to_target": 80,
                "judgments_to_target": 56,
            },
            "rule_grpo": {"chosen_step": 20, "steps": 20, "steps_to_target": 20, "completions_to_target": 184},
            "rule_grpo_control": {"chosen_step": 20, "steps": 20, "steps_to_target": None},
            "train_seconds": 80.0,
            "steps": 20,
            "seconds": 100.0,
        },
        "policy_eval": {
            "seconds": 20.0,
            "questions": 200,
            "accuracy": {
                "start": 0.5,
                "critic_dpo": 0.8,
                "critic_dpo_random": 0.49,
                "critic_grpo": 0.71,
                "rule_grpo": 0.82,
                "critic (final)": 0.3,
            },
        },
    }


def test_policy_table_shows_each_method_against_the_start():
    table = "\n".join(policy_table(_results()))
    assert "| policy (200 held-out questions) | greedy accuracy | vs start | critic judgments spent |" in table
    assert "| starting policy | 50.0% | - | - |" in table
    assert "| critic-DPO, trained critic judges (round 3 of 3) | 80.0% | +30.0 | 10,800 |" in table
    assert "| critic-DPO, coin-flip judge (control, round 2 of 3) | 49.0% | -1.0 | 0 (random verdicts) |" in table
    assert "| GRPO, critic as reward (step 20) | 71.0% | +21.0 | 4,800 |" in table
    numbers = summary(DemoPlan.for_minutes(12), _results(), 700.0, 1000.0)
    assert numbers["policy"]["gain_over_start"]["critic_dpo"] == pytest.approx(0.3)
    assert numbers["critic"]["sft"]["accuracy"] == 0.725 and numbers["self_critique"]["knockout"] == 0.9
    assert json.loads(json.dumps(numbers)) == numbers  # machine-readable as it is


def test_a_critic_dpo_run_too_short_to_learn_is_named_in_the_report():
    """The reduced plan's critic-DPO can make no preference pair: its row and its stage line say so."""
    from rl_critic.demo.pipeline import outcome
    from rl_critic.demo.policy_stages import NOT_LEARNED

    results = _results()
    results["critic_dpo"]["runs"]["critic_dpo"] = {**NOT_LEARNED, "too_short": "critic-DPO round_1: no preference pair"}
    table = "\n".join(policy_table(results))
    assert "| critic-DPO, trained critic judges (too short to learn: no preference pair, the start policy) |" in table
    line = outcome("critic_dpo", results["critic_dpo"])
    assert line.startswith("critic_dpo too short to learn (no preference pair), critic_dpo_random"), line


def test_dynamic_sampling_table_compares_each_grpo_run_with_its_control():
    from rl_critic.demo.report import dynamic_sampling_table

    table = "\n".join(dynamic_sampling_table(_results()))
    assert "| policy GRPO, to validation >= 90% (checked every 4 steps) | optimizer steps |" in table
    assert "| critic as reward, with dynamic sampling | 8 | 108 | 68 |" in table
    assert "| critic as reward, without (control) | 20 | 80 | 56 |" in table
    assert "| critic as reward: with / without | 0.40x | 1.35x | 1.21x |" in table
    assert "| rule reward, without (control) | not reached | not reached | - |" in table
    assert "| rule reward: with / without | - | - | - |" in table  # no ratio against a run that never got there
    numbers = summary(DemoPlan.for_minutes(12), _results(), 700.0, 1000.0)
    assert numbers["policy"]["grpo_to_target"]["critic_grpo_control"]["steps_to_target"] == 20


def test_a_critic_that_never_learned_stops_the_demo_with_one_line():
    from rl_critic.demo.critic_stages import critic_did_not_learn

    curves = {"seed-1": {"100": 0.3, "1500": 0.52, "1600": 0.52}, "seed-1001": {"100": 0.5, "1200": 0.76}}
    line = critic_did_not_learn({"steps": 2000, "validation": curves}, 0.9, seed=1)
    assert line.startswith("the critic did not learn to judge on seed 1: its 2 runs stayed below ")
    assert "(90% twice in a row) for all 2000 steps (best 76.0% at step 1200, seed-1001)" in line
    assert "\n" not in line and "another --seed" in line


def test_the_report_says_whether_the_critic_can_be_gamed():
    from rl_critic.demo.report import probe_section

    text = "\n".join(probe_section(DemoPlan.for_minutes(12), _results()))
    assert "hard negatives while it got its answers back and in its GRPO (`convert --hard_negatives 0.5` on" in text
    assert "critic rows and on the GRPO prompts: 1,009 and 8,093 pairs whose worse response is a master key" in text
    assert "was preferred to the better one at a rate of **0.012** (95% interval 0.007 - 0.020)" in text
    assert (
        "| master_key | all | 1400 | 0.012 | 0.007 - 0.020 |" in text and "| master_key | colon | 200 | 0.050 |" in text
    )
    assert "critic_grpo: worst key won 25.0% of its probes, 0 alarm(s)" in text
    control = "\n".join(probe_section(DemoPlan.for_minutes(12, hard_negatives=0), _results()))
    assert "The critic trained without hard negatives (`--hard_negatives 0`, the control)" in control


def test_policy_curve_is_drawn(tmp_path):
    path = plot_policy(tmp_path, _results())
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000


def test_report_tables_say_what_each_stage_did():
    table = "\n".join(accuracy_table(_results()))
    assert "| base policy, no critic training | 0.0% | 100.0% | - |" in table
    assert "| SFT warm start (step 700) | 72.5% | 0.0% | 1500 steps at most, validation target |" in table
    assert "| + its answers back | 74.0% | 0.0% | 60 steps |" in table
    assert "| + GRPO (step 125) | 88.0% | 0.0% | 150 steps, best on validation |" in table
    assert "| final, blank images | 51.5% |" in table
    assert "| final, pictures drawn differently | 86.5% | 0.0% | - |" in table
    older = _results()
    del older["blank"]["drawn"]  # a demo folder from before the drawn-differently split still reports
    assert "drawn differently" not in "\n".join(accuracy_table(older))
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
    history = [
        {"step": s, "reward": 0.5 + s / 100, "critic/format": 1.0, "critic/accuracy": 0.4 + s / 100}
        for s in range(5, 30, 5)
    ]
    (tmp_path / "runs" / "grpo").mkdir(parents=True)
    (tmp_path / "runs" / "grpo" / "log_history.json").write_text(json.dumps({"log_history": history}))
    path = plot_curves(tmp_path, _results())
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000


@pytest.mark.slow
def test_reduced_demo_end_to_end(tmp_path):
    """`rl-critic demo --minutes 2`: every stage through the public commands, a report a user can read with
    both tables and figures, every model a loadable folder, a second call that skips finished stages, and the
    same numbers from a second run on a machine made slower. The reduced plan is too short for its critic to rank
    answers apart (issue 46): critic-DPO then makes no preference pair, and the report says so where it is."""
    out = tmp_path / "demo"
    command = [sys.executable, "-m", "rl_critic.cli", "demo", "--out", str(out), "--minutes", "2", "--quiet"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    report = (out / "REPORT.md").read_text()
    for heading in (
        "# rl-critic demo report",
        "## The critic",
        "## The policy: three ways the critic makes it better",
        "## Self-critique best-of-N",
        "## Wall time per stage",
        "## The same on a GPU with Qwen2.5-VL-7B",
    ):
        assert heading in report
    rows = re.findall(
        r"^\| (base policy, no critic training|SFT warm start \(step \d+\)|\+ GRPO \(step \d+\)) "
        r"\| ([\d.]+)%",
        report,
        re.M,
    )
    assert len(rows) == 3, report
    assert re.search(r"^\| critic-DPO, coin-flip judge \(control, round 1 of 1\) \| [\d.]+% \|", report, re.M), report
    assert re.search(
        r"^\| critic-DPO, trained critic judges \((round 1 of 1|too short to learn: no preference pair, the start "
        r"policy)\) \| [\d.]+% \|",
        report,
        re.M,
    ), report
    for figure in ("reward_curve.png", "policy_curve.png"):
        assert (out / figure).read_bytes()[:4] == b"\x89PNG"
    numbers = json.loads((out / "summary.json").read_text())
    assert set(numbers["policy"]["greedy_accuracy"]) == {
        "start",
        "critic_dpo",
        "critic_dpo_random",
        "critic_grpo",
        "rule_grpo",
        "critic (final)",
    }
    assert (out / "final" / "model.safetensors").exists() and not (out / "final" / "optimizer.pt").exists()
    from rl_critic.models.loader import ModelArguments, load_model_and_processor

    for policy in ("start", "critic_dpo", "critic_dpo_random", "critic_grpo", "rule_grpo"):  # every policy loads
        model, _ = load_model_and_processor(ModelArguments(model_name_or_path=str(out / "policy" / policy)))
        assert sum(p.numel() for p in model.parameters()) > 100_000
    commands = (out / "commands.sh").read_text()
    for public in (
        "rl-critic make-synthetic",
        "rl-critic convert",
        "rl-critic train sft",
        "rl-critic train grpo",
        "rl-critic eval critic",
        "rl-critic best-of-n",
        "rl-critic make-pairs",
        "rl-critic train critic-dpo",
        "rl-critic eval policy",
    ):
        assert public in commands
    assert "'loss'" not in result.stdout  # TRL's per-step dicts stay in logs/
    assert sorted(p.stem for p in (out / "stages").glob("*.json")) == sorted(STAGES)
    assert "held-out pair accuracy" in result.stdout and "greedy accuracy" in result.stdout  # tables at the end
    start = time.perf_counter()
    again = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-2000:]
    assert again.stdout.count("skipped") == len(STAGES) and time.perf_counter() - start < 60
    assert Path(out / "REPORT.md").read_text() == report  # same numbers: read back from the stages' files


STAGES_BEFORE_CRITIC_DPO = (
    "data",
    "base",
    "start",
    "pairs",
    "untrained",
    "sft",
    "answers",
    "grpo",
    "blank",
    "best_of_n",
)


def _stage_numbers(out: Path, busy_loops: int) -> dict:
    """The reduced plan's stages up to self-critique (the ones that trained on a wall clock before issue 33), run
    in this process with `busy_loops` processes spinning beside them; each stage's result less its times."""
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(busy_loops)]
    try:
        demo = Demo(out, DemoPlan.for_minutes(2), progress=False)
        demo._check_plan()
        numbers = {}
        for name in STAGES_BEFORE_CRITIC_DPO:
            demo.results[name] = getattr(demo, f"stage_{name}")()
            numbers[name] = {k: v for k, v in demo.results[name].items() if "seconds" not in k}
    finally:
        for loop in busy:
            loop.kill()
    return json.loads(json.dumps(numbers).replace(str(out), "OUT"))


@pytest.mark.slow
def test_a_slower_machine_gives_the_same_numbers(tmp_path):
    """Same seed and plan, once alone and once with two busy loops taking the 2 cores (a machine ~3x slower):
    budgets are steps and every checkpoint is scored, so every number is the same; only the times differ."""
    start = time.perf_counter()
    alone = _stage_numbers(tmp_path / "alone", busy_loops=0)
    alone_seconds = time.perf_counter() - start
    slowed = _stage_numbers(tmp_path / "slowed", busy_loops=2)
    assert time.perf_counter() - start - alone_seconds > 1.3 * alone_seconds  # it did run slower
    assert slowed == alone
    # both racing runs, every checkpoint after the 100 short-layout steps (150 to 300, one each 50) scored
    assert {run: list(curve) for run, curve in alone["sft"]["validation"].items()} == {
        "seed-0": ["150", "200", "250", "300"],
        "seed-1000": ["150", "200", "250", "300"],
    }


def test_runner_logs_records_and_fails_with_one_line(tmp_path):
    from rl_critic.demo.runner import Runner

    runner = Runner(tmp_path, progress=False)
    runner.run(["make-synthetic", "--n", "3", "--out", str(tmp_path / "d.parquet")], "synthetic")
    assert (tmp_path / "d.parquet").exists()
    assert "wrote 3 rows" in (tmp_path / "logs" / "synthetic.log").read_text()
    with pytest.raises(
        UserError, match=r"bad failed \(exit 1\): rl-critic make-synthetic: error: n must be greater than 0"
    ):
        runner.run(["make-synthetic", "--n", "-1", "--out", str(tmp_path / "e.parquet")], "bad")
    lines = (tmp_path / "commands.sh").read_text().splitlines()
    assert lines[0] == "#!/bin/sh" and lines[-2].startswith("rl-critic make-synthetic --n 3 --out ")
    assert lines[-1].startswith("rl-critic make-synthetic --n -1")


def test_a_stopped_command_does_not_outlive_the_demo(tmp_path):
    from rl_critic.demo.runner import Process

    script = "import time; print('started', flush=True); time.sleep(60)"
    process = Process([sys.executable, "-c", script], tmp_path / "sleep.log", threads=1)
    deadline = time.monotonic() + 20
    while "started" not in (tmp_path / "sleep.log").read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "started" in (tmp_path / "sleep.log").read_text() and process.running()  # the log is live
    process.stop()
    assert not process.running() and process.wait(check=False) == -15


def test_the_confused_annotator_calls_green_blue_and_yellow_red_and_nothing_else():
    """The starting policy's teacher says blue for green and red for yellow about CONFUSION_RATE of the time,
    and leaves every other answer as it is."""
    import random

    from rl_critic.demo.annotator import CONFUSION_RATE, confused_answer

    rng = random.Random(0)
    for colour, twin in (("green", "blue"), ("yellow", "red")):
        answers = [confused_answer(f"The shape is {colour}.", rng) for _ in range(2000)]
        assert set(answers) == {f"The shape is {twin}.", f"The shape is {colour}."}
        assert abs(answers.count(f"The shape is {twin}.") / len(answers) - CONFUSION_RATE) < 0.04
    for answer in ("The shape is blue.", "The shape is red.", "The circle is purple."):
        assert {confused_answer(answer, rng) for _ in range(200)} == {answer}


def test_run_parallel_returns_the_failed_commands_when_asked_and_stops_otherwise(tmp_path):
    from rl_critic.demo.runner import Runner
    from rl_critic.ground.errors import UserError

    runner = Runner(tmp_path, progress=False)
    commands = [(["env"], "fine"), (["convert", "--source", "nope"], "broken")]
    failed = runner.run_parallel(commands, check=False)
    assert list(failed) == ["broken"] and failed["broken"].startswith("rl-critic convert: error:"), failed
    with pytest.raises(UserError, match=r"broken failed \(exit 2\)"):
        runner.run_parallel(commands)


class _FinishedTraining:
    """A training run that already wrote its checkpoints (what `train_watched` reads), for the bookkeeping alone."""

    def __init__(self, output_dir: Path, steps: list[int]) -> None:
        for step in steps:
            (output_dir / f"checkpoint-{step}").mkdir(parents=True)
            (output_dir / f"checkpoint-{step}" / "trainer_state.json").write_text("{}")

    def running(self) -> bool:
        return False

    def wait(self, check: bool = True) -> int:
        return 0


def test_a_curriculum_phase_is_watched_in_steps_from_the_start_of_training(tmp_path):
    """The warm start's second phase (after 400 short-layout steps) saves checkpoint-100, -200, ...: they are
    scored, reported and chosen as steps 500, 600, ..., and the chosen folder is still the run's own."""

    class Runner:
        def start(self, argv, log, threads, steps, position):
            return _FinishedTraining(Path(argv[argv.index("--output_dir") + 1]), [100, 200, 300])

    scored, said = [], []
    accuracy = {"step-500": 0.5, "step-600": 0.95, "step-700": 0.97}

    def score(checkpoint: Path, name: str) -> float:
        scored.append((checkpoint.name, name))
        return accuracy[name.rsplit("/", 1)[1]]

    run = train_watched(
        Runner(), tmp_path / "sft", "sft", {"sft": []}, 1600, score, twice_at_least(0.9), said.append, steps_before=400
    )
    assert scored == [
        ("checkpoint-100", "sft_val/step-500"),
        ("checkpoint-200", "sft_val/step-600"),
        ("checkpoint-300", "sft_val/step-700"),
    ]
    assert said[-1] == "  sft step 700: validation accuracy 0.970"
    assert (run["stopped"], run["chosen_step"], run["steps"]) == ("validation target", 700, 2000)
    assert run["checkpoint"] == str(tmp_path / "sft" / "checkpoint-300")
    assert run["validation"]["sft"] == {"500": 0.5, "600": 0.95, "700": 0.97}


def test_runs_racing_to_a_target_are_scored_in_step_order_so_the_fewest_steps_win(tmp_path):
    """Two warm starts race to the validation target: the winner is the run that met it in fewer steps, even
    when the other is listed first and has every checkpoint saved sooner (a machine where it trains faster)."""
    curves = {
        "a": {"checkpoint-100": 0.5, "checkpoint-200": 0.5, "checkpoint-300": 0.95, "checkpoint-400": 0.95},
        "b": {"checkpoint-100": 0.5, "checkpoint-200": 0.95, "checkpoint-300": 0.97, "checkpoint-400": 0.2},
    }

    class Runner:
        def start(self, argv, log, threads, steps, position):
            return _FinishedTraining(Path(argv[argv.index("--output_dir") + 1]), [100, 200, 300, 400])

    order = []

    def score(checkpoint: Path, name: str) -> float:
        order.append(name.rsplit("/", 1)[1])
        return curves[checkpoint.parent.name][checkpoint.name]

    run = train_watched(Runner(), tmp_path, "sft", {"a": [], "b": []}, 400, score, twice_at_least(0.9), print)
    assert order == ["a-step-100", "b-step-100", "a-step-200", "b-step-200", "a-step-300", "b-step-300"]
    assert (run["chosen_run"], run["chosen_step"]) == ("b", 300)
    assert run["checkpoint"] == str(tmp_path / "b" / "checkpoint-300")
    # while both train, a checkpoint waits for the other run to save that step; a finished run holds nothing up
    pending = [(500, 0, "a"), (500, 1, "b"), (600, 1, "b")]
    assert in_step_order(pending, {"a": [500], "b": [500, 600]}, {"a", "b"}) == pending[:2]
    assert in_step_order(pending, {"a": [500], "b": [500, 600]}, {"b"}) == pending
    assert in_step_order(pending[1:], {"a": [], "b": [500, 600]}, {"a", "b"}) == []  # a saved nothing yet
