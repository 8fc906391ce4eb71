"""Every 7B recipe, run as shipped on a tiny model laid out like its hub checkpoint, then used.

Only the model (and critic) path, the data path, the output folder and what a CPU needs are overridden:
fp32 instead of bf16, small images, short completions, one optimiser step and one critic-DPO round. The
rest (assistant-only loss through TRL's training-template swap, LoRA/QLoRA, gradient checkpointing, the
recipe's batch and group sizes, rewards) runs as a GPU user would run it. The trained output is then
reloaded by `best-of-n` and `eval critic`. Slow (~10 min): `make test-slow`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rl_critic.models.tiny.hub_like import ONEVISION_7B, QWEN_7B, like_name
from tests.helpers import run_script

ROOT = Path(__file__).resolve().parent.parent
FAMILIES = {"qwen2_5_vl_7b": QWEN_7B, "llava_onevision_7b": ONEVISION_7B}
RECIPES = sorted(p for family in FAMILIES for p in (ROOT / "recipes" / family).glob("*.yaml"))
CPU = [
    "--bf16",
    "false",
    "--use_cpu",
    "true",
    "--dtype",
    "float32",
    "--min_pixels",
    "3136",
    "--max_pixels",
    "12544",
    "--report_to",
    "none",
    "--logging_steps",
    "1",
    "--save_strategy",
    "no",
]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict[str, str]:
    from datasets import Dataset

    from data_converters.convert import convert
    from data_converters.layouts import features
    from data_converters.synthetic import synthetic_rows

    root = tmp_path_factory.mktemp("hub-recipe-data")
    Dataset.from_list(list(synthetic_rows(16, "pairwise", seed=3)), features=features()).to_parquet(
        str(root / "s.parquet")
    )
    for task in ("sft", "grpo", "dpo", "eval"):
        convert("llava-critic-pairwise", str(root / "s.parquet"), task, str(root / task))
    return {task: str(root / task) for task in ("sft", "grpo", "dpo", "eval")} | {
        "questions": str(ROOT / "examples" / "questions.jsonl")
    }


def recipe_argv(recipe: Path, data: dict[str, str], out: Path) -> tuple[str, list[str]]:
    """(method, argv) running `recipe` as shipped but for model, data, output and CPU settings."""
    method = next(m for m in ("critic_dpo", "grpo", "dpo", "sft") if recipe.stem.startswith(m))
    model = like_name(FAMILIES[recipe.parent.name])
    argv = ["--config", str(recipe), "--model_name_or_path", model, "--output_dir", str(out), *CPU]
    if method == "sft":
        argv += ["--dataset_name", data["sft"], "--max_steps", "1", "--gradient_accumulation_steps", "1"]
    elif method == "dpo":
        argv += ["--dataset_name", data["dpo"], "--max_steps", "1", "--gradient_accumulation_steps", "1"]
    elif method == "grpo":
        policy = "policy" in recipe.stem
        argv += [
            "--dataset_name",
            data["questions" if policy else "grpo"],
            "--max_steps",
            "1",
            "--gradient_accumulation_steps",
            "1",
            "--max_completion_length",
            "8",
        ]
        if policy:
            argv += ["--critic_model", model, "--critic_max_new_tokens", "8"]
    else:
        argv += [
            "--dataset_name",
            data["questions"],
            "--critic_model",
            model,
            "--rounds",
            "1",
            "--max_new_tokens",
            "8",
            "--critic_max_new_tokens",
            "8",
            "--gradient_accumulation_steps",
            "1",
            "--limit",
            "2",
        ]
    return method, argv


@pytest.mark.slow
@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_recipe_runs_on_its_hub_like_model_and_the_output_is_usable(recipe, data, tmp_path, capsys):
    import importlib

    from rl_critic.cli import main

    method, argv = recipe_argv(recipe, data, tmp_path / "out")
    module = importlib.import_module(f"rl_critic.train.{method}")
    assert run_script(module, argv) == 0
    out = tmp_path / "out"
    rounds = sorted(out.glob("round_*/model"))  # critic-DPO keeps each round's model
    model_dir = rounds[-1] if rounds else out
    assert any((model_dir / name).exists() for name in ("model.safetensors", "adapter_model.safetensors"))
    trained = str(model_dir)

    capsys.readouterr()
    assert (
        main(
            [
                "best-of-n",
                "--model",
                trained,
                "--input",
                data["questions"],
                "--n",
                "2",
                "--limit",
                "2",
                "--max_new_tokens",
                "8",
                "--critic_max_new_tokens",
                "8",
                "--min_pixels",
                "3136",
                "--max_pixels",
                "12544",
                "--out",
                str(tmp_path / "picks.jsonl"),
            ]
        )
        == 0
    )
    picks = [json.loads(line) for line in (tmp_path / "picks.jsonl").read_text().splitlines()]
    assert len(picks) == 2 and all(len(p["candidates"]) == 2 for p in picks)

    assert (
        main(
            [
                "eval",
                "critic",
                "--model",
                trained,
                "--data",
                data["eval"],
                "--limit",
                "3",
                "--max_new_tokens",
                "8",
                "--min_pixels",
                "3136",
                "--max_pixels",
                "12544",
                "--out",
                str(tmp_path / "eval.json"),
            ]
        )
        == 0
    )
    report = json.loads((tmp_path / "eval.json").read_text())
    assert report["rows"] == 3
