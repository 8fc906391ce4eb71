"""Critic-reward DPO: preference choice, files per round, training, resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from rl_critic.critique.aggregation import best_and_worst
from rl_critic.ground.errors import UserError
from rl_critic.models.tiny import ensure_tiny_model
from rl_critic.script.parsing import parse_args
from rl_critic.train.critic_dpo import main, make_parser

ROOT = Path(__file__).resolve().parent.parent
FAST = [
    "--n",
    "3",
    "--max_new_tokens",
    "12",
    "--critic_max_new_tokens",
    "6",
    "--per_device_train_batch_size",
    "2",
    "--limit",
    "3",
]


@pytest.mark.parametrize(
    ("scores", "expected"),
    [([-4, 2, 2], (1, 0)), ([0, 0, 0], None), ([2, -2], (0, 1)), ([1, 1, -1, 3], (3, 2)), ([], None)],
)
def test_best_and_worst(scores, expected):
    assert best_and_worst(scores) == expected


def _run(out: Path, *extra: str) -> int:
    argv = [
        "--config",
        str(ROOT / "recipes/tiny/critic_dpo_policy.yaml"),
        "--dataset_name",
        str(ROOT / "examples/questions.jsonl"),
        "--output_dir",
        str(out),
        *FAST,
        *extra,
    ]
    return main(*parse_args(make_parser(), argv))


def test_two_rounds_with_a_tiny_critic_model_write_every_file(tmp_path):
    assert _run(tmp_path / "run") == 0
    for m in (1, 2):
        folder = tmp_path / "run" / f"round_{m}"
        summary = json.loads((folder / "summary.json").read_text())
        assert summary["questions"] == 3 and summary["judgments"] == 3 * 3 * 2  # K(K-1) per question
        assert summary["preferences"] + summary["skipped_all_equal"] == 3
        judgments = [json.loads(line) for line in (folder / "judgments.jsonl").read_text().splitlines()]
        assert len(judgments) == 18 and all({"raw", "verdict", "a_ij", "pair"} <= set(j) for j in judgments)
        candidates = [json.loads(line) for line in (folder / "candidates.jsonl").read_text().splitlines()]
        assert [len(c["candidates"]) for c in candidates] == [3, 3, 3] and all(len(c["r"]) == 3 for c in candidates)
        assert (folder / "preferences" / "state.json").exists() and (folder / "model" / "config.json").exists()
    assert json.loads((tmp_path / "run/round_2/summary.json").read_text())["policy"] == str(
        tmp_path / "run/round_1/model"
    )


def test_scripted_judge_preferences_train_the_policy_and_a_run_resumes(tmp_path):
    out = tmp_path / "run"
    assert _run(out, "--critic_class", "tests.helpers.LengthJudge", "--rounds", "1") == 0
    summary = json.loads((out / "round_1" / "summary.json").read_text())
    assert summary["preferences"] > 0 and summary["train_loss"] is not None
    base = load_file(str(ensure_tiny_model("qwen2_5_vl") / "model.safetensors"))
    trained = load_file(str(out / "round_1" / "model" / "model.safetensors"))
    assert sum(not torch.equal(base[k], trained[k]) for k in base if k in trained) > 0
    from datasets import load_from_disk

    for row in load_from_disk(str(out / "round_1" / "preferences")):
        assert len(row["chosen"][0]["content"][0]["text"]) >= len(row["rejected"][0]["content"][0]["text"])
        assert row["r_chosen"] > row["r_rejected"] and len(row["images"]) >= 1
    # Killed between rounds: round 1 is finished, round 2 left half-written. Resuming keeps round 1 as it
    # is and redoes round 2 from round 1's model.
    finished = (out / "round_1" / "summary.json").stat().st_mtime_ns
    (out / "round_2").mkdir()
    (out / "round_2" / "candidates.jsonl").write_text("half-written\n")
    assert _run(out, "--critic_class", "tests.helpers.LengthJudge", "--rounds", "2") == 0
    assert (out / "round_1" / "summary.json").stat().st_mtime_ns == finished
    second = json.loads((out / "round_2" / "summary.json").read_text())
    assert second["policy"] == str(out / "round_1" / "model") and second["questions"] == 3
    assert "half-written" not in (out / "round_2" / "candidates.jsonl").read_text()
    # Re-run with other settings: the stored ones differ, so round 1 is not silently reused.
    assert second["settings"]["n"] == 3 and "rounds" not in second["settings"]
    with pytest.raises(UserError, match=r"round_1 was made with other settings \(n 3 -> 2"):
        _run(out, "--critic_class", "tests.helpers.LengthJudge", "--rounds", "3", "--n", "2")
    assert (out / "round_1" / "summary.json").stat().st_mtime_ns == finished and not (out / "round_3").exists()


def test_bad_judge_and_questions_are_clean_errors(tmp_path, capsys):
    from rl_critic.cli import main as cli

    recipe = str(ROOT / "recipes/tiny/critic_dpo_policy.yaml")
    code = cli(
        [
            "train",
            "critic-dpo",
            "--config",
            recipe,
            "--output_dir",
            str(tmp_path),
            "--critic_class",
            "tests.helpers.NoSuchJudge",
        ]
    )
    assert code == 1 and "cannot import critic_class" in capsys.readouterr().err
    (tmp_path / "q.jsonl").write_text(json.dumps({"id": "x", "question": ""}) + "\n")
    code = cli(
        [
            "train",
            "critic-dpo",
            "--config",
            recipe,
            "--output_dir",
            str(tmp_path / "run"),
            "--dataset_name",
            str(tmp_path / "q.jsonl"),
        ]
    )
    assert code == 1 and "no usable question" in capsys.readouterr().err


def test_the_same_command_samples_the_same_round(tmp_path):
    """Each round samples from its own seed: two runs of one command write the same candidates and pairs (before,
    two runs of the demo's reduced critic-DPO drew 44 and 32 judgments)."""
    for name in ("a", "b"):
        assert _run(tmp_path / name, "--critic_class", "tests.helpers.LengthJudge", "--rounds", "1") == 0
    for file in ("candidates.jsonl", "judgments.jsonl"):
        first, second = ((tmp_path / name / "round_1" / file).read_text() for name in ("a", "b"))
        assert first == second and first, file
