"""The reward-hacking alarm of the `critic_judge` reward: a critic fooled by a master key raises it (and can stop the
run with a checkpoint), an honest one does not, and reward rising while accuracy falls raises it too."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rl_critic.critique.hack_alarm import WINDOW, HackAlarm, reward_accuracy_agreement

ROOT = Path(__file__).resolve().parent.parent
CPU = ["--use_cpu", "true", "--bf16", "false", "--gradient_checkpointing", "false", "--report_to", "none"]


def _grpo(tmp_path, judge: str, *extra: str) -> list[str]:
    argv = ["train", "grpo", "--config", str(ROOT / "recipes/tiny/grpo_policy_critic.yaml")]
    argv += ["--critic_class", judge, "--critic_probe_steps", "1", "--max_steps", "2", "--save_strategy", "steps"]
    return [*argv, "--save_steps", "2", "--output_dir", str(tmp_path / "run"), *CPU, *extra]


def test_a_critic_fooled_by_a_key_raises_the_alarm(tmp_path, capsys):
    from rl_critic.cli import main

    assert main(_grpo(tmp_path, "tests.helpers.FooledByThoughtProcess")) == 0
    err = capsys.readouterr().err
    assert err.count("critic reward hacking alarm") == 1  # once, not every step
    assert "alarm at step 0: the critic prefers the content-free answer `Thought process:` to the step's best" in err
    history = json.loads((tmp_path / "run" / "checkpoint-2" / "trainer_state.json").read_text())["log_history"]
    logged = [entry for entry in history if "critic_probe/master_key_win_rate" in entry]
    assert logged and all(entry["critic_probe/master_key_win_rate_max"] == 1.0 for entry in logged)
    assert all(entry["critic_probe/master_key_win_rate"] == pytest.approx(1 / 3) for entry in logged)  # 1 key of 3


def test_the_alarm_can_stop_the_run_with_a_checkpoint(tmp_path, capsys):
    from rl_critic.cli import main

    assert main(_grpo(tmp_path, "tests.helpers.FooledByThoughtProcess", "--critic_hack_action", "stop")) == 1
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("rl-critic train: error: stopped by critic_hack_action: stop; saved ")
    assert (tmp_path / "run" / "checkpoint-1" / "trainer_state.json").exists()
    assert not (tmp_path / "run" / "model.safetensors").exists()


def test_an_honest_critic_stays_silent(tmp_path, capsys):
    from rl_critic.cli import main

    assert main(_grpo(tmp_path, "tests.helpers.NotFooledByKeys")) == 0
    assert "critic reward hacking alarm" not in capsys.readouterr().err
    history = json.loads((tmp_path / "run" / "checkpoint-2" / "trainer_state.json").read_text())["log_history"]
    assert [e["critic_probe/master_key_win_rate"] for e in history if "critic_probe/master_key_win_rate" in e][0] == 0


def test_reward_rising_while_accuracy_falls_raises_it():
    alarm = HackAlarm(steps=0, threshold=0.5)
    lines = [alarm.check_trend(step, 0.5 + 0.03 * step, 0.8 - 0.04 * step) for step in range(WINDOW)]
    assert lines[:-1] == [None] * (WINDOW - 1)
    assert lines[-1].startswith(f"critic reward hacking alarm at step {WINDOW - 1}: over the last {WINDOW} reward")
    steady = HackAlarm(steps=0, threshold=0.5)
    assert all(steady.check_trend(step, 0.5 + 0.03 * step, 0.5 + 0.03 * step) is None for step in range(2 * WINDOW))


def test_reward_accuracy_agreement():
    groups = [(0, 2), (2, 4), (4, 6)]
    rewards = [1.0, 0.0, 0.5, 0.5, 0.0, 1.0]
    right = [True, False, True, False, True, True]  # agree, tie (half), no mixed pair
    assert reward_accuracy_agreement(rewards, right, groups) == pytest.approx(0.75)
    assert reward_accuracy_agreement(rewards, [True] * 6, groups) is None


def test_wrong_probe_settings_are_one_line_before_anything_is_written(tmp_path, capsys):
    from rl_critic.cli import main

    argv = _grpo(tmp_path, "tests.helpers.NotFooledByKeys", "--critic_hack_threshold", "1.5")
    assert main(argv) == 1
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.endswith("critic_probe_steps must be 0 (off) or more, critic_hack_threshold a share from 0 to 1")
    assert not (tmp_path / "run").exists()
