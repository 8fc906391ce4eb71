"""Dynamic sampling in GRPO: no trained group without spread, the budget running out, resume, 2 processes,
the critic as reward, and the pieces (group judging, joining rows of generation batches)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from data_converters.convert import convert
from data_converters.layouts import features
from data_converters.synthetic import synthetic_rows
from rl_critic.ground.errors import UserError
from rl_critic.train import grpo
from rl_critic.train.dynamic_sampling import DynamicSamplingGRPOTrainer, judge_groups, resolve_key
from rl_critic.train.group_rows import take_rows
from tests.helpers import run_script

ROOT = Path(__file__).resolve().parent.parent
CPU = ["--use_cpu", "true", "--bf16", "false", "--gradient_checkpointing", "false", "--report_to", "none"]
TIES = "tests.helpers.every_other_group_ties"


@pytest.fixture(scope="module")
def grpo_data(tmp_path_factory) -> str:
    from datasets import Dataset

    root = tmp_path_factory.mktemp("ds-data")
    Dataset.from_list(list(synthetic_rows(64, "pairwise", seed=3)), features=features()).to_parquet(
        str(root / "s.parquet")
    )
    convert("llava-critic-pairwise", str(root / "s.parquet"), "grpo", str(root / "grpo"))
    return str(root / "grpo")


def _argv(data: str, out: Path, steps: int, *extra: str) -> list[str]:
    return [
        "--config",
        str(ROOT / "recipes/tiny/grpo_critic.yaml"),
        "--dataset_name",
        data,
        "--output_dir",
        str(out),
        "--max_steps",
        str(steps),
        "--save_steps",
        str(steps),
        "--logging_steps",
        "1",
        "--per_device_train_batch_size",
        "8",
        "--num_generations",
        "4",
        "--max_completion_length",
        "6",
        *CPU,
        *extra,
    ]


@pytest.fixture
def trained_batches(monkeypatch) -> list[dict]:
    """What each optimizer step trained on: its rows and their advantages (recorded from `_compute_loss`)."""
    seen: list[dict] = []
    original = DynamicSamplingGRPOTrainer._compute_loss

    def record(self, model, inputs):
        seen.append({"advantages": inputs["advantages"].detach().clone(), "rows": inputs["completion_ids"].shape[0]})
        return original(self, model, inputs)

    monkeypatch.setattr(DynamicSamplingGRPOTrainer, "_compute_loss", record)
    return seen


def _history(out: Path, step: int) -> list[dict]:
    return json.loads((out / f"checkpoint-{step}" / "trainer_state.json").read_text())["log_history"]


@pytest.mark.parametrize("model", ["tiny", "tiny-llava_onevision"])
def test_no_step_trains_on_a_group_without_spread(grpo_data, tmp_path, trained_batches, model, capsys):
    """A reward that ties every other group: with dynamic sampling every trained row has a non-zero advantage and
    every step is full; without it (the control, same seed) zero advantages reach the loss."""
    common = ["--model_name_or_path", model, "--reward_funcs", TIES]
    off = [*common, "--dynamic_sampling", "false"]  # the tiny recipe turns it on
    assert run_script(grpo, _argv(grpo_data, tmp_path / "off", 4, *off)) == 0
    control = list(trained_batches)
    assert any((batch["advantages"] == 0).any() for batch in control)  # the test can fail
    trained_batches.clear()
    on = [*common, "--dynamic_sampling", "true", "--dynamic_sampling_key", "every_other_group_ties"]
    assert run_script(grpo, _argv(grpo_data, tmp_path / "on", 4, *on)) == 0
    assert len(trained_batches) == 4 and all(batch["rows"] == 8 for batch in trained_batches)
    assert all((batch["advantages"] != 0).all() for batch in trained_batches)
    history = [entry for entry in _history(tmp_path / "on", 4) if "dynamic_sampling/groups_kept" in entry]
    assert [entry["dynamic_sampling/groups_kept"] for entry in history] == [2.0] * 4
    assert sum(entry["dynamic_sampling/dropped_all_right"] for entry in history) > 0  # tied groups were dropped
    assert all(entry["dynamic_sampling/short"] == 0.0 for entry in history)
    generated = history[-1]["cost/completions_generated"]
    assert history[-1]["cost/completions_trained"] == 32 and generated > 32
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert f"{generated} completions generated for 32 trained on ({generated / 32:.2f} per completion" in last
    assert all(torch.isfinite(torch.tensor(entry["loss"])) for entry in history)
    weights = load_file(str(tmp_path / "on" / "model.safetensors"))
    before = load_file(str(tmp_path / "off" / "checkpoint-4" / "model.safetensors"))
    assert any(not torch.equal(weights[k], before[k]) for k in weights)


def test_a_spent_budget_trains_on_what_it_has_and_says_so(grpo_data, tmp_path, trained_batches, caplog):
    """One generation batch allowed: a step keeps the informative half and trains on it (logged as short); a
    random model on the critic reward finds nothing, trains on its batch as TRL would, and one line says why."""
    argv = _argv(grpo_data, tmp_path / "half", 3, "--reward_funcs", TIES, "--dynamic_sampling", "true")
    argv += ["--dynamic_sampling_key", TIES, "--dynamic_sampling_max_batches", "1"]
    assert run_script(grpo, argv) == 0
    history = [entry for entry in _history(tmp_path / "half", 3) if "dynamic_sampling/short" in entry]
    short = [entry["dynamic_sampling/short"] for entry in history]
    assert 1.0 in short
    for batch, entry in zip(trained_batches, history):
        if entry["dynamic_sampling/trained_zero_spread"]:  # not one informative group: the batch as TRL has it
            assert batch["rows"] == 8 and entry["dynamic_sampling/groups_kept"] == 0
        else:
            assert batch["rows"] == 4 * entry["dynamic_sampling/groups_kept"] and (batch["advantages"] != 0).all()
    trained_batches.clear()
    argv = _argv(grpo_data, tmp_path / "none", 3, "--reward_funcs", "critic", "--dynamic_sampling", "true")
    argv += ["--dynamic_sampling_max_batches", "2"]
    caplog.clear()
    with caplog.at_level("WARNING", logger="rl_critic"):
        assert run_script(grpo, argv) == 0
    history = [entry for entry in _history(tmp_path / "none", 3) if "dynamic_sampling/short" in entry]
    assert [entry["dynamic_sampling/short"] for entry in history] == [1.0] * 3
    assert [entry["dynamic_sampling/generation_batches"] for entry in history] == [2.0] * 3
    assert [entry["dynamic_sampling/trained_zero_spread"] for entry in history] == [1.0] * 3
    assert [batch["rows"] for batch in trained_batches] == [8, 8, 8]
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("dynamic sampling: the budget")]
    assert (
        len(lines) == 1
        and "ran out on 3 of 3 steps" in lines[0]
        and "100% every completion wrong or all tied" in lines[0]
    )


def test_resume_draws_what_an_uninterrupted_run_draws(grpo_data, tmp_path):
    """Stopped at a checkpoint and resumed, a run ends with the same weights and the same sampling state as one
    that ran straight through (the reserve of extra prompts continues where it was)."""
    extra = ["--reward_funcs", TIES, "--dynamic_sampling", "true", "--dynamic_sampling_key", TIES]
    straight = tmp_path / "straight"
    assert run_script(grpo, [*_argv(grpo_data, straight, 4, *extra), "--save_steps", "2"]) == 0
    resumed = tmp_path / "resumed"
    assert run_script(grpo, [*_argv(grpo_data, resumed, 2, *extra)]) == 0
    argv = [*_argv(grpo_data, resumed, 4, *extra), "--save_steps", "2", "--resume_from_checkpoint", "auto"]
    assert run_script(grpo, argv) == 0
    state = json.loads((straight / "checkpoint-4" / "sampling_state.json").read_text())
    assert state["reserve_position"] > 0  # extra prompts were drawn, after step 2 too
    assert json.loads((resumed / "checkpoint-4" / "sampling_state.json").read_text()) == state
    first, second = load_file(str(straight / "model.safetensors")), load_file(str(resumed / "model.safetensors"))
    assert all(torch.equal(first[k], second[k]) for k in first)


def test_two_processes_keep_the_same_rows_and_finish(grpo_data, tmp_path):
    """2 processes on CPU (gloo): one group per process per step, half the groups tied, so the processes find
    informative groups at different times; each trains on the same number of rows, none waits forever."""
    accelerate = Path(sys.executable).with_name("accelerate")
    record = tmp_path / "record"
    argv = _argv(grpo_data, tmp_path / "ddp", 3, "--reward_funcs", TIES, "--dynamic_sampling", "true")
    argv += [
        "--dynamic_sampling_key",
        TIES,
        "--per_device_train_batch_size",
        "4",
        "--dynamic_sampling_max_batches",
        "8",
    ]
    command = [
        str(accelerate),
        "launch",
        "--config_file",
        str(ROOT / "recipes/accelerate/cpu_2proc.yaml"),
        "-m",
        "tests.record_trained_rows",
        str(record),
        *argv,
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    ranks = [json.loads((record / f"rank-{rank}.json").read_text()) for rank in (0, 1)]
    assert len(ranks[0]) == len(ranks[1]) == 3
    assert [step["rows"] for step in ranks[0]] == [step["rows"] for step in ranks[1]] == [4, 4, 4]
    assert all(step["zero_advantages"] == 0 for rank in ranks for step in rank)
    history = [entry for entry in _history(tmp_path / "ddp", 3) if "dynamic_sampling/groups_kept" in entry]
    assert [entry["dynamic_sampling/groups_kept"] for entry in history] == [2.0] * 3
    assert max(entry["dynamic_sampling/generation_batches"] for entry in history) > 1  # more prompts were drawn


def test_critic_judge_scores_decide_and_dropped_judgments_count(grpo_data, tmp_path):
    """With `critic_judge`, the critic's scores are the key, and the judgments of dropped groups are paid for:
    `cost/critic_judgments` counts every judgment made (12 a group of 4, round robin in both orders)."""
    argv = _argv(grpo_data, tmp_path / "judge", 2, "--reward_funcs", "critic_judge", "--dynamic_sampling", "true")
    argv += ["--critic_class", "tests.helpers.TiesEveryOtherQuestion", "--max_completion_length", "12"]
    argv += ["--critic_probe_steps", "0"]  # the reward-hacking probe's judgments would count too (test_hack_alarm)
    assert run_script(grpo, argv) == 0
    history = [entry for entry in _history(tmp_path / "judge", 2) if "dynamic_sampling/groups_generated" in entry]
    groups = sum(entry["dynamic_sampling/groups_generated"] for entry in history)
    assert sum(entry["dynamic_sampling/dropped_all_wrong_or_tied"] for entry in history) > 0  # tied groups dropped
    assert [entry["dynamic_sampling/groups_kept"] for entry in history] == [2.0, 2.0]
    assert history[-1]["cost/critic_judgments"] == 12 * groups
    assert history[-1]["cost/completions_generated"] == 4 * groups


def test_groups_are_judged_on_the_key_and_the_total():
    nan = float("nan")
    key = torch.tensor([1, 1, 1, 1, 0, 0, 0, 0, 1, 0, 1, 0, 0.5, 0.5, 0.5, 0.5, nan, nan, nan, nan, 1, 1, 0, 0])
    total = torch.tensor([1, 1, 1, 1, 0, 0, 0, 0, 1, 0, 1, 0, 0.5, 0.5, 0.5, 0.5, 0, 1, 0, 1, 1, 1, 1, 1])
    judged = judge_groups(key.float(), total.float(), 4)
    # all right, all wrong, spread, tied, key unscored (the total decides), key spread but total tied
    assert judged.informative.tolist() == [False, False, True, False, True, False]
    assert judged.all_right.tolist() == [True, False, False, False, False, False]


def test_rows_of_two_batches_join_with_each_side_padded():
    """Prompts stay left-padded, completions and per-token tensors right-padded, images follow their rows."""

    def batch(prompt_width: int, completion_width: int, offset: int) -> dict:
        rows = 3
        return {
            "prompt_ids": torch.arange(rows * prompt_width).view(rows, prompt_width) + offset,
            "prompt_mask": torch.ones(rows, prompt_width, dtype=torch.long),
            "completion_ids": torch.arange(rows * completion_width).view(rows, completion_width) + offset,
            "completion_mask": torch.ones(rows, completion_width, dtype=torch.long),
            "old_per_token_logps": torch.full((rows, completion_width), -1.0),
            "mm_token_type_ids": torch.ones(rows, prompt_width + completion_width, dtype=torch.long),
            "advantages": torch.tensor([1.0, -1.0, 0.5]) + offset,
            "num_items_in_batch": torch.tensor(rows * completion_width),
            "pixel_values": torch.arange(rows * 4 * 2, dtype=torch.float).view(rows * 4, 2) + offset,
            "image_grid_thw": torch.tensor([[1, 2, 2]] * rows),
            "num_images": [1] * rows,
        }

    first, second = batch(2, 3, 0), batch(4, 2, 100)
    joined = take_rows([(first, [1]), (second, [0, 2])], pad_token_id=-7)
    assert joined["prompt_ids"].tolist() == [[-7, -7, 2, 3], [100, 101, 102, 103], [108, 109, 110, 111]]
    assert joined["prompt_mask"].tolist() == [[0, 0, 1, 1], [1, 1, 1, 1], [1, 1, 1, 1]]
    assert joined["completion_ids"].tolist() == [[3, 4, 5], [100, 101, -7], [104, 105, -7]]
    assert joined["completion_mask"].tolist() == [[1, 1, 1], [1, 1, 0], [1, 1, 0]]
    assert joined["old_per_token_logps"].tolist() == [[-1, -1, -1], [-1, -1, 0], [-1, -1, 0]]
    assert joined["mm_token_type_ids"].tolist() == [[0, 0, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1, 0], [1, 1, 1, 1, 1, 1, 0]]
    assert joined["advantages"].tolist() == [-1.0, 101.0, 100.5]
    assert torch.equal(joined["pixel_values"][:4], first["pixel_values"][4:8])
    assert torch.equal(joined["pixel_values"][4:], torch.cat([second["pixel_values"][:4], second["pixel_values"][8:]]))
    assert joined["image_grid_thw"].shape == (3, 3) and joined["num_images"] == [1, 1, 1]
    assert "num_items_in_batch" not in joined  # recounted over every process by the trainer


def test_an_unknown_key_is_one_line_naming_the_choices():
    import rewards

    functions = rewards.resolve(["critic", "format"])
    assert resolve_key("accuracy", functions).function is not None  # the critic's accuracy part, computed
    assert resolve_key("rewards/format_reward/mean", functions).column == 1
    assert resolve_key("format", functions).column == 1
    assert resolve_key("critic/accuracy", functions).function is not None
    with pytest.raises(UserError, match="dynamic_sampling_key 'length' is not a reward of this run; choose accuracy"):
        resolve_key("length", functions)
    part = functions[0].accuracy_part()
    completion = [[{"role": "assistant", "content": "\\boxed{1}"}]]  # right verdict, no <think>: format 0
    assert functions[0](completions=completion, solution=["1"]) == [0.9]
    assert part(completions=completion, solution=["1"]) == [1.0]


@pytest.mark.parametrize("quantized", [False, True], ids=["lora", "qlora"])
def test_lora_with_gradient_accumulation(grpo_data, tmp_path, trained_batches, quantized):
    """LoRA (and QLoRA: a 4-bit base, bitsandbytes on the CPU), and a generation batch split over 2 accumulation
    steps (TRL's `steps_per_generation`): each micro-step gets half of a full informative batch, and the adapter
    learns."""
    argv = _argv(grpo_data, tmp_path / "lora", 2, "--reward_funcs", TIES, "--dynamic_sampling", "true")
    argv += ["--dynamic_sampling_key", TIES, "--gradient_accumulation_steps", "2"]
    argv += ["--use_peft", "true", "--lora_r", "4", "--lora_target_modules", "q_proj", "v_proj"]
    argv += ["--load_in_4bit", "true"] if quantized else []
    assert run_script(grpo, argv) == 0
    assert [batch["rows"] for batch in trained_batches] == [8, 8, 8, 8]  # 2 optimizer steps x 2 micro-steps
    assert all((batch["advantages"] != 0).all() for batch in trained_batches)
    history = [entry for entry in _history(tmp_path / "lora", 2) if "dynamic_sampling/groups_kept" in entry]
    assert [entry["dynamic_sampling/groups_kept"] for entry in history] == [4.0, 4.0]
    adapter = load_file(str(tmp_path / "lora" / "adapter_model.safetensors"))
    assert any(v.abs().sum() > 0 for k, v in adapter.items() if "lora_B" in k)


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (
            ["--dynamic_sampling_max_batches", "0"],
            "dynamic_sampling_max_batches must be at least 1 (the first generation batch)",
        ),
        (
            ["--dynamic_sampling_key", "length"],
            "dynamic_sampling_key 'length' is not a reward of this run; choose accuracy, total or one of: "
            "critic_reward",
        ),
    ],
)
def test_wrong_settings_are_one_line_before_anything_is_written(grpo_data, tmp_path, capsys, flags, expected):
    from rl_critic.cli import main

    out = tmp_path / "out"
    argv = ["train", "grpo", "--config", str(ROOT / "recipes/tiny/grpo_critic.yaml"), "--dataset_name", grpo_data]
    code = main([*argv, "--output_dir", str(out), *flags, *CPU])
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert code == 1 and last == f"rl-critic train: error: {expected}"
    assert not out.exists()


def test_a_kept_batch_is_reused_over_num_iterations(grpo_data, tmp_path, trained_batches):
    """`num_iterations` 2 (the demo's policy recipes use 4): each kept batch is trained on twice, as TRL reuses a
    generation, and no reuse brings back a dropped group."""
    argv = _argv(grpo_data, tmp_path / "reuse", 4, "--reward_funcs", TIES, "--dynamic_sampling", "true")
    argv += ["--dynamic_sampling_key", TIES, "--num_iterations", "2"]
    assert run_script(grpo, argv) == 0
    assert len(trained_batches) == 4 and all((batch["advantages"] != 0).all() for batch in trained_batches)
    assert torch.equal(trained_batches[0]["advantages"].sort().values, trained_batches[1]["advantages"].sort().values)
    history = [entry for entry in _history(tmp_path / "reuse", 4) if "dynamic_sampling/groups_kept" in entry]
    assert len(history) == 2  # two generation rounds for four optimizer steps
    assert history[-1]["cost/completions_trained"] == 16
