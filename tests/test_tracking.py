"""Trackers and the hub (issue 47): `report_to` writes to a tracker that is installed and names, in one line and
before anything loads, one that is not; `push_to_hub` without a token, offline or with the hub out of reach is
one line at the start, not a failure after the run."""

from __future__ import annotations

import importlib.util

import pytest

from tests.cli_batch import Command, run_commands
from tests.servers import free_port
from tests.test_hostile_inputs import colour_pairs, one_line
from tests.test_new_user import TINY

CPU = ["--use_cpu", "true", "--bf16", "false", "--gradient_checkpointing", "false"]


def _sft(data) -> list[str]:
    return ["train", "sft", "--config", str(TINY / "sft_critic.yaml"), "--dataset_name", str(data), *CPU]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tracking")
    colour_pairs(folder, 8, "sft-policy")
    return folder / "sft-policy"


def test_a_tracker_that_is_not_installed_is_one_line_before_loading(data, tmp_path):
    missing = [name for name in ("trackio", "wandb") if importlib.util.find_spec(name) is None]
    assert "trackio" in missing  # trackio needs pillow < 13: the test venv cannot have it
    results = run_commands(
        [Command([*_sft(data), "--output_dir", str(tmp_path / name), "--report_to", name]) for name in missing]
    )
    for name, result in zip(missing, results):
        one_line(result, "train", f"--report_to {name}: the {name} package is not installed")
        assert "pip install 'rl-critic[tracking]'" in result.last_line and "--report_to none" in result.last_line
        assert result.seconds < 20 and not (tmp_path / name).exists()


def test_tensorboard_gets_the_training_curves(data, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = tmp_path / "run"
    argv = [*_sft(data), "--output_dir", str(out), "--max_steps", "3", "--logging_steps", "1"]
    (result,) = run_commands([Command([*argv, "--report_to", "tensorboard"], timeout=300)])
    assert result.returncode == 0, result.stderr[-2000:]
    (events,) = out.glob("runs/*/events.out.tfevents.*")
    curves = EventAccumulator(str(events.parent))
    curves.Reload()
    losses = [event.value for event in curves.Scalars("train/loss")]
    assert len(losses) == 3 and all(loss > 0 for loss in losses)


def test_push_to_hub_is_checked_before_the_run(data, tmp_path):
    """Offline, without a token, and with a hub that does not answer: one line each, in seconds, nothing written."""
    closed = f"http://127.0.0.1:{free_port()}"
    cases = [
        ({"HF_HUB_OFFLINE": "1"}, "HF_HUB_OFFLINE=1 keeps this run off the hub"),
        ({"HF_HUB_OFFLINE": "0", "HF_TOKEN": "", "HF_HOME": str(tmp_path / "no-login")}, "no Hugging Face token"),
        (
            {"HF_HUB_OFFLINE": "0", "HF_TOKEN": "hf_not_a_real_token", "HF_ENDPOINT": closed},
            f"{closed} cannot be reached",
        ),
    ]
    push = ["--push_to_hub", "true", "--hub_model_id", "someone/critic"]
    results = run_commands(
        [
            Command([*_sft(data), "--output_dir", str(tmp_path / f"run{index}"), *push], env=env)
            for index, (env, _) in enumerate(cases)
        ]
    )
    for index, ((_, words), result) in enumerate(zip(cases, results)):
        one_line(result, "train", "--push_to_hub true", words)
        assert "someone/critic" in result.last_line or "cannot be reached" in words
        assert result.seconds < 20 and not (tmp_path / f"run{index}").exists()
