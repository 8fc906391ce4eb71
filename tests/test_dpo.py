"""`rl-critic train dpo`: TRL's DPOTrainer on `convert --task dpo` output, full and LoRA, both families."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from data_converters.convert import convert
from rl_critic.cli import main as cli
from rl_critic.models.tiny import ensure_tiny_model

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "examples/data/llava-critic-sample.parquet"
CPU = ["--use_cpu", "true", "--bf16", "false", "--gradient_checkpointing", "false", "--report_to", "none"]


@pytest.fixture(scope="module")
def dpo_data(tmp_path_factory) -> str:
    out = tmp_path_factory.mktemp("dpo") / "data"
    summary = convert("llava-critic-pairwise", str(SAMPLE), "dpo", str(out), limit=40)
    assert summary["rows_written"] >= 8
    return str(out)


@pytest.mark.parametrize(
    ("model", "arch", "lora"),
    [("tiny", "qwen2_5_vl", False), ("tiny", "qwen2_5_vl", "qlora"), ("tiny-llava_onevision", "llava_onevision", True)],
)
def test_train_dpo_two_steps_changes_parameters_and_saves(dpo_data, tmp_path, capsys, model, arch, lora):
    out = tmp_path / "run"
    argv = [
        "train",
        "dpo",
        "--config",
        str(ROOT / "recipes/tiny/dpo_policy.yaml"),
        "--model",
        model,
        "--dataset-name",
        dpo_data,
        "--output_dir",
        str(out),
        "--max_steps",
        "2",
        "--save_steps",
        "2",
        "--logging_steps",
        "1",
        *CPU,
    ]
    if lora:
        argv += ["--use_peft", "true", "--lora_r", "4", "--lora_target_modules", "q_proj", "v_proj"]
    if lora == "qlora":  # 4-bit base (bitsandbytes runs on the CPU)
        argv += ["--load_in_4bit", "true"]
    assert cli(argv) == 0
    assert "dpo: " in capsys.readouterr().out and (out / "processor_config.json").exists()
    state = json.loads((out / "checkpoint-2" / "trainer_state.json").read_text())
    losses = [entry["loss"] for entry in state["log_history"] if "loss" in entry]
    assert state["global_step"] == 2 and len(losses) == 2 and all(torch.isfinite(torch.tensor(losses)))
    if lora:
        adapter = load_file(str(out / "adapter_model.safetensors"))
        assert any("lora_B" in name and adapter[name].abs().sum() > 0 for name in adapter)  # B starts at zero
    else:
        before = load_file(str(ensure_tiny_model(arch) / "model.safetensors"))
        after = load_file(str(out / "model.safetensors"))
        assert sum(not torch.equal(before[k], after[k]) for k in before if k in after) > 0


def test_train_dpo_on_data_without_preferences_is_one_line(tmp_path, capsys):
    code = cli(
        [
            "train",
            "dpo",
            "--config",
            str(ROOT / "recipes/tiny/dpo_policy.yaml"),
            "--dataset_name",
            str(tmp_path / "missing"),
            *CPU,
        ]
    )
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and "input not found" in err
