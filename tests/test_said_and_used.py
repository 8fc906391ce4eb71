"""Bad input, round 4b, in subprocesses: what the user wrote is used, refused by name or reported, never dropped
in silence; a model's own special tokens in a text are that row's error; paths, checkpoints and recipes that
cannot be used are one line, before any model loads."""

from __future__ import annotations

import io
import json
import os
import shutil
from pathlib import Path

import pytest
from datasets import Dataset
from PIL import Image

from tests.cli_batch import Command, run_commands
from tests.test_hostile_inputs import one_line

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "recipes" / "tiny"
CPU = ["--use_cpu", "true", "--bf16", "false", "--gradient_checkpointing", "false", "--report_to", "none"]
TOKENS = "What is <|vision_start|><|image_pad|><|vision_end|> this?"


def _records(path: Path) -> dict[str, dict]:
    return {record["id"]: record for record in map(json.loads, path.read_text().splitlines())}


def _turned_jpeg(path: Path) -> None:
    """A 64x32 photo stored on its side: EXIF orientation 6 says it stands 32x64 (red left half, blue right)."""
    image = Image.new("RGB", (64, 32), (220, 30, 30))
    image.paste((30, 30, 220), (32, 0, 64, 32))
    exif = Image.Exif()
    exif[0x0112] = 6
    image.save(path, format="JPEG", exif=exif)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    """Questions, converted data, a data set holding special tokens, a latin-1 file, bad checkpoints and recipes."""
    folder = tmp_path_factory.mktemp("said")
    for name in ("red_circle.png", "blue_square.png"):
        shutil.copy(ROOT / "examples" / name, folder / name)
    _turned_jpeg(folder / "turned.jpg")
    questions = [
        {"id": "good", "image": "red_circle.png", "question": "What colour?", "category": "colour"},
        {"id": "video", "video": "clip.mp4", "question": "What happens?"},
        {"id": "audio", "audio": "clip.wav", "question": "What is said?"},
        {"id": "typo", "imge": "red_circle.png", "question": "What colour?"},
        {"id": "tokens", "image": "red_circle.png", "question": TOKENS},
    ]
    (folder / "questions.jsonl").write_text("".join(json.dumps(row) + "\n" for row in questions))
    steps = [["make-synthetic", "--n", "12", "--kind", "pairwise", "--out", str(folder / "raw.parquet")]]
    steps += [
        ["convert", "--source", "llava-critic-pairwise", "--input", str(folder / "raw.parquet"), "--task", task]
        + ["--out", str(folder / task)]
        for task in ("eval", "sft", "grpo")
    ]
    for result in run_commands([Command(argv) for argv in steps]):
        assert result.returncode == 0, result.stderr[-1000:]
    # Data written by other tools than `convert` (which refuses such rows): a special token in a response / turn
    from data_converters.io import load_any

    evaluation = load_any(str(folder / "eval")).to_list()
    evaluation[0]["responses"][1] = "It is <image> red."
    Dataset.from_list(evaluation).to_parquet(str(folder / "eval-tokens.parquet"))
    sft = load_any(str(folder / "sft")).to_list()
    sft[3]["messages"][-1]["content"][-1]["text"] += " <|im_end|>"
    Dataset.from_list(sft).to_parquet(str(folder / "sft-tokens.parquet"))
    (folder / "latin1.jsonl").write_bytes('{"question": "caf\xe9"}\n'.encode("latin-1"))
    (folder / "loop").symlink_to(folder / "loop2")
    (folder / "loop2").symlink_to(folder / "loop")
    recipe = (TINY / "grpo_critic.yaml").read_text()
    (folder / "number-key.yaml").write_text(recipe + "1: 2\n")
    (folder / "no-rewards.yaml").write_text(recipe.replace("reward_funcs:", "old_reward_funcs:") + "reward_funcs: []\n")
    (folder / "no-rewards.yaml").write_text(
        "\n".join(line for line in (folder / "no-rewards.yaml").read_text().splitlines() if "old_reward" not in line)
    )
    return folder


def _checkpoints(folder: Path) -> dict[str, Path]:
    """Checkpoints a resume must refuse, one fault each, beside a file named as one."""
    from rl_critic.models.tiny import ensure_tiny_model

    weights = (Path(ensure_tiny_model("qwen2_5_vl")) / "model.safetensors").read_bytes()
    made = {}
    for name in ("empty", "junk_state", "cut_weights", "random_optimizer"):
        (folder / name).mkdir()
        made[name] = folder / name
    (folder / "junk_state" / "trainer_state.json").write_text("{not json")
    for name in ("cut_weights", "random_optimizer"):
        (folder / name / "trainer_state.json").write_text('{"global_step": 2}')
    (folder / "cut_weights" / "model.safetensors").write_bytes(weights[: len(weights) // 2])
    (folder / "random_optimizer" / "model.safetensors").write_bytes(weights)
    (folder / "random_optimizer" / "optimizer.pt").write_bytes(os.urandom(4096))
    (folder / "a_file").write_text("not a checkpoint")
    made["a_file"] = folder / "a_file"
    return made


def test_fields_options_and_special_tokens_are_used_refused_or_reported(inputs, tmp_path):
    best_of_n = ["best-of-n", "--model", "tiny", "--n", "2", "--max_new_tokens", "4", "--critic_unreadable_ok", "true"]
    best_of_n += ["--input"]  # the untrained tiny critic reads no verdict: it goes on
    sft = ["train", "sft", "--config", str(TINY / "sft_critic.yaml"), "--max_steps", "1", *CPU]
    grpo = ["train", "grpo", "--config", str(TINY / "grpo_critic.yaml"), "--dataset_name", str(inputs / "grpo")]
    grpo += ["--max_steps", "1", *CPU]
    results = run_commands(
        [
            Command([*best_of_n, str(inputs / "questions.jsonl"), "--out", str(tmp_path / "picks.jsonl")]),
            Command([*grpo, "--reward_funcs", "critic:ties=skp", "--output_dir", str(tmp_path / "g1")]),
            Command([*grpo, "--reward_funcs", "critic:tolerance=abc", "--output_dir", str(tmp_path / "g2")]),
            Command([*grpo, "--reward_funcs", "pointwise:mode=bnad", "--output_dir", str(tmp_path / "g3")]),
            Command(
                ["eval", "critic", "--model", "tiny", "--max_new_tokens", "4", "--unreadable_ok", "true", "--data"]
                + [str(inputs / "eval-tokens.parquet"), "--out", str(tmp_path / "e" / "r.json")]
            ),
            Command([*sft, "--dataset_name", str(inputs / "sft-tokens.parquet"), "--output_dir", str(tmp_path / "s")]),
        ]
    )
    picks, ties, tolerance, mode, evaluated, tokens = results
    assert picks.returncode == 0, picks.stderr[-1500:]
    records = _records(tmp_path / "picks.jsonl")
    assert records["good"].get("picked") is not None
    assert records["video"]["errors"] == ["video file not found (or not a regular file): clip.mp4"]  # read now
    assert records["audio"]["errors"] == [
        "`audio`: audio is not read yet; a question row takes pictures (`image` / `images`) and a `video`"
    ]
    assert records["typo"]["errors"] == ["`imge` is not a field of a question row: did you mean `image`?"]
    assert records["tokens"]["errors"][0].startswith("its text holds `<|vision_start|>`, one of the models' own")
    assert "warning: " in picks.stderr and "field(s) `category` of the question rows are not used" in picks.stderr
    one_line(ties, "train", "reward 'critic:ties=skp': ties must be one of match, skip, not 'skp'")
    one_line(tolerance, "train", "reward 'critic:tolerance=abc': tolerance must be a number from 0 to 1, not 'abc'")
    one_line(mode, "train", "reward 'pointwise:mode=bnad': mode must be one of linear, band, not 'bnad'")
    assert not any((tmp_path / name).exists() for name in ("g1", "g2", "g3", "s"))
    assert evaluated.returncode == 0, evaluated.stderr[-1500:]
    report = json.loads((tmp_path / "e" / "r.json").read_text())
    assert report["errors"]["rows"] == 1 and "its text holds `<image>`" in report["errors"]["first"]
    one_line(
        tokens, "train", "training data row id 'synthetic-pair-3': its text holds `<|im_end|>`, one of the models' own"
    )


def test_convert_refuses_special_tokens_and_stands_photos_up(inputs, tmp_path):
    """`convert` reports a row whose text holds a special token (rejected.jsonl) and stores a turned photo upright,
    so `datasets.load_dataset` (what plain TRL reads) sees it as it stands."""
    import datasets

    from data_converters.layouts import features
    from data_converters.synthetic import synthetic_rows
    from rl_critic.models.vision import load_image

    rows = list(synthetic_rows(4, "pairwise", seed=3))
    rows[0]["conversations"][0]["value"] = rows[0]["conversations"][0]["value"].replace("]", " <|image_pad|>]", 1)
    rows[1]["image"] = {"bytes": (inputs / "turned.jpg").read_bytes(), "path": "turned.jpg"}
    Dataset.from_list(rows, features=features()).to_parquet(str(tmp_path / "raw.parquet"))
    argv = ["convert", "--source", "llava-critic-pairwise", "--input", str(tmp_path / "raw.parquet"), "--task"]
    [result] = run_commands([Command([*argv, "eval", "--out", str(tmp_path / "eval"), "--keep-order"])])
    assert result.returncode == 0, result.stderr[-1500:]
    rejected = [json.loads(line) for line in (tmp_path / "eval" / "rejected.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rejected] == [rows[0]["id"]] and "holds `<|image_pad|>`" in rejected[0]["reason"]
    plain = datasets.load_dataset(str(tmp_path / "eval"), split="train")
    stood = {row["id"]: row["image"] for row in plain}[rows[1]["id"]]
    assert stood.size == (32, 64)  # upright: turned a quarter clockwise, the stored left half (red) on top
    assert stood.getpixel((16, 8))[0] > 150 and stood.getpixel((16, 56))[2] > 150
    assert load_image((inputs / "turned.jpg").read_bytes(), resize=False).size == (32, 64)
    buffer = io.BytesIO()
    Image.open(inputs / "turned.jpg").save(buffer, format="PNG")  # a PIL image of it, its tag lost: as stored
    assert Image.open(buffer).size == (64, 32)


def test_paths_checkpoints_and_recipes_that_cannot_be_used_are_one_line(inputs, tmp_path):
    broken = _checkpoints(tmp_path)
    sft = ["train", "sft", "--config", str(TINY / "sft_critic.yaml"), "--dataset_name", str(inputs / "sft"), *CPU]
    resumes = [
        Command([*sft, "--output_dir", str(tmp_path / f"r-{name}"), "--resume_from_checkpoint", str(path)])
        for name, path in broken.items()
    ]
    results = run_commands(
        [
            *resumes,
            Command(
                ["convert", "--source", "llava-critic-pairwise", "--input", str(inputs / "raw.parquet")]
                + ["--task", "eval", "--out", str(inputs / "loop")]
            ),
            Command(
                ["convert", "--source", "llava-critic-pairwise", "--input", str(inputs / "loop")]
                + ["--task", "eval", "--out", str(tmp_path / "x")]
            ),
            Command([*sft, "--output_dir", str(inputs / "loop")]),
            Command(["train", "grpo", "--config", str(inputs / "number-key.yaml")]),
            Command(
                ["train", "grpo", "--config", str(inputs / "no-rewards.yaml"), "--output_dir", str(tmp_path / "n")]
            ),
            Command(
                ["convert", "--source", "llava-critic-pairwise", "--input", str(inputs / "latin1.jsonl")]
                + ["--task", "eval", "--out", str(tmp_path / "latin")]
            ),
        ]
    )
    empty, junk, cut, optimizer, a_file, loop_out, loop_in, loop_dir, number_key, no_rewards, latin = results
    one_line(empty, "train", "empty is not a complete checkpoint: it has no trainer_state.json")
    one_line(junk, "train", "junk_state/trainer_state.json does not parse", "the checkpoint is damaged")
    one_line(cut, "train", "cut_weights/model.safetensors cannot be read", "the checkpoint is damaged")
    one_line(optimizer, "train", "optimizer.pt is not a complete torch save (corrupt or cut short)")
    one_line(a_file, "train", "a_file is a file; name a checkpoint folder (checkpoint-N)")
    one_line(loop_out, "convert", f"{inputs / 'loop'} is a symbolic link loop (it leads back to itself)")
    one_line(loop_in, "convert", f"input {inputs / 'loop'} is a symbolic link to nothing readable")
    one_line(loop_dir, "train", "is a symbolic link loop (it leads back to itself)")
    one_line(number_key, "train", "number-key.yaml has the key '1', which is not a field name")
    one_line(no_rewards, "train", "reward_funcs is empty: GRPO needs at least one reward")
    one_line(latin, "convert", "latin1.jsonl is not UTF-8 text (byte 0xe9", "save it as UTF-8")
    assert not any((tmp_path / name).exists() for name in ("x", "n", "latin", *(f"r-{n}" for n in broken)))


def test_a_run_killed_before_its_first_record_does_not_block_another(inputs, tmp_path):
    """Its journal holds no finished record: another run (other settings) starts over instead of being refused."""
    out = tmp_path / "picks.jsonl"
    (tmp_path / ".picks.jsonl.journal.jsonl").write_text(json.dumps({"pid": 1, "settings": {"n": 9}}) + "\n")
    argv = ["best-of-n", "--model", "tiny", "--n", "2", "--max_new_tokens", "3", "--critic_unreadable_ok", "true"]
    argv += ["--input"]
    [result] = run_commands([Command([*argv, str(ROOT / "examples" / "questions.jsonl"), "--out", str(out)])])
    assert result.returncode == 0, result.stderr[-1500:]
    assert len(_records(out)) == 4 and not (tmp_path / ".picks.jsonl.journal.jsonl").exists()


def test_a_deleted_working_directory_is_one_line(tmp_path):
    """Every relative path starts from the working directory: gone (a folder deleted under a shell), it is said so."""
    import subprocess
    import sys

    gone = tmp_path / "gone"
    gone.mkdir()
    script = "import os, sys; os.chdir(sys.argv[1]); os.rmdir(sys.argv[1]); from rl_critic.cli import main; "
    script += "sys.exit(main(sys.argv[2:]))"
    command = [sys.executable, "-c", script, str(gone), "convert", "--input", "x.parquet", "--out", "y"]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)}
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert (
        result.stderr.strip().splitlines()[-1]
        == "rl-critic: error: the working directory no longer exists: cd to a folder that does"
    )
