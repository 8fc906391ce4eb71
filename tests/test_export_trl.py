"""`rl-critic export-trl`: a recipe TRL's own `trl grpo --config` runs, with rl-critic's rewards by path."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from data_converters.convert import convert
from rl_critic.cli import main

ROOT = Path(__file__).resolve().parent.parent


def test_exported_recipe_runs_under_trl_grpo_on_another_machine(tmp_path, monkeypatch, capsys):
    """The export and what it names travel: exported in one folder, moved to another path, run there by `trl grpo`
    with an empty rl-critic cache (another machine has none), writing to its own `-trl` output folder."""
    from datasets import Dataset

    from data_converters.layouts import features
    from data_converters.synthetic import synthetic_rows

    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    Dataset.from_list(list(synthetic_rows(8, "pairwise", seed=1)), features=features()).to_parquet("s.parquet")
    convert("llava-critic-pairwise", "s.parquet", "grpo", "grpo")
    recipe = str(ROOT / "recipes/tiny/grpo_critic.yaml")
    assert main(["export-trl", "--recipe", recipe, "--out", "trl/trl.yaml"]) == 0
    exported = yaml.safe_load((here / "trl" / "trl.yaml").read_text())
    assert exported["reward_funcs"] == ["rewards.critic_reward"]
    assert exported["model_name_or_path"] == "trl/tiny-qwen2_5_vl"  # beside the YAML, named from the folder
    assert (here / "trl" / "tiny-qwen2_5_vl" / "model.safetensors").is_file()
    assert exported["output_dir"] == "outputs/tiny-grpo-trl"  # not the rl-critic run's folder
    assert "min_pixels" not in exported and "max_pixels" not in exported
    text = (here / "trl" / "trl.yaml").read_text()
    assert "Dropped (TRL's grpo script does not take them): dynamic_sampling, max_pixels, min_pixels" in text
    assert "# TRL's own CLI cannot take dynamic_sampling: `trl grpo` trains on every group" in text
    assert "copied to trl/tiny-qwen2_5_vl" in text
    assert capsys.readouterr().out.splitlines()[-1].startswith("TRL's own CLI cannot take dynamic_sampling")
    assert main(["export-trl", "--recipe", recipe, "--out", "trl/trl.yaml", "--overwrite"]) == 0  # its own copy

    there = tmp_path / "elsewhere" / "there"
    there.parent.mkdir()
    monkeypatch.chdir(tmp_path)
    here.rename(there)
    command = [str(Path(sys.executable).parent / "trl"), "grpo", "--config", "trl/trl.yaml"]
    command += ["--dataset_name", "grpo/data", "--max_steps", "1", "--per_device_train_batch_size", "4"]
    command += ["--max_completion_length", "8", "--save_strategy", "no", "--report_to", "none"]
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "RL_CRITIC_CACHE": str(tmp_path / "empty-cache")}
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=there, env=environment)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "rewards/critic_reward/mean" in result.stdout + result.stderr
    assert (there / "outputs" / "tiny-grpo-trl" / "model.safetensors").is_file()
    assert not (tmp_path / "empty-cache").exists()  # nothing of rl-critic's cache was needed


def test_export_refuses_what_trl_cannot_run(tmp_path, capsys):
    recipe = tmp_path / "grpo_x.yaml"
    recipe.write_text("model_name_or_path: tiny\nreward_funcs: ['critic:format_weight=0.2']\n")
    assert main(["export-trl", "--recipe", str(recipe), "--out", str(tmp_path / "o.yaml")]) == 1
    assert "cannot pass" in capsys.readouterr().err
    assert (
        main(["export-trl", "--recipe", "recipes/tiny/critic_dpo_policy.yaml", "--out", str(tmp_path / "o.yaml")]) == 1
    )
    assert "no TRL script runs this method" in capsys.readouterr().err
    assert not (tmp_path / "o.yaml").exists()


def test_the_critic_as_reward_exports_by_its_path_and_runs_under_trl_grpo(tmp_path, tiny_dirs, capsys):
    """`critic_judge` becomes the module-level instance TRL imports; the critic is named in the environment (TRL
    cannot pass the critic_* fields), as the export's header and last line say."""
    from datasets import Dataset

    from data_converters.layouts import features
    from data_converters.synthetic import synthetic_rows

    recipe = "recipes/tiny/grpo_policy_critic.yaml"
    assert main(["export-trl", "--recipe", recipe, "--out", str(tmp_path / "trl.yaml")]) == 0
    exported = yaml.safe_load((tmp_path / "trl.yaml").read_text())
    assert exported["reward_funcs"] == ["rl_critic.critique.reward.critic_judge", "rewards.format_reward"]
    note = "RL_CRITIC_CRITIC_MODEL=tiny trl grpo --config ..."
    assert note in (tmp_path / "trl.yaml").read_text() and capsys.readouterr().out.strip().endswith(note)
    rows = list(synthetic_rows(8, "pairwise", seed=1))
    Dataset.from_list(rows, features=features()).to_parquet(str(tmp_path / "s.parquet"))
    convert("llava-critic-pairwise", str(tmp_path / "s.parquet"), "grpo", str(tmp_path / "grpo"))
    command = [str(Path(sys.executable).parent / "trl"), "grpo", "--config", str(tmp_path / "trl.yaml")]
    command += ["--dataset_name", str(tmp_path / "grpo"), "--output_dir", str(tmp_path / "out"), "--max_steps", "1"]
    command += ["--per_device_train_batch_size", "4", "--max_completion_length", "8", "--save_strategy", "no"]
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "RL_CRITIC_CRITIC_MODEL": "tiny"}
    environment["RL_CRITIC_CRITIC_UNREADABLE_OK"] = "1"  # the untrained tiny critic gives no verdict
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=tmp_path, env=environment)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "rewards/critic_judge/mean" in result.stdout + result.stderr
