"""Training across machines (issue 47): the shipped multi-machine accelerate config, launched as a cluster runs
it (one `accelerate launch` per machine, each with its `--machine_rank`, meeting at the first machine's address),
here as 2 "machines" of 1 CPU process each on 127.0.0.1 over gloo. After the steps every rank holds the same
parameters, and they moved from where they started."""

from __future__ import annotations

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
from rl_critic.models.tiny.cache import ensure_tiny_model
from tests.servers import free_port

ROOT = Path(__file__).resolve().parent.parent
CPU = ["--use_cpu", "true", "--bf16", "false", "--gradient_checkpointing", "false", "--report_to", "none"]
RECIPES = {
    "sft": ["--config", str(ROOT / "recipes/tiny/sft_critic.yaml"), "--per_device_train_batch_size", "2"],
    "grpo": [
        "--config",
        str(ROOT / "recipes/tiny/grpo_critic.yaml"),
        "--per_device_train_batch_size",
        "4",
        "--num_generations",
        "2",
        "--max_completion_length",
        "8",
        "--reward_funcs",
        "critic",
        "tests.helpers.length_reward",
    ],
}


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict[str, str]:
    from datasets import Dataset

    root = tmp_path_factory.mktemp("multi-machine-data")
    Dataset.from_list(list(synthetic_rows(32, "pairwise", seed=2)), features=features()).to_parquet(
        str(root / "s.parquet")
    )
    for task in RECIPES:
        convert("llava-critic-pairwise", str(root / "s.parquet"), task, str(root / task))
    return {task: str(root / task) for task in RECIPES}


@pytest.mark.parametrize("method", list(RECIPES))
def test_two_machines_train_one_model(method, data, tmp_path):
    accelerate = Path(sys.executable).with_name("accelerate")
    port = str(free_port())
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    machines = [
        subprocess.Popen(
            [
                str(accelerate),
                "launch",
                "--config_file",
                str(ROOT / "recipes/accelerate/multi_node_ddp.yaml"),
                "--num_machines",
                "2",
                "--num_processes",
                "2",
                "--machine_rank",
                str(rank),
                "--main_process_ip",
                "127.0.0.1",
                "--main_process_port",
                port,
                "--mixed_precision",
                "no",
                "-m",
                "tests.record_rank_weights",
                str(tmp_path / "weights"),
                method,
                *RECIPES[method],
                "--dataset_name",
                data[method],
                "--output_dir",
                str(tmp_path / f"machine-{rank}"),
                "--max_steps",
                "2",
                "--save_strategy",
                "no",
                *CPU,
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for rank in (0, 1)
    ]
    try:
        outputs = [machine.communicate(timeout=300) for machine in machines]
    finally:
        for machine in machines:
            machine.kill()
    for machine, (stdout, stderr) in zip(machines, outputs):
        assert machine.returncode == 0, stderr[-3000:]
        assert f"{method}: " in stdout and "2 process(es) on cpu" in stdout, stdout[-1000:]
    first, second = (load_file(str(tmp_path / "weights" / f"rank-{rank}.safetensors")) for rank in (0, 1))
    assert first.keys() == second.keys()
    assert all(torch.equal(first[name], second[name]) for name in first)
    assert all(torch.isfinite(tensor).all() for tensor in first.values())
    start = load_file(str(ensure_tiny_model() / "model.safetensors"))
    moved = [name for name in start if name in first and not torch.equal(start[name], first[name])]
    assert len(moved) > len(start) // 2, moved
    assert (tmp_path / "machine-0" / "model.safetensors").exists()  # the first machine saves the model
