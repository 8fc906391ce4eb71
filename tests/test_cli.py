"""The `rl-critic` command: help, version, sub-commands, and one-line errors for bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rl_critic import __version__
from rl_critic.cli import COMMANDS, main
from rl_critic.ground.errors import UserError

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """The installed console script, as a user runs it."""
    script = Path(sys.executable).with_name("rl-critic")
    return subprocess.run([str(script), *args], capture_output=True, text=True, cwd=cwd, env=os.environ.copy())


def test_help_lists_every_command_and_version_matches():
    result = run_cli("--help")
    assert result.returncode == 0
    for name in COMMANDS:
        assert f"  {name}" in result.stdout
    version = run_cli("--version")
    assert version.stdout.strip() == f"rl-critic {__version__}"


def test_unknown_command_is_one_line(capsys):
    assert main(["fly"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown command 'fly'" in err


def test_tiny_model_command_builds_a_checkpoint(tmp_path):
    out = tmp_path / "ov"
    result = run_cli("tiny-model", "--arch", "llava_onevision", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "built tiny llava_onevision:" in result.stdout and "parameters" in result.stdout
    assert json.loads((out / "config.json").read_text())["model_type"] == "llava_onevision"


def test_unknown_arch_is_one_clean_line(tmp_path):
    result = run_cli("tiny-model", "--arch", "gpt2", "--out", str(tmp_path / "x"))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "invalid choice: 'gpt2'" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "x").exists()


# Every runnable command: (argv prefix, module holding its ARGUMENTS, required flags).
RUNNABLE = {
    "demo": ("rl_critic.cli.demo", []),
    "tiny-model": ("rl_critic.cli.tiny_model", ["--out", "x"]),
    "train sft": ("rl_critic.train.sft", []),
    "train dpo": ("rl_critic.train.dpo", []),
    "train grpo": ("rl_critic.train.grpo", []),
    "train critic-dpo": ("rl_critic.train.critic_dpo", []),
    "best-of-n": ("rl_critic.cli.best_of_n", ["--input", "q.jsonl", "--out", "r.jsonl"]),
    "eval critic": ("rl_critic.cli.eval_critic", ["--data", "d", "--out", "r.json"]),
    "eval policy": ("rl_critic.cli.eval_policy", ["--data", "d", "--out", "r.json"]),
    "convert": ("rl_critic.cli.convert", ["--source", "preference", "--input", "i", "--task", "dpo", "--out", "o"]),
    "make-synthetic": ("rl_critic.cli.make_synthetic", ["--n", "1", "--out", "x.parquet"]),
    "make-pairs": ("rl_critic.cli.make_pairs", ["--input", "q.jsonl", "--out", "p.parquet"]),
    "generate": ("rl_critic.cli.generate", ["--prompt", "x"]),
    "export-trl": ("rl_critic.cli.export_trl", ["--recipe", "r.yaml", "--out", "o.yaml"]),
    "env": ("rl_critic.cli.env", []),
}
# One field with an underscore per command (kebab and snake spellings), and a value for it.
SPELLINGS = {
    "demo": None,
    "tiny-model": None,
    "env": None,
    "export-trl": ("method", "dpo"),  # no multi-word field
    "train sft": ("max_steps", "7"),
    "train dpo": ("max_length", "77"),
    "train grpo": ("num_generations", "4"),
    "train critic-dpo": ("critic_max_new_tokens", "3"),
    "best-of-n": ("max_new_tokens", "5"),
    "eval critic": ("max_new_tokens", "5"),
    "eval policy": ("max_new_tokens", "3"),
    "convert": ("dataset_config", "pairwise"),
    "make-synthetic": ("tie_rate", "0.25"),
    "make-pairs": ("pairs_per_question", "2"),
    "generate": ("max_new_tokens", "5"),
}
TRAINING = ["--use_cpu", "true", "--bf16", "false"]  # TRL configs refuse bf16 on a CPU-only machine


def _parse(command: str, argv: list[str]):
    import importlib

    from rl_critic.script.parsing import parse

    module, required = RUNNABLE[command]
    extra = TRAINING if module.startswith("rl_critic.train") else []
    return parse(importlib.import_module(module).ARGUMENTS, f"rl-critic {command}", [*required, *extra, *argv])


def _field(parsed, name: str):
    return next(getattr(instance, name) for instance in parsed if hasattr(instance, name))


def test_every_command_is_covered():
    runnable = set(COMMANDS) - {"train", "eval"} | {f"train {m}" for m in ("sft", "dpo", "grpo", "critic-dpo")}
    assert runnable | {"eval critic", "eval policy"} == set(RUNNABLE) == set(SPELLINGS)


@pytest.mark.parametrize("command", sorted(RUNNABLE))
def test_snake_kebab_and_yaml_spellings_agree(command, tmp_path):
    """The same field set three ways: `--snake_case`, `--kebab-case`, and a flat YAML file via --config."""
    name, value = SPELLINGS[command] or ("seed", "3")
    if command == "env":
        name, value = "json", "true"
    config = tmp_path / "c.yaml"
    config.write_text(f"{name}: {value}\n")
    readings = [
        _parse(command, [f"--{name}", value]),
        _parse(command, [f"--{name.replace('_', '-')}", value]),
        _parse(command, ["--config", str(config)]),
    ]
    values = [_field(parsed, name) for parsed in readings]
    assert values[0] == values[1] == values[2] and str(values[0]).lower() == value


# One name per idea across commands; each old name (the left side) still parses, into the new field.
RENAMED = [
    ("train critic-dpo", "num_candidates", "n", "3"),
    ("train critic-dpo", "max_questions", "limit", "2"),
    ("train critic-dpo", "sample_temperature", "temperature", "0.5"),
    ("train critic-dpo", "sample_top_p", "top_p", "0.5"),
    ("train critic-dpo", "sample_max_new_tokens", "max_new_tokens", "9"),
    ("train critic-dpo", "generation_batch_size", "batch_size", "3"),
    ("train critic-dpo", "judge_max_new_tokens", "critic_max_new_tokens", "9"),
    ("train critic-dpo", "critic_judge", "critic_class", "tests.helpers.LengthJudge"),
    ("best-of-n", "judge_temperature", "critic_temperature", "0.5"),
    ("best-of-n", "judge_instruction", "critic_instruction", "Which?"),
    ("eval policy", "best_of_n", "n", "3"),
    ("train sft", "max_train_samples", "limit", "4"),
    ("train grpo", "max_train_samples", "limit", "4"),
    ("generate", "num_return_sequences", "n", "2"),
]


@pytest.mark.parametrize(("command", "old", "new", "value"), RENAMED, ids=lambda x: str(x))
def test_old_names_parse_into_the_new_field_on_the_command_line_and_in_yaml(command, old, new, value, tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(f"{old}: {value}\n")
    readings = [
        _parse(command, [f"--{new}", value]),
        _parse(command, [f"--{old}", value]),
        _parse(command, [f"--{old.replace('_', '-')}", value]),
        _parse(command, ["--config", str(config)]),
    ]
    values = [_field(parsed, new) for parsed in readings]
    assert len(set(map(str, values))) == 1 and str(values[0]) == value
    assert not any(hasattr(instance, old) for parsed in readings for instance in parsed)


def test_yaml_takes_every_command_line_spelling_and_refuses_a_field_set_twice(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("model: tiny-llava_onevision\nmax-steps: 3\n")  # `--model` is model_name_or_path's alias
    parsed = _parse("train sft", ["--config", str(config)])
    assert _field(parsed, "model_name_or_path") == "tiny-llava_onevision" and _field(parsed, "max_steps") == 3
    config.write_text("n: 3\nnum_candidates: 4\n")
    with pytest.raises(UserError, match="the config file sets n twice \\(as n and as num_candidates\\)"):
        _parse("train critic-dpo", ["--config", str(config)])


@pytest.mark.parametrize("command", sorted(RUNNABLE))
def test_help_shows_snake_case_flags_and_groups_loader_options(command, capsys):
    import dataclasses
    import importlib

    from rl_critic.script.help import own_fields

    def help_text(flag: str) -> str:
        try:
            code = main([*command.split(), flag])
        except SystemExit as exit_info:  # argparse exits after printing help
            code = exit_info.code
        out = capsys.readouterr().out
        assert code == 0 and out.startswith("usage: rl-critic ")
        return out

    short, full = help_text("--help"), help_text("--help-all")
    types = importlib.import_module(RUNNABLE[command][0]).ARGUMENTS
    for name in [f.name for t in types for f in dataclasses.fields(t)]:
        assert f"--{name}" in full  # every field behind --help-all
    for name in own_fields(types):
        assert f"--{name}" in short  # rl-critic's own fields in the short help
    from rl_critic.models.loader import ModelArguments

    if any(issubclass(t, ModelArguments) for t in types):
        for out in (short, full):
            assert "model loading (TRL ModelConfig + vision):" in out and "--attn_implementation" in out


@pytest.mark.parametrize("command", ["train", "eval"])
def test_commands_with_sub_commands_list_them(command, capsys):
    assert main([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert all(
        f"  {name}" in out
        for name in (["sft", "dpo", "grpo", "critic-dpo"] if command == "train" else ["critic", "policy"])
    )


def test_inference_commands_take_every_loader_option():
    parsed = _parse(
        "eval critic",
        [
            "--dtype",
            "bfloat16",
            "--attn-implementation",
            "sdpa",
            "--trust_remote_code",
            "--load_in_4bit",
            "true",
            "--model_revision",
            "v1",
            "--model",
            "tiny",
        ],
    )
    model_args = parsed[-1]
    assert (model_args.dtype, model_args.attn_implementation, model_args.trust_remote_code) == (
        "bfloat16",
        "sdpa",
        True,
    )
    assert model_args.load_in_4bit and model_args.model_revision == "v1" and model_args.model_name_or_path == "tiny"
    critic_args = _parse("best-of-n", ["--critic", "tiny-llava_onevision"])[1]
    assert critic_args.critic_model == "tiny-llava_onevision"


def _error_line(capsys, argv: list[str], code: int = 1) -> str:
    try:
        returned = main(argv)
    except SystemExit as exit_info:
        returned = exit_info.code
    assert returned == code
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


def test_generate_errors_are_one_line(tmp_path, capsys):
    assert "model folder not found: ./nope" in _error_line(capsys, ["generate", "--model", "./nope", "--prompt", "x"])
    missing = str(tmp_path / "missing.yaml")
    assert "missing.yaml" in _error_line(capsys, ["generate", "--config", missing])
    bad = tmp_path / "bad.yaml"
    bad.write_text("prompt: [unclosed\n")
    assert "cannot parse config file" in _error_line(capsys, ["generate", "--config", str(bad)])
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("prompt: hi\nno_such_field: 1\n")
    assert "config file sets fields rl-critic generate does not have: no_such_field" in _error_line(
        capsys, ["generate", "--config", str(unknown)]
    )
    assert "image file not found" in _error_line(
        capsys, ["generate", "--prompt", "x", "--image", str(tmp_path / "a.png")]
    )
    assert "the following arguments are required: --prompt" in _error_line(capsys, ["generate"], code=2)
    assert "unknown tiny model" in _error_line(capsys, ["generate", "--model", "tiny-xl", "--prompt", "x"])


def test_generate_json_reports_image_tokens_and_completion(tmp_path):
    config = tmp_path / "gen.yaml"
    config.write_text("model_name_or_path: tiny\nmax_new_tokens: 5\nmax_pixels: 6272\n")
    result = run_cli(
        "generate",
        "--config",
        str(config),
        "--prompt",
        "What colour is the circle?",
        "--image",
        str(EXAMPLES / "red_circle.png"),
        "--json",
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["model_type"] == "qwen2_5_vl"
    # 112x84 px is 12 tokens unbounded; max_pixels from the YAML makes it 84x56 px = 6 tokens.
    assert report["image_tokens"] == 6 and report["image_sizes"] == [[84, 56]]
    assert len(report["completions"]) == 1 and isinstance(report["completions"][0], str)


def test_generate_plain_output_two_images_llava(capsys):
    images = [str(EXAMPLES / "red_circle.png"), str(EXAMPLES / "blue_square.png")]
    code = main(
        [
            "generate",
            "--model",
            "tiny-llava_onevision",
            "--prompt",
            "Which?",
            "--image",
            *images,
            "--max_new_tokens",
            "3",
        ]
    )
    assert code == 0
    header = capsys.readouterr().out.splitlines()[0]
    assert "(llava_onevision)" in header and "34 image tokens" in header


def test_env_lists_versions(capsys):
    assert main(["env"]) == 0
    out = capsys.readouterr().out
    assert "transformers" in out and "trl" in out and "tiny-model cache" in out


def test_make_synthetic_then_convert_through_the_cli(tmp_path):
    data = tmp_path / "syn.parquet"
    made = run_cli("make-synthetic", "--n", "30", "--kind", "pairwise", "--edge-cases", "--out", str(data))
    assert made.returncode == 0, made.stderr
    assert made.stdout.startswith("wrote 46 rows (pairwise)")
    result = run_cli(
        "convert",
        "--source",
        "llava-critic-pairwise",
        "--input",
        str(data),
        "--task",
        "grpo",
        "--out",
        str(tmp_path / "out"),
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert f"read 46 rows, wrote {summary['rows_written']}" in result.stdout
    assert "corrupt image" in result.stdout and "(see rejected.jsonl)" in result.stdout


def test_convert_errors_are_one_line(tmp_path, capsys):
    base = ["convert", "--source", "preference", "--task", "grpo", "--out", str(tmp_path / "o")]
    assert "input not found" in _error_line(capsys, [*base, "--input", str(tmp_path / "x.jsonl")])
    assert "invalid choice: 'nope'" in _error_line(capsys, [*base[:2], "nope", *base[3:], "--input", "x"], code=2)
    (tmp_path / "bad.txt").write_text("x")
    assert "unsupported input file type" in _error_line(capsys, [*base, "--input", str(tmp_path / "bad.txt")])
    assert "n must be greater than 0" in _error_line(capsys, ["make-synthetic", "--n", "-1", "--out", "a.parquet"])
