"""What a new user meets (issue 32): each point as a user reads it, in processes of their own.

Runs that cannot learn say so; a recipe exported for TRL runs under `trl`; shipped recipes find their data or say
what builds it; each clone runs its own code; a hub id without a network fails in seconds; set-up says what it
installs; the terminal carries no warning a user cannot act on; `--help` is short and fast.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from tests.cli_batch import Command, run_commands
from tests.test_cli import run_cli
from tests.test_hostile_inputs import colour_pairs, one_line

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "recipes" / "tiny"


def copy_examples(folder: Path) -> Path:
    for name in ("questions.jsonl", "red_circle.png", "blue_square.png"):
        shutil.copy(ROOT / "examples" / name, folder / name)
    return folder / "questions.jsonl"


# 1. A run that cannot learn says so; a run that did says what changed -------------------------------------


def test_runs_that_cannot_learn_say_so_and_runs_that_did_say_what_changed(tmp_path):
    copy_examples(tmp_path)
    untrained_critic = tmp_path / "critic_dpo.yaml"
    untrained_critic.write_text(
        (TINY / "critic_dpo_policy.yaml")
        .read_text()
        .replace("critic_class: rl_critic.critique.judge.RandomJudge", "critic_model: tiny-llava_onevision")
    )
    grpo = ["train", "grpo", "--config", str(TINY / "grpo_critic.yaml"), "--dataset_name", "questions.jsonl"]
    results = run_commands(
        [
            Command(
                ["train", "critic-dpo", "--config", str(untrained_critic), "--output_dir", "dpo"]
                + ["--critic_unreadable_ok", "true"],  # past the first batch: the round itself finds no pair
                cwd=str(tmp_path),
            ),
            Command([*grpo, "--reward_funcs", "format", "--output_dir", "grpo", "--max_steps", "2"], cwd=str(tmp_path)),
            Command(
                ["train", "critic-dpo", "--config", str(TINY / "critic_dpo_policy.yaml"), "--output_dir", "dpo2"]
                + ["--rounds", "1"],
                cwd=str(tmp_path),
            ),
            Command(
                ["train", "critic-dpo", "--config", str(untrained_critic), "--output_dir", "dpo3"], cwd=str(tmp_path)
            ),
        ]
    )
    one_line(results[3], "train", "the critic's first 8 judgments gave no readable verdict, so the run stopped there")
    assert not (tmp_path / "dpo3" / "round_1" / "model").exists()
    one_line(
        results[0],
        "train",
        "critic-DPO round_1: no preference pair from 80 judgments of 4 questions (100% of the critic's verdicts "
        "unreadable",
        "nothing to train on, stopped",
    )
    assert "final policy" not in results[0].stdout and not (tmp_path / "dpo" / "round_1" / "model").exists()
    assert results[1].returncode == 0, results[1].stderr[-1500:]
    assert "every group of 4 completions got one total reward" in results[1].stderr
    assert "(rewards: format_reward)" in results[1].stderr
    assert "grpo: 2 steps; loss" in results[1].stdout
    assert "nothing was learned (GRPO advantages were 0)" in results[1].stdout
    assert results[2].returncode == 0, results[2].stderr[-1500:]  # the shipped recipe: a coin-flip judge, pairs
    assert "critic-dpo round_1: " in results[2].stdout and "steps; loss" in results[2].stdout
    assert "critic-dpo: final policy -> " in results[2].stdout


# 2-3. Shipped recipes run where they are shipped, or say what they need ------------------------------------


def test_shipped_recipes_find_their_data_or_say_what_builds_it(tmp_path):
    elsewhere = tmp_path / "elsewhere"  # not a clone, no examples/ of its own
    elsewhere.mkdir()
    results = run_commands(
        [
            Command(["train", "sft", "--config", "recipes/tiny/sft_critic.yaml"], cwd=str(elsewhere)),
            Command(
                ["train", "critic-dpo", "--config", "recipes/tiny/critic_dpo_policy.yaml", "--rounds", "1"]
                + ["--n", "2", "--limit", "2"],
                cwd=str(elsewhere),
            ),
        ]
    )
    one_line(results[0], "train", "outputs/tiny-data/sft not found: the tiny recipes train on data `make tiny-data`")
    assert "rl-critic convert --source llava-critic-pairwise" in results[0].last_line
    assert results[1].returncode == 0, results[1].stderr[-1500:]  # examples/questions.jsonl: the shipped copy
    dry_run = subprocess.run(  # -B: as on a fresh clone, whatever tiny data this one holds
        ["make", "-n", "-B", "sft", "RECIPE=recipes/tiny/sft_critic.yaml"], capture_output=True, text=True, cwd=ROOT
    )
    assert "make-synthetic" in dry_run.stdout and "HF_HUB_OFFLINE=1" in dry_run.stdout, dry_run.stdout[-2000:]
    real = subprocess.run(
        ["make", "-n", "-B", "grpo", "RECIPE=recipes/qwen2_5_vl_7b/grpo_critic_lora.yaml"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert "make-synthetic" not in real.stdout and "train grpo" in real.stdout


# 4. Each clone runs its own code ---------------------------------------------------------------------------


def test_the_rl_critic_command_runs_the_code_of_the_clone_it_is_run_in(tmp_path):
    other = tmp_path / "other-clone"
    shutil.copytree(
        ROOT,
        other,
        ignore=shutil.ignore_patterns(".git", "outputs", "demo_out", "__pycache__", ".*cache", "*.egg-info"),
    )
    init = other / "rl_critic" / "__init__.py"
    init.write_text(init.read_text().replace('__version__ = "0.1.0"', '__version__ = "0.1.0+other"'))
    (other / "tests" / "deep").mkdir()
    inside = run_cli("--version", cwd=other / "tests" / "deep")
    assert inside.stdout.strip() == "rl-critic 0.1.0+other", inside.stderr
    assert f"running the code of this clone ({other})" in inside.stderr
    here = run_cli("--version", cwd=ROOT)
    assert here.stdout.strip() == "rl-critic 0.1.0" and "running the code" not in here.stderr


# 5. A hub id without a network ------------------------------------------------------------------------------


def test_a_hub_id_without_a_network_fails_in_seconds(tmp_path):
    import socket

    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
    endpoint = f"http://127.0.0.1:{closed.getsockname()[1]}"
    env = {"HF_HUB_OFFLINE": "0", "HF_DATASETS_OFFLINE": "0", "HF_ENDPOINT": endpoint, "HF_HOME": str(tmp_path)}
    try:
        results = run_commands(
            [
                Command(["generate", "--model", "someone/some-vlm", "--prompt", "hi"], env=env, timeout=60),
                Command(
                    ["convert", "--source", "vl-rewardbench", "--input", "someone/some-data", "--task", "eval"]
                    + ["--out", str(tmp_path / "out")],
                    env=env,
                    timeout=60,
                ),
            ]
        )
    finally:
        closed.close()
    one_line(results[0], "generate", "'someone/some-vlm' is read as a hub model id", f"{endpoint} cannot be reached")
    one_line(results[1], "convert", "'someone/some-data' is read as a hub dataset id", "pass a local data folder")
    assert all(result.seconds < 20 for result in results), [result.seconds for result in results]


# 6. Set-up says what it installs and why --------------------------------------------------------------------


def test_setup_says_what_it_installs(tmp_path):
    """scripts/venv.sh with a stand-in Python whose `pip` prints what pip prints: the phases and pip's lines that
    matter reach the terminal, the rest does not."""
    fake = tmp_path / "python"
    fake.write_text(
        "#!/usr/bin/env bash\n"
        'if [ "$2" = venv ]; then mkdir -p "$3/bin"; cp "$0" "$3/bin/python"; exit 0; fi\n'
        "echo 'Looking in indexes: https://pypi.org/simple'\n"
        "echo 'Collecting torch==2.14.1'\n"
        "echo '  Using cached torch-2.14.1.whl (915.4 MB)'\n"
        "echo 'Installing collected packages: torch, trl'\n"
        "echo 'Successfully installed torch-2.14.1 trl-1.16.0'\n"
    )
    fake.chmod(0o755)
    venv = tmp_path / "venv"
    env = {**os.environ, "PYTHON": str(fake), "RL_CRITIC_VENV": str(venv)}
    result = subprocess.run(["scripts/venv.sh", "install"], capture_output=True, text=True, cwd=ROOT, env=env)
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert lines[0].startswith(f"rl-critic set-up, once per machine: a virtualenv in {venv}")
    assert lines[1].startswith("  1/2 torch 2.14.1 + torchvision first: about 5.5 GB")
    assert "    Collecting torch==2.14.1" in lines and "    Successfully installed torch-2.14.1 trl-1.16.0" in lines
    assert any(line.startswith("  2/2 rl-critic[dev] from ") for line in lines)
    assert not any("Looking in indexes" in line or "Using cached" in line for line in lines)


# 7. No warning a user cannot act on; no bars between the lines ----------------------------------------------


def test_the_terminal_carries_only_what_a_user_can_act_on(tmp_path):
    copy_examples(tmp_path)
    colour_pairs(tmp_path, 8, "sft-policy", "eval")
    cache = tmp_path / "cache"
    env = {"RL_CRITIC_CACHE": str(cache)}  # a fresh cache: the tiny model is rebuilt, the warnings log is new
    sft = ["train", "sft", "--config", str(TINY / "sft_critic.yaml"), "--dataset_name", str(tmp_path / "sft-policy")]
    results = run_commands(
        [
            Command([*sft, "--output_dir", str(tmp_path / "s1"), "--max_steps", "2"], env=env),
            Command(
                ["eval", "critic", "--model", str(tmp_path / "s1"), "--data", str(tmp_path / "eval")]
                + ["--max_new_tokens", "2", "--out", str(tmp_path / "e.json"), "--unreadable_ok", "true"],
                env=env,
            ),
            Command(
                ["best-of-n", "--model", str(tmp_path / "s1"), "--input", str(tmp_path / "questions.jsonl")]
                + ["--n", "2", "--max_new_tokens", "2", "--critic_max_new_tokens", "2"]
                + ["--out", str(tmp_path / "b.jsonl"), "--critic_unreadable_ok", "true"],
                env=env,
            ),
        ]
    )
    for result in results:
        assert result.returncode == 0, result.stderr[-1500:]
        for noise in ("Warning", "warnings.warn", "gradient_checkpointing", "kernels", "max_length", "Loading weights"):
            assert noise not in result.stderr, (noise, result.stderr[-1500:])
        assert "Generating train split" not in result.stderr and "Writing model shards" not in result.stderr
    routed = (cache / "logs" / "warnings.log").read_text()
    assert "rl-critic train: FutureWarning: `gradient_checkpointing` is deprecated" in routed


# 8. `--help` a person can read, fast ------------------------------------------------------------------------


def test_help_is_short_fast_and_complete_behind_help_all(tmp_path):
    env = {**os.environ, "RL_CRITIC_CACHE": str(tmp_path / "cache")}
    script = Path(sys.executable).with_name("rl-critic")

    def help_of(*words: str) -> tuple[str, float]:
        start = time.perf_counter()
        done = subprocess.run([str(script), *words], capture_output=True, text=True, env=env, cwd=ROOT)
        assert done.returncode == 0, done.stderr[-1000:]
        return done.stdout, time.perf_counter() - start

    short, _ = help_of("train", "grpo", "--help")
    again, seconds = help_of("train", "grpo", "--help")
    full, _ = help_of("train", "grpo", "--help-all")
    assert again == short and seconds < 3  # the second one needs no torch (measured 0.1 s, first 7 s)
    assert len(short.splitlines()) < 320 < 1000 < len(full.splitlines())
    assert (
        "model loading (TRL ModelConfig + vision):" in short
        and "critic reward (reward_funcs: [critic_judge]):" in short
    )
    for flag in ("--reward_funcs", "--critic_model", "--learning_rate", "--output_dir", "--num_generations"):
        assert flag in short
    assert "more fields (TRL's and transformers'): --help-all lists every one." in short
    assert "--adam_beta2" in full and "--adam_beta2" not in short
    convert_help, _ = help_of("convert", "--help")
    assert convert_help.count("--images-root") == 1
    tiny_help, _ = help_of("tiny-model", "--help")
    assert "replaced if it exists" not in tiny_help and "any other folder is refused" in " ".join(tiny_help.split())
    generated = subprocess.run(
        [str(script), "generate", "--model", "tiny", "--prompt", "Colour?", "--max_new_tokens", "4"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    lines = generated.stdout.splitlines()
    assert lines[1] == "--- completion (4 tokens) ---" and lines[2], generated.stdout  # blank output is shown, quoted
