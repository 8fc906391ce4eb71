"""Writers never destroy what is not theirs, and readers never drop rows unmentioned (issue 17's silent losses)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from rl_critic.cli import main
from rl_critic.ground.errors import UserError
from rl_critic.ground.files import staged_folder


def _last_line(capsys) -> str:
    return capsys.readouterr().err.strip().splitlines()[-1]


def test_tiny_model_refuses_the_working_directory_and_foreign_folders(tmp_path, monkeypatch, capsys):
    (tmp_path / "precious.txt").write_text("keep me")
    monkeypatch.chdir(tmp_path)
    assert main(["tiny-model", "--out", "."]) == 1
    assert "is the working directory" in _last_line(capsys)
    foreign = tmp_path / "work"
    foreign.mkdir()
    (foreign / "notes.md").write_text("mine")
    assert main(["tiny-model", "--out", str(foreign)]) == 1
    assert "not an earlier output of this command" in _last_line(capsys)
    assert (tmp_path / "precious.txt").read_text() == "keep me" and (foreign / "notes.md").read_text() == "mine"
    assert main(["tiny-model", "--out", str(tmp_path / "m")]) == 0  # a new folder, then its own rebuild
    assert main(["tiny-model", "--out", str(tmp_path / "m")]) == 0
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no staging left


def test_a_target_that_appears_meanwhile_is_not_replaced(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(UserError, match="appeared while this run was writing"):
        with staged_folder(out, replace=False) as staging:
            (staging / "mine.txt").write_text("this run")
            out.mkdir()  # another run finished first
            (out / "theirs.txt").write_text("other run")
    assert [p.name for p in out.iterdir()] == ["theirs.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # this run's staging is gone


def _convert_argv(source_file, out, *extra):
    return [
        "convert",
        "--source",
        "preference",
        "--input",
        str(source_file),
        "--task",
        "dpo",
        "--out",
        str(out),
        *extra,
    ]


@pytest.fixture
def pairs(tmp_path):
    from PIL import Image

    folder = tmp_path / "inputs"
    folder.mkdir()
    Image.new("RGB", (28, 28), "red").save(folder / "a.png")
    row = {"question": "Colour?", "chosen": "Red.", "rejected": "Blue.", "image": "a.png"}
    (folder / "pairs.jsonl").write_text(json.dumps(row) + "\n")
    return folder / "pairs.jsonl"


def test_convert_never_replaces_its_own_input_or_a_foreign_folder(pairs, tmp_path, capsys):
    before = {p.name: p.read_bytes() for p in pairs.parent.iterdir()}
    for out in (pairs.parent, tmp_path):
        assert main(_convert_argv(pairs, out, "--overwrite")) == 1
        assert "holds the input" in _last_line(capsys)
    foreign = tmp_path / "results"
    foreign.mkdir()
    (foreign / "paper.tex").write_text("draft")
    assert main(_convert_argv(pairs, foreign, "--overwrite")) == 1
    assert "not an earlier output" in _last_line(capsys)
    assert {p.name: p.read_bytes() for p in pairs.parent.iterdir()} == before
    assert (foreign / "paper.tex").read_text() == "draft"
    assert main(_convert_argv(pairs, tmp_path / "dpo")) == 0
    assert main(_convert_argv(pairs, tmp_path / "dpo")) == 1  # exists, no --overwrite
    assert main(_convert_argv(pairs, tmp_path / "dpo", "--overwrite")) == 0  # its own earlier output


def test_a_folder_of_parquet_and_jsonl_is_refused_not_half_read(pairs, tmp_path, capsys):
    from datasets import Dataset

    Dataset.from_list([{"question": "x", "chosen": "a", "rejected": "b"}]).to_parquet(
        str(pairs.parent / "more.parquet")
    )
    assert main(_convert_argv(pairs.parent, tmp_path / "out")) == 1
    assert "holds both parquet (1) and JSONL (1) files" in _last_line(capsys)
    assert not (tmp_path / "out").exists()


def test_reports_are_named_after_out_so_two_evals_share_a_folder(tmp_path):
    from rl_critic.evaluation.report import report_paths, write_report

    assert [p.name for p in report_paths(tmp_path / "report.md")] == [
        "report.json",
        "report.md",
        "report.judgments.jsonl",
    ]
    write_report(tmp_path / "a.json", {"rows": 1}, [{"id": "a"}], "A")
    write_report(tmp_path / "b.md", {"rows": 2}, [{"id": "b"}, {"id": "c"}], "B")
    assert json.loads((tmp_path / "a.json").read_text()) == {"rows": 1}
    assert json.loads((tmp_path / "b.json").read_text()) == {"rows": 2}  # `--out b.md` did not clobber JSON
    assert (tmp_path / "a.judgments.jsonl").read_text().count("\n") == 1
    assert (tmp_path / "b.judgments.jsonl").read_text().count("\n") == 2


def test_a_yaml_alias_bomb_is_refused_before_it_is_expanded(tmp_path, capsys):
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in "bcdefghi":
        previous = chr(ord(level) - 1)
        lines.append(f"{level}: &{level} [" + ",".join([f"*{previous}"] * 9) + "]")
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("\n".join(lines) + "\nlearning_rate: *i\n")
    assert main(["train", "grpo", "--config", str(bomb)]) != 0  # before the fix: minutes at 13 GB
    assert "expands (through YAML aliases) to over 100,000 values" in _last_line(capsys)


def test_a_later_run_removes_what_killed_runs_left_but_not_live_ones(tmp_path, capsys):
    import os
    import subprocess
    import tempfile

    dead = subprocess.Popen(["true"])
    dead.wait()  # a finished process: its pid is free, as a killed run's would be
    out = tmp_path / "synthetic.parquet"
    stale_dir = tmp_path / f".{out.name}.partial-{dead.pid}-abc"
    stale_dir.mkdir()
    (stale_dir / "big.bin").write_bytes(b"0" * 1000)
    stale_file = tmp_path / f".{out.name}.partial-{dead.pid}-parquet"
    stale_file.write_bytes(b"half")
    live = tmp_path / f".{out.name}.partial-{os.getpid()}-xyz"  # a run still writing: keep
    live.mkdir()
    stale_cache = Path(tempfile.gettempdir()) / f"rl-critic-synthetic-{dead.pid}-old"
    stale_cache.mkdir(exist_ok=True)
    assert main(["make-synthetic", "--n", "4", "--out", str(out)]) == 0
    assert out.exists() and not stale_dir.exists() and not stale_file.exists() and live.exists()
    assert not stale_cache.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".") and p != live]


ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ("best-of-n --input examples/questions.jsonl --out {tmp}/x.jsonl --n 0", "n must be greater than 0 (got 0)"),
        ("best-of-n --input examples/questions.jsonl --out {tmp}/x.jsonl --chunk -3", "chunk must be greater than 0"),
        (
            "best-of-n --input examples/questions.jsonl --out {tmp}/x.jsonl --temperature 0 --limit 1",
            "sampling needs a temperature above 0",
        ),
        ("make-synthetic --n 4 --tie_rate 1.5 --out {tmp}/s.parquet", "tie_rate must be between 0 and 1 (got 1.5)"),
        ("eval critic --data d --out {tmp}/r.json --batch_size -1", "batch_size must be greater than 0 (got -1)"),
        ("eval policy --data d --out {tmp}/r.json --top_p 0", "top_p must be in (0, 1]"),
        (
            "train critic-dpo --config recipes/tiny/critic_dpo_policy.yaml --rounds 0 --output_dir {tmp}/o",
            "rounds must be greater than 0 (got 0)",
        ),
        (
            "train grpo --config {tmp}/list.yaml --use_cpu true --bf16 false",
            "the config file sets learning_rate to [1, 2], but learning_rate takes a number",
        ),
        (
            "train sft --config recipes/tiny/sft_critic.yaml --per_device_train_batch_size 0 --output_dir {tmp}/o",
            "per_device_train_batch_size must be greater than 0",
        ),
        ("generate --prompt hi --min_pixels -5", "min_pixels must be greater than 0 (got -5)"),
        ("convert --source preference --input i --task dpo --out {tmp}/o --num_proc 0", "num_proc must be greater"),
    ],
    ids=lambda value: value.split(" --")[0] if " --" in str(value) else None,
)
def test_numbers_are_checked_with_one_line(argv, expected, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    (tmp_path / "list.yaml").write_text("learning_rate: [1, 2]\n")
    assert main(argv.format(tmp=tmp_path).split()) != 0
    last = _last_line(capsys)
    assert last.startswith("rl-critic ") and expected in last, last
    assert not (tmp_path / "o").exists() and not (tmp_path / "x.jsonl").exists()


@pytest.mark.parametrize(
    "argv",
    [
        "best-of-n --input examples/questions.jsonl --out {tmp}/afile/x.jsonl",
        "best-of-n --input examples/questions.jsonl --out {tmp}",
        "eval critic --data d --out {tmp}/afile/r.json",
        "eval policy --data examples/questions.jsonl --out {tmp}",
        "convert --source preference --input examples/questions.jsonl --task dpo --out {tmp}/afile --overwrite",
        "tiny-model --out {tmp}/afile",
        "make-synthetic --n 2 --out {tmp}/afile/s.parquet",
    ],
    ids=lambda value: value.split(" --")[0],
)
def test_an_output_path_that_cannot_be_written_is_one_line_before_any_work(argv, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    (tmp_path / "afile").write_text("a file, not a folder")
    assert main(argv.format(tmp=tmp_path).split()) != 0
    last = _last_line(capsys)
    assert last.startswith("rl-critic ") and ("is a file" in last or "is a folder" in last or "not a folder" in last)
    assert (tmp_path / "afile").read_text() == "a file, not a folder"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


def _unreadable(tmp_path: Path, kind: str) -> Path:
    if kind == "empty.jsonl":
        (tmp_path / kind).write_text("")
    elif kind == "objects.jsonl":
        (tmp_path / kind).write_text("{}\n{}\n")
    elif kind == "latin1.jsonl":
        (tmp_path / kind).write_bytes(b'{"question": "caf\xe9"}\n\xff\xfe\n')
    elif kind == "truncated.parquet":
        from datasets import Dataset

        Dataset.from_list([{"question": "x" * 500}]).to_parquet(str(tmp_path / "full.parquet"))
        (tmp_path / kind).write_bytes((tmp_path / "full.parquet").read_bytes()[:200])
        (tmp_path / "full.parquet").unlink()
    elif kind == "zero-rows.parquet":
        from datasets import Dataset

        Dataset.from_dict({"question": []}).to_parquet(str(tmp_path / kind))
    return tmp_path / kind


@pytest.mark.parametrize(
    "kind", ["empty.jsonl", "objects.jsonl", "latin1.jsonl", "truncated.parquet", "zero-rows.parquet"]
)
@pytest.mark.parametrize(
    "command",
    [
        "convert --source preference --task dpo --input {data} --out {tmp}/out",
        "train grpo --config recipes/tiny/grpo_critic.yaml --dataset_name {data} --output_dir {tmp}/out",
        "eval critic --data {data} --out {tmp}/out/r.json",
    ],
    ids=["convert", "train", "eval"],
)
def test_unreadable_data_is_one_line_and_writes_nothing(kind, command, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    data = _unreadable(tmp_path, kind)
    assert main(command.format(data=data, tmp=tmp_path).split()) != 0
    last = _last_line(capsys)
    assert last.startswith("rl-critic ") and ": error: " in last and str(data) in last, last
    assert not (tmp_path / "out").exists()


@pytest.fixture
def bombs(tmp_path):
    from PIL import Image

    Image.new("1", (20000, 20000)).save(tmp_path / "bomb.png", optimize=True)  # 48 kB on disk, 400 MP
    with open(tmp_path / "huge.png", "wb") as handle:  # sparse: 70 MB that must be refused unread
        handle.truncate(70 * 2**20)
    good = "good.png"  # inside the input's folder, as convert's --images_root requires by default
    (tmp_path / good).write_bytes((ROOT / "examples" / "red_circle.png").read_bytes())
    rows = [
        {"id": name, "question": "Colour?", "chosen": "Red.", "rejected": "Blue.", "image": image}
        for name, image in (("bomb", "bomb.png"), ("huge", "huge.png"), ("good", good))
    ]
    (tmp_path / "pairs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "q.jsonl").write_text(
        "".join(json.dumps({"id": r["id"], "question": "What?", "image": r["image"]}) + "\n" for r in rows)
    )
    return tmp_path


def test_decompression_bombs_and_huge_files_are_rejected_rows_not_crashes(bombs, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    assert (
        main(
            [
                "convert",
                "--source",
                "preference",
                "--input",
                str(bombs / "pairs.jsonl"),
                "--task",
                "dpo",
                "--out",
                str(bombs / "dpo"),
            ]
        )
        == 0
    )
    reasons = {
        json.loads(line)["id"]: json.loads(line)["reason"]
        for line in (bombs / "dpo" / "rejected.jsonl").read_text().splitlines()
    }
    assert "too large to decode safely" in reasons["bomb"] and "over 64 MB" in reasons["huge"]
    assert json.loads((bombs / "dpo" / "summary.json").read_text())["rows_written"] == 1
    assert (
        main(
            [
                "best-of-n",
                "--input",
                str(bombs / "q.jsonl"),
                "--out",
                str(bombs / "r.jsonl"),
                "--n",
                "2",
                "--max_new_tokens",
                "2",
                "--strategy",
                "first",
            ]
        )
        == 0
    )
    records = {r["id"]: r for r in map(json.loads, (bombs / "r.jsonl").read_text().splitlines())}
    assert "too large to decode safely" in str(records["bomb"]["errors"]) and "over 64 MB" in str(
        records["huge"]["errors"]
    )
    assert "errors" not in records["good"]
    capsys.readouterr()
    assert main(["generate", "--prompt", "hi", "--image", str(bombs / "bomb.png")]) == 1
    assert "image too large to decode safely" in _last_line(capsys)


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        ("config", "a JSON file in it does not parse"),
        ("weights", "Error while deserializing header"),
        ("custom", "needs code from the checkpoint itself"),
        ("empty", "holds no config.json"),
    ],
)
def test_broken_model_folders_are_one_line(damage, expected, tiny_dirs, tmp_path, capsys):
    import shutil

    folder = tmp_path / "model"
    shutil.copytree(tiny_dirs["qwen2_5_vl"], folder)
    if damage == "config":
        (folder / "config.json").write_text("{not json")
    elif damage == "weights":
        (folder / "model.safetensors").write_bytes((folder / "model.safetensors").read_bytes()[:1000])
    elif damage == "custom":
        config = json.loads((folder / "config.json").read_text())
        config |= {"model_type": "x_custom", "auto_map": {"AutoConfig": "configuration_x.XConfig"}}
        (folder / "config.json").write_text(json.dumps(config))
    else:
        for path in folder.iterdir():
            path.unlink()
        (folder / "notes.txt").write_text("x")
    assert main(["generate", "--model", str(folder), "--prompt", "hi", "--max_new_tokens", "1"]) == 1
    assert expected in _last_line(capsys)


def test_a_truncated_tiny_model_in_the_cache_is_rebuilt(tiny_cache, capsys):
    from rl_critic.models.tiny import ensure_tiny_model

    folder = ensure_tiny_model("llava_onevision", "small")
    weights = folder / "model.safetensors"
    good = weights.stat().st_size
    weights.write_bytes(weights.read_bytes()[: good // 3])  # a full disk cut the write
    assert ensure_tiny_model("llava_onevision", "small") == folder
    assert weights.stat().st_size == good
    assert main(["generate", "--model", "tiny-llava_onevision-small", "--prompt", "hi", "--max_new_tokens", "1"]) == 0


def _output_is_input_cases(folder: Path) -> list[tuple[list[str], Path]]:
    """(argv, the input it must leave alone) for every writer whose `--out` is its input, or links to it."""
    import shutil

    from datasets import Dataset

    root = Path(__file__).resolve().parent.parent
    questions = folder / "questions.jsonl"
    shutil.copy(root / "examples" / "questions.jsonl", questions)
    for name in ("red_circle.png", "blue_square.png"):
        shutil.copy(root / "examples" / name, folder / name)
    (folder / "link.jsonl").symlink_to(questions)
    os.link(questions, folder / "hard.jsonl")
    parquet = folder / "questions.parquet"
    Dataset.from_list([{"question": "What colour is it?", "answer": "red"}]).to_parquet(str(parquet))
    recipe = folder / "grpo.yaml"
    shutil.copy(root / "recipes" / "tiny" / "grpo_critic.yaml", recipe)
    best_of_n = ["best-of-n", "--model", "tiny", "--n", "2", "--max_new_tokens", "2"]
    return [
        ([*best_of_n, "--input", str(questions), "--out", str(questions)], questions),
        ([*best_of_n, "--input", str(questions), "--out", str(folder / "link.jsonl")], questions),
        ([*best_of_n, "--input", str(folder / "link.jsonl"), "--out", str(questions)], questions),
        ([*best_of_n, "--input", str(questions), "--out", str(folder / "hard.jsonl")], questions),
        (["make-pairs", "--model", "tiny", "--input", str(parquet), "--out", str(parquet)], parquet),
        (["export-trl", "--recipe", str(recipe), "--out", str(recipe)], recipe),
        (["eval", "policy", "--model", "tiny", "--data", str(questions), "--out", str(questions)], questions),
    ]


def test_no_writer_replaces_its_own_input(tmp_path):
    """An `--out` that is (or links to) the command's input is one line, exit 1, and every file stays as it was."""
    import hashlib

    from tests.test_cli import run_cli

    cases = _output_is_input_cases(tmp_path)

    def checksums() -> dict[str, str]:
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(tmp_path.iterdir()) if p.is_file()}

    before = checksums()
    for argv, protected in cases:
        result = run_cli(*argv)
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 1, (argv, result.stderr[-500:])
        assert lines[-1].startswith("rl-critic") and "refusing to write" in lines[-1], lines[-1]
        assert str(protected.name) in lines[-1] or str(protected) in lines[-1], lines[-1]
        assert "Traceback" not in result.stderr
        assert checksums() == before, argv
        assert (tmp_path / "link.jsonl").is_symlink()


def test_a_data_folder_is_walked_within_bounds_and_its_hidden_files_skipped(tmp_path, monkeypatch):
    """`--input /` is refused after `MAX_FOLDER_ENTRIES`, not walked for minutes; a clone's `.git` (hidden, as
    `datasets` skips it) does not count, however large."""
    from data_converters import io

    monkeypatch.setattr(io, "MAX_FOLDER_ENTRIES", 50)
    data = tmp_path / "data"
    (data / ".git" / "objects").mkdir(parents=True)
    for number in range(80):
        (data / ".git" / "objects" / f"{number:02x}").write_text("blob")
    (data / "rows.jsonl").write_text(json.dumps({"question": "q", "chosen": "a", "rejected": "b"}) + "\n")
    assert io.load_any(str(data))["question"] == ["q"]
    for number in range(60):
        (data / f"more-{number}.jsonl").write_text(json.dumps({"question": "q", "chosen": "a", "rejected": "b"}) + "\n")
    with pytest.raises(UserError, match="holds over 50 files and folders: not a dataset folder"):
        io.load_any(str(data))
