"""Bad input, round 3 (issue 31): every class of hostile input, as a subprocess per command.

Each test runs real command lines (`tests.cli_batch`: one process per command, forked from one warm
interpreter) and checks what a user sees: the exit code, the one line on stderr, the files written, and
the checksums of every input before and after. One test per class of failure:

1. an output that would overwrite what another command made (ownership markers, `--overwrite`, training)
2. image paths that leave the input's folder (the one image-path rule of every row reader)
3. hangs: silent image servers, FIFOs, `--input /`, a 20 MB question
4. rows that used to end the run with a traceback (image values, deep JSON, corrupt images, eval rows)
5. recipes of the wrong types; broken checkpoints; broken rewards and LoRA targets; Ctrl-C with workers
6. wrong successes: a reward that is always None, a BOM, non-text answers, unlabelled eval rows, `$HOME`
7. lines that named the wrong cause (pipes, `/dev/stdin`, a reused pid, long names) and SIGTERM clean-up
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import signal
import socket
import threading
from pathlib import Path

import pytest
from PIL import Image

from tests.cli_batch import Command, Result, run_commands
from tests.conftest import shape_image

ROOT = Path(__file__).resolve().parent.parent
TINY_ANSWER = ["--model", "tiny", "--n", "2", "--max_new_tokens", "2"]
TINY_BEST_OF_N = [*TINY_ANSWER, "--critic_unreadable_ok", "true"]  # the untrained tiny critic reads no verdict


def checksums(folder: Path) -> dict[str, str]:
    """sha256 of every file under `folder` (symlinks as their target path), by relative path."""
    sums = {}
    for path in sorted(folder.rglob("*")):
        name = str(path.relative_to(folder))
        if path.is_symlink():
            sums[name] = "-> " + os.readlink(path)
        elif path.is_file():
            sums[name] = hashlib.sha256(path.read_bytes()).hexdigest()
    return sums


def one_line(result: Result, command: str, *words: str, code: int = 1) -> None:
    """Exit `code`, no traceback, and a last stderr line `rl-critic <command>: ...` holding every word."""
    assert result.returncode == code, (result.returncode, result.stderr[-1500:])
    assert "Traceback" not in result.stderr, result.stderr[-1500:]
    assert result.last_line.startswith(f"rl-critic {command}:"), result.last_line
    for word in words:
        assert word in result.last_line, (word, result.last_line)


def png_bytes(width: int = 56, height: int = 56, colour=(220, 30, 30)) -> bytes:
    buffer = io.BytesIO()
    shape_image(width, height, colour).save(buffer, "PNG")
    return buffer.getvalue()


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def colour_pairs(folder: Path, rows: int, *tasks: str) -> Path:
    """`rows` preference rows about one red picture in `folder` (pairs.jsonl, a.png), converted to each of `tasks`
    (`folder/<task>`); returns the JSONL file."""
    from data_converters.convert import convert

    (folder / "a.png").write_bytes(png_bytes())
    pairs = write_jsonl(
        folder / "pairs.jsonl",
        [
            {"id": f"p{i}", "question": "Colour?", "chosen": "Red.", "rejected": "Blue.", "image": "a.png"}
            for i in range(rows)
        ],
    )
    for task in tasks:
        convert("preference", str(pairs), task, str(folder / task))
    return pairs


def records(path: Path) -> list[dict]:
    """JSON Lines as a strict reader takes them: a bare NaN or Infinity is an error, not a float."""

    def refuse(constant):
        raise ValueError(f"not JSON: {constant}")

    return [json.loads(line, parse_constant=refuse) for line in path.read_text().splitlines() if line.strip()]


# 1. What another command made is never overwritten --------------------------------------------------------


def _eval_tiny_critic(data, report) -> list[str]:
    """`eval critic` with the untrained tiny critic, told to go on past its unreadable verdicts, answers cut short."""
    return ["eval", "critic", "--model", "tiny", "--data", str(data), "--out", str(report)] + [
        "--unreadable_ok",
        "true",
        "--max_new_tokens",
        "2",
    ]


def test_outputs_of_other_commands_and_user_files_are_never_replaced(tmp_path):
    from datasets import Dataset

    pairs = write_jsonl(
        tmp_path / "pairs.jsonl",
        [{"question": "Colour?", "chosen": "Red.", "rejected": "Blue.", "image": "a.png"}],
    )
    (tmp_path / "a.png").write_bytes(png_bytes())
    demo_out = tmp_path / "demo_out"  # what `rl-critic demo` leaves: a summary.json, and more
    demo_out.mkdir()
    (demo_out / "summary.json").write_text('{"demo": true}\n')
    (demo_out / "REPORT.md").write_text("# the demo\n")
    round_dir = tmp_path / "critic_dpo" / "round_1"  # a critic-DPO round with its trained model
    (round_dir / "model").mkdir(parents=True)
    (round_dir / "summary.json").write_text('{"preferences": 3}\n')
    (round_dir / "model" / "model.safetensors").write_bytes(b"weights")
    project = tmp_path / "project"  # a user's folder: `train --output_dir .` from inside it
    project.mkdir()
    (project / "README.md").write_text("# my project\n")
    (project / "config.json").write_text('{"mine": 1}\n')
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "notes.txt").write_text("keep\n")
    unrelated = tmp_path / "table.parquet"
    Dataset.from_list([{"x": 1}]).to_parquet(str(unrelated))
    report = tmp_path / "report.json"
    report.write_text('{"earlier": "report"}\n')
    recipe = tmp_path / "grpo.yaml"
    shutil.copy(ROOT / "recipes" / "tiny" / "grpo_critic.yaml", recipe)
    before = checksums(tmp_path)

    convert = ["convert", "--source", "preference", "--input", str(pairs), "--task", "dpo", "--overwrite", "--out"]
    train = ["train", "grpo", "--config", str(recipe), "--dataset_name", str(tmp_path / "none"), "--output_dir"]
    results = run_commands(
        [
            Command([*convert, str(demo_out)]),
            Command([*convert, str(round_dir)]),
            Command([*train, "."], cwd=str(project)),
            Command([*train, str(project)]),
            Command([*train, str(tmp_path / "results")]),
            Command(["make-synthetic", "--n", "4", "--out", str(unrelated)]),
            Command(["export-trl", "--recipe", str(recipe), "--out", str(report)]),
            Command(["eval", "policy", "--model", "tiny", "--data", str(pairs), "--out", str(report)]),
            Command(["demo", "--out", str(tmp_path / "results"), "--force"]),
            Command([*convert, str(tmp_path / "converted")]),  # a new folder: written, and marked as convert's
            Command(["make-synthetic", "--n", "4", "--out", str(tmp_path / "new.parquet")]),
        ]
    )
    for result in results[:2]:
        one_line(result, "convert", "not an earlier output of this command", ".rl-critic-convert")
    one_line(results[2], "train", "is the working directory")
    for result in results[3:5]:
        one_line(result, "train", "not an earlier output of this command", ".rl-critic-train")
    one_line(results[5], "make-synthetic", "exists (pass --overwrite to replace it)")
    one_line(results[6], "export-trl", "exists (pass --overwrite to replace it)")
    one_line(results[7], "eval", "exists (pass --overwrite to replace it)")
    one_line(results[8], "demo", "not an earlier output of this command", ".rl-critic-demo")
    results = results[:8] + results[9:]
    after = checksums(tmp_path)
    assert {name: after.get(name) for name in before} == before  # nothing of anyone's was touched
    new_files = {name.split("/")[0] for name in after.keys() - before.keys()}
    assert new_files == {"converted", "new.parquet"}, new_files  # and nothing half-written beside it
    assert results[8].returncode == 0 and results[9].returncode == 0, results[8].stderr[-500:]
    assert (tmp_path / "converted" / ".rl-critic-convert").is_file()

    again = run_commands(
        [
            Command([*convert, str(tmp_path / "converted")]),  # its own earlier output: replaced
            Command(["make-synthetic", "--n", "3", "--out", str(tmp_path / "new.parquet"), "--overwrite"]),
        ]
    )
    assert [result.returncode for result in again] == [0, 0], again[0].stderr[-500:]
    assert "wrote 3 rows" in again[1].stdout


# 2. One image-path rule for every reader of question rows ------------------------------------------------


def test_question_rows_cannot_pull_in_images_from_outside_their_folder(tmp_path):
    import pyarrow.parquet as pq

    inputs, outside = tmp_path / "inputs", tmp_path / "outside"
    inputs.mkdir()
    outside.mkdir()
    secret = png_bytes(colour=(1, 2, 3))
    (outside / "secret.png").write_bytes(secret)
    (inputs / "link.png").symlink_to(outside / "secret.png")
    (inputs / "red.png").write_bytes(png_bytes())
    question = {"question": "What colour is the shape?", "answer": "red"}
    questions = write_jsonl(
        inputs / "questions.jsonl",
        [
            {"id": "relative", "image": "../outside/secret.png", **question},
            {"id": "absolute", "image": str(outside / "secret.png"), **question},
            {"id": "symlink", "image": "link.png", **question},
            {"id": "uri", "image": f"file://{outside / 'secret.png'}", **question},
            {"id": "struct", "image": {"path": "../outside/secret.png"}, **question},
            {"id": "inside", "image": "red.png", **question},
        ],
    )
    before = checksums(tmp_path)
    pairs, allowed = tmp_path / "pairs.parquet", tmp_path / "allowed.parquet"
    results = run_commands(
        [
            Command(["make-pairs", *TINY_ANSWER, "--input", str(questions), "--out", str(pairs)]),
            Command(["best-of-n", *TINY_BEST_OF_N, "--input", str(questions), "--out", str(tmp_path / "picks.jsonl")]),
            Command(
                ["make-pairs", *TINY_ANSWER, "--input", str(questions), "--out", str(allowed)]
                + ["--images_root", str(tmp_path)]
            ),
        ]
    )
    assert results[0].returncode == 0, results[0].stderr[-1500:]
    assert "unusable question: 5" in results[0].stdout and "leads outside --images_root" in results[0].stdout
    table = pq.read_table(pairs).to_pylist()
    assert table and all(row["image"]["bytes"] != secret for row in table)
    picks = {record["id"]: record for record in records(tmp_path / "picks.jsonl")}
    for name in ("relative", "absolute", "symlink", "uri", "struct"):
        assert "leads outside --images_root" in picks[name]["errors"][0], picks[name]
    assert "errors" not in picks["inside"]
    # Widened on purpose: the same rows are read (and their pixels embedded)
    assert results[2].returncode == 0 and "unusable question" not in results[2].stdout, results[2].stdout
    assert any(row["image"]["bytes"] == secret for row in pq.read_table(allowed).to_pylist())
    assert {k: v for k, v in checksums(tmp_path).items() if k in before} == before


# 3. Nothing hangs, nothing eats the memory ----------------------------------------------------------------


@pytest.fixture
def silent_server():
    """An address on loopback that accepts connections and never answers (a stuck image host)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    accepted, stop = [], threading.Event()

    def accept():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])  # held open, never read, never answered
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/picture.png"
    stop.set()
    thread.join(timeout=5)
    for connection in accepted:
        connection.close()
    listener.close()


@pytest.fixture
def image_server(tmp_path):
    """A loopback HTTP server that serves a real picture (an image URL that works)."""
    import functools
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    served = tmp_path / "served"
    served.mkdir()
    (served / "red.png").write_bytes(png_bytes())

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(served)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/red.png"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def eval_rows_parquet(path: Path, rows: list[dict]) -> Path:
    """Eval rows as pandas / pyarrow write them: the image a plain `{bytes, path}` struct, no datasets feature."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    base = {"task": "pairwise", "question": "What colour is the shape?", "responses": ["Red.", "Blue."]}
    table = pa.Table.from_pylist([{**base, "solution": "1", **row} for row in rows])
    pq.write_table(table, str(path))
    return path


def test_silent_servers_fifos_huge_trees_and_huge_questions_end_in_seconds(tmp_path, silent_server, image_server):
    folder = tmp_path / "questions"
    folder.mkdir()
    (folder / "red.png").write_bytes(png_bytes())
    os.mkfifo(folder / "pipe.png")  # opening it for reading would block until a writer comes: none does
    question = {"question": "What colour is the shape?", "answer": "red"}
    questions = write_jsonl(
        folder / "q.jsonl",
        [
            {"id": "url", "image": silent_server, **question},
            {"id": "served", "image": image_server, **question},  # a URL that answers is read as before
            {"id": "fifo-uri", "image": f"file://{folder / 'pipe.png'}", **question},
            {"id": "fifo-struct", "image": {"path": "pipe.png"}, **question},
            {"id": "fifo-path", "image": "pipe.png", **question},
            {"id": "huge", "question": "why " * 5_000_000},  # 20 MB: refused by length, never tokenized
            {"id": "ok", "image": "red.png", **question},
        ],
    )
    eval_data = eval_rows_parquet(
        folder / "eval.parquet",
        [
            {"id": "fifo", "image": {"bytes": None, "path": "pipe.png"}},
            {"id": "fine", "image": {"bytes": png_bytes(), "path": None}},
        ],
    )
    (tmp_path / "root").symlink_to("/")
    env = {"RL_CRITIC_URL_TIMEOUT": "2"}
    picks, report = tmp_path / "picks.jsonl", tmp_path / "report.json"
    results = run_commands(
        [
            Command(["generate", "--model", "tiny", "--prompt", "Colour?", "--image", silent_server], env=env),
            Command(
                ["best-of-n", *TINY_BEST_OF_N, "--input", str(questions), "--out", str(picks), "--image_urls", "any"],
                env=env,
                timeout=90,
            ),
            Command(_eval_tiny_critic(eval_data, report)),
            Command(["best-of-n", *TINY_BEST_OF_N, "--input", "/", "--out", str(tmp_path / "x.jsonl")]),
            Command(
                ["convert", "--source", "preference", "--input", str(tmp_path / "root"), "--task", "dpo"]
                + ["--out", str(tmp_path / "y")]
            ),
        ]
    )
    assert not any(result.timed_out for result in results), [result.seconds for result in results]
    one_line(results[0], "generate", silent_server, "no complete answer within 2 s")
    assert results[0].seconds < 30
    assert results[1].returncode == 0, results[1].stderr[-1500:]
    errors = {record["id"]: record.get("errors", [""])[0] for record in records(picks)}
    assert "no complete answer within 2 s" in errors["url"]
    for name in ("fifo-uri", "fifo-struct", "fifo-path"):
        assert "not a regular file" in errors[name], errors[name]
    assert errors["huge"].startswith("prompt too long: 19,999,999 characters") and "not tokenized" in errors["huge"]
    assert errors["ok"] == "" and errors["served"] == ""
    assert results[2].returncode == 0, results[2].stderr[-1500:]
    assert "1 row(s) could not be judged" in results[2].stdout and "not a regular file" in results[2].stdout
    assert json.loads(report.read_text())["errors"]["rows"] == 1
    assert json.loads(report.read_text())["pairwise"]["n"] == 1
    one_line(results[3], "best-of-n", "holds over 10,000 files and folders: not a dataset folder")
    one_line(results[4], "convert", "holds over 10,000 files and folders: not a dataset folder")
    assert results[3].seconds < 30 and results[4].seconds < 30


# 4. A bad row is that row's error, never the run's end ----------------------------------------------------


def corrupt_images() -> dict[str, bytes]:
    """Images whose header reads fine but whose pixels do not: what a header check lets through."""
    picture = shape_image(640, 480)
    jpeg, png = io.BytesIO(), io.BytesIO()
    picture.save(jpeg, "JPEG", quality=90)
    picture.save(png, "PNG")
    broken = bytearray(png.getvalue())
    start = broken.find(b"IDAT") + 40
    broken[start : start + 32] = bytes(32)
    narrow = io.BytesIO()
    Image.new("RGB", (28, 6000), "white").save(narrow, "PNG")
    return {
        "truncated.jpg": jpeg.getvalue()[: len(jpeg.getvalue()) // 2],
        "idat.png": bytes(broken),
        "narrow.png": narrow.getvalue(),
    }


def deep_json(levels: int) -> str:
    return "[" * levels + "]" * levels


def test_bad_rows_are_their_own_errors_and_the_run_goes_on(tmp_path):
    (tmp_path / "red.png").write_bytes(png_bytes())
    for name, data in corrupt_images().items():
        (tmp_path / name).write_bytes(data)
    question = {"question": "What colour is the shape?", "answer": "red"}
    odd_images = {
        "number": 5,
        "bool": True,
        "empty-dict": {},
        "bad-base64": {"bytes": "abc"},
        "path-number": {"path": 5},
        "list-with-number": ["red.png", 3],
        "nulls": {"bytes": None, "path": None},
        "truncated": "truncated.jpg",
        "idat": "idat.png",
        "narrow": "narrow.png",
    }
    lines = [json.dumps({"id": name, "image": value, **question}) for name, value in odd_images.items()]
    lines.append('{"id": "deep", "question": "q", "x": ' + deep_json(100_000) + "}")
    lines.append(json.dumps({"id": "ok", "image": "red.png", **question}))
    questions = tmp_path / "q.jsonl"
    questions.write_text("\n".join(lines) + "\n")
    pairs = write_jsonl(
        tmp_path / "pairs.jsonl",
        [
            {"id": name, "question": "Colour?", "chosen": "Red.", "rejected": "Blue.", "image": name}
            for name in ("red.png", *corrupt_images())
        ],
    )
    deep = {}
    for levels in (1_000, 10_000, 100_000):
        deep[levels] = tmp_path / f"deep{levels}.jsonl"
        deep[levels].write_text(
            json.dumps({"question": "q", "chosen": "a", "rejected": "b", "image": "red.png"})
            + "\n"
            + '{"question": "q", "chosen": "a", "rejected": "b", "image": "red.png", "x": '
            + deep_json(levels)
            + "}\n"
        )
    eval_data = eval_rows_parquet(
        tmp_path / "eval.parquet",
        [
            {"id": "fine", "image": {"bytes": png_bytes(), "path": None}},
            {"id": "corrupt", "image": {"bytes": corrupt_images()["truncated.jpg"], "path": None}},
            {"id": "one-response", "image": {"bytes": png_bytes(), "path": None}, "responses": ["Red."]},
            {"id": "odd-label", "image": {"bytes": png_bytes(), "path": None}, "solution": "both"},
        ],
    )
    before = checksums(tmp_path)
    picks, report = tmp_path / "picks.jsonl", tmp_path / "out" / "report.json"
    convert = ["convert", "--source", "preference", "--task", "dpo", "--input"]
    results = run_commands(
        [
            Command(["best-of-n", *TINY_BEST_OF_N, "--input", str(questions), "--out", str(picks)]),
            Command([*convert, str(pairs), "--out", str(tmp_path / "converted")]),
            *(Command([*convert, str(deep[n]), "--out", str(tmp_path / f"d{n}")]) for n in deep),
            Command(_eval_tiny_critic(eval_data, report)),
        ]
    )
    assert results[0].returncode == 0, results[0].stderr[-1500:]
    errors = {record["id"]: record.get("errors", [""])[0] for record in records(picks)}
    expected = {
        "number": "unsupported image value of type int",
        "bool": "unsupported image value of type bool",
        "empty-dict": "missing image (no bytes and no path)",
        "bad-base64": "neither a readable path nor valid base64",
        "path-number": "image path of type int",
        "list-with-number": "unsupported image value of type int",
        "nulls": "missing image (no bytes and no path)",
        "truncated": "corrupt image (it does not decode to the end)",
        "idat": "corrupt image (it does not decode to the end)",
        "narrow": "image too narrow (28x6000",
        "line-11": "JSONL line 11 nests too deeply to be read",  # its id is inside the line that does not parse
    }
    for name, words in expected.items():
        assert words in errors[name], (name, errors[name])
    assert errors["ok"] == ""
    assert results[1].returncode == 0, results[1].stderr[-1500:]
    summary = json.loads((tmp_path / "converted" / "summary.json").read_text())
    assert summary["rows_written"] == 1 and summary["rejected"] == {
        "corrupt image (it does not decode to the end)": 2,
        "image too narrow (28x6000: one side over 200x the other)": 1,
    }
    for result, levels in zip(results[2:5], deep):
        one_line(result, "convert", f"nests lists or objects over 100 levels deep ({levels + 1:,})")
    assert results[5].returncode == 0, results[5].stderr[-1500:]
    written = json.loads(report.read_text())
    assert written["errors"]["rows"] == 3 and written["pairwise"]["n"] == 1
    judged = {record["id"]: record for record in records(report.with_suffix(".judgments.jsonl"))}
    assert "corrupt image" in judged["corrupt"]["error"]
    assert "a pair needs 2 responses, it has 1" in judged["one-response"]["error"]
    assert "its label 'both' is not 1, 2 or tie" in judged["odd-label"]["error"]
    after = checksums(tmp_path)
    assert {name: after.get(name) for name in before} == before


def test_a_bad_image_met_in_training_names_its_row(tmp_path):
    import pyarrow.parquet as pq

    from data_converters.io import DATA_FILE

    colour_pairs(tmp_path, 4, "sft-policy")
    table = pq.read_table(tmp_path / "sft-policy" / DATA_FILE)
    rows = table.to_pylist()
    rows[0]["image"] = {"bytes": corrupt_images()["truncated.jpg"], "path": None}  # written by hand, not convert
    pq.write_table(type(table).from_pylist(rows, schema=table.schema), str(tmp_path / "hand.parquet"))
    recipe = str(ROOT / "recipes" / "tiny" / "sft_critic.yaml")
    [result] = run_commands(
        [
            Command(
                ["train", "sft", "--config", recipe, "--dataset_name", str(tmp_path / "hand.parquet")]
                + ["--output_dir", str(tmp_path / "run"), "--max_steps", "2", "--per_device_train_batch_size", "4"]
            )
        ]
    )
    one_line(result, "train", f"row id {rows[0]['id']!r}", "corrupt image (it does not decode to the end)")
    assert not (tmp_path / "run").exists()  # nothing saved, no marker left behind


# 5. Broken recipes, checkpoints, rewards and interrupted workers are one line ----------------------------


def test_recipe_fields_of_the_wrong_type_are_one_line(tmp_path):
    recipe = (ROOT / "recipes" / "tiny" / "grpo_critic.yaml").read_text()
    cases = {
        "output_dir: [a, b]": "sets output_dir to ['a', 'b'], but output_dir takes a text",
        "dataset_name: {path: data}": "sets dataset_name to {'path': 'data'}, but dataset_name takes a text",
        "seed: 1.5": "sets seed to 1.5, but seed takes a whole number",
        "lr_scheduler_type: sometimes": "sets lr_scheduler_type to 'sometimes'; choose from",
        "reward_funcs: critic": f"input not found: {tmp_path / 'missing'}",  # one reward, not 'c', 'r', 'i', ...
    }
    commands = []
    for number, line in enumerate(cases):
        path = tmp_path / f"r{number}.yaml"
        key = line.split(":")[0]
        path.write_text(
            "\n".join(kept for kept in recipe.splitlines() if not kept.startswith(f"{key}:")) + f"\n{line}\n"
        )
        argv = ["train", "grpo", "--config", str(path), "--dataset_name", str(tmp_path / "missing")]
        commands.append(Command(argv if key != "output_dir" else argv[:4] + argv[6:]))
    exported = tmp_path / "exported.yaml"
    commands.append(
        Command(["export-trl", "--recipe", str(tmp_path / "r4.yaml"), "--method", "grpo", "--out", str(exported)])
    )
    results = run_commands(commands)
    for result, words in zip(results, cases.values()):
        one_line(result, "train", words)
    assert results[-1].returncode == 0 and "- rewards.critic_reward" in exported.read_text()


def test_broken_checkpoints_are_named_and_adapters_load_their_base_processor(tiny_dirs, tmp_path):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForImageTextToText

    tiny = tiny_dirs["qwen2_5_vl"]
    broken = {
        "syntax": ("chat_template.jinja", "{% for m in messages %}{{ m.content }"),
        "raises": ("chat_template.jinja", '{{ raise_exception("no chats here") }}'),
        "empty": ("chat_template.jinja", ""),
        "runaway": ("chat_template.jinja", '{{ "x" * 2000000000 }}'),  # 2 GB: tokenizing it took 24 GB, then a kill
        "verbose": ("chat_template.jinja", '{{ "x" * 1500000 }}'),
        "unknown-type": ("config.json", (tiny / "config.json").read_text().replace('"qwen2_5_vl"', '"qwen9_vl"')),
    }
    for name, (file, text) in broken.items():
        shutil.copytree(tiny, tmp_path / name)
        (tmp_path / name / file).write_text(text)
    model = get_peft_model(
        AutoModelForImageTextToText.from_pretrained(tiny), LoraConfig(r=2, target_modules=["q_proj"])
    )
    model.save_pretrained(tmp_path / "adapter")  # peft writes no processor files
    shutil.copytree(tmp_path / "adapter", tmp_path / "orphan")
    config = json.loads((tmp_path / "orphan" / "adapter_config.json").read_text())
    (tmp_path / "orphan" / "adapter_config.json").write_text(
        json.dumps(config | {"base_model_name_or_path": str(tmp_path / "gone")})
    )
    generate = ["generate", "--prompt", "Colour?", "--max_new_tokens", "2", "--model"]
    results = run_commands([Command([*generate, str(tmp_path / name)]) for name in [*broken, "orphan", "adapter"]])
    one_line(results[0], "generate", "the chat template of", "fails on a one-question chat: unexpected '}'")
    one_line(results[1], "generate", "fails on a one-question chat: no chats here")
    one_line(results[2], "generate", "has no chat template")
    one_line(results[3], "generate", "fails on a one-question chat: rendering it needs more than 1 GB of memory")
    assert results[3].seconds < 30
    one_line(
        results[4], "generate", "turns a chat of 14 characters into a prompt of 1,500,000", "nothing was tokenized"
    )
    one_line(results[5], "generate", "model type 'qwen9_vl' is unknown to transformers")
    one_line(results[6], "generate", "is a LoRA adapter whose base model cannot be used", str(tmp_path / "gone"))
    assert results[7].returncode == 0, results[7].stderr[-1500:]


def test_a_chat_template_that_runs_away_is_stopped_at_load_or_at_its_prompt(tiny_dirs, monkeypatch):
    """A template that never ends is cut at the load check's time limit; one that blows up only on some prompt
    is refused at that prompt, before anything tokenizes it."""
    import time

    from transformers import AutoProcessor

    from rl_critic.ground.errors import UserError
    from rl_critic.models import chat_template

    processor = AutoProcessor.from_pretrained(tiny_dirs["qwen2_5_vl"])
    processor.chat_template = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}x"
    monkeypatch.setattr(chat_template, "CHECK_SECONDS", 1)
    start = time.monotonic()
    with pytest.raises(UserError, match=r"^the chat template of tiny fails on a one-question chat: it did not render"):
        chat_template.check_chat_template(processor, "tiny")
    assert time.monotonic() - start < 10
    processor.chat_template = (
        "{% for m in messages %}{{ m.content }}{% if 'boom' in m.content %}{{ 'x' * 1500000 }}{% endif %}{% endfor %}"
    )
    chat_template.check_chat_template(processor, "tiny")  # a one-question chat renders as it should
    assert chat_template.render_chat(processor, [{"role": "user", "content": "fine"}]) == "fine"
    with pytest.raises(UserError, match=r"turns a chat of 4 characters into a prompt of 1,500,004: .* nothing was"):
        chat_template.render_chat(processor, [{"role": "user", "content": "boom"}])


REWARD_MODULES = {
    "raising.py": 'raise RuntimeError("cannot start")\n',
    "broken.py": "def reward(:\n",
    "odd_rewards.py": """
def wrong_count(completions, **kwargs):
    return [0.5]


def always_none(completions, **kwargs):
    return [None] * len(completions)


def always_nan(completions, **kwargs):
    return [float("nan")] * len(completions)


def words(completions, **kwargs):
    return ["good"] * len(completions)
""",
}


def test_broken_rewards_lora_targets_and_sampling_settings_are_one_line(tmp_path):
    for name in ("questions.jsonl", "red_circle.png", "blue_square.png"):
        shutil.copy(ROOT / "examples" / name, tmp_path / name)
    for name, code in REWARD_MODULES.items():
        (tmp_path / name).write_text(code)
    recipe = str(ROOT / "recipes" / "tiny" / "grpo_critic.yaml")

    def grpo(reward: str, run: str, *extra: str) -> Command:
        argv = ["train", "grpo", "--config", recipe, "--dataset_name", "questions.jsonl", "--max_steps", "2"]
        return Command([*argv, "--reward_funcs", reward, "--output_dir", run, *extra], cwd=str(tmp_path))

    results = run_commands(
        [
            grpo("raising.reward", "r0"),
            grpo("broken.reward", "r1"),
            grpo("odd_rewards.wrong_count", "r2"),
            grpo("odd_rewards.always_none", "r3"),
            grpo("odd_rewards.always_nan", "r4"),
            grpo("odd_rewards.words", "r5"),
            grpo("format", "r6", "--use_peft", "true", "--lora_target_modules", "q_proj", "nope"),
            Command(["generate", "--model", "tiny", "--prompt", "Colour?", "--n", "3"]),
        ]
    )
    one_line(results[0], "train", "cannot import reward function 'raising.reward': RuntimeError: cannot start")
    one_line(results[1], "train", "cannot import reward function 'broken.reward': SyntaxError")
    one_line(results[2], "train", "reward wrong_count returned 1 values for 8 completions (it must give one each)")
    for result, name in ((results[3], "always_none"), (results[4], "always_nan")):
        one_line(
            result, "train", f"every reward ({name}) gave None or NaN for every completion", "nothing can be learned"
        )
    one_line(results[5], "train", "reward words returned 'good' (a str), not a number")
    one_line(results[6], "train", "lora_target_modules nope match no module of tiny", "q_proj")
    one_line(results[7], "generate", "3 completions need sampling", "--do_sample true")
    for run in ("r0", "r1", "r2", "r3", "r4", "r5", "r6"):  # nothing saved, not even an empty folder
        assert not (tmp_path / run).exists(), sorted(p.name for p in (tmp_path / run).rglob("*"))


def test_ctrl_c_while_workers_convert_is_one_line_and_leaves_nothing(tmp_path):
    (tmp_path / "red.png").write_bytes(png_bytes())
    row = json.dumps({"question": "Colour?", "chosen": "Red.", "rejected": "Blue.", "image": "red.png"})
    (tmp_path / "many.jsonl").write_text((row + "\n") * 200_000)
    out = tmp_path / "out"
    argv = ["convert", "--source", "preference", "--input", str(tmp_path / "many.jsonl"), "--task", "dpo"]
    [result] = run_commands(
        [
            Command(
                [*argv, "--out", str(out), "--num_proc", "2"],
                signal_after=(1.5, signal.SIGINT),  # to the command and its workers, as a terminal's Ctrl-C
                signal_once=str(tmp_path / ".out.partial-*"),
            )
        ]
    )
    one_line(result, "convert", "interrupted", code=130)
    assert "KeyboardInterrupt" not in result.stderr and "TimeoutError" not in result.stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == ["many.jsonl", "red.png"]


# 6. No run reports success while it lost or invented something --------------------------------------------


def test_boms_answers_that_are_not_text_long_paths_and_home_in_a_recipe(tmp_path):

    (tmp_path / "red.png").write_bytes(png_bytes())
    deep = tmp_path / ("d" * 200) / ("e" * 100)  # a relative image path of 300+ characters that exists
    deep.mkdir(parents=True)
    (deep / "red.png").write_bytes(png_bytes())
    long_path = str((deep / "red.png").relative_to(tmp_path))
    assert len(long_path) > 256
    question = {"question": "What colour is the shape?", "image": "red.png"}
    bom = tmp_path / "bom.jsonl"
    bom.write_text(
        json.dumps({"id": "first", **question}) + "\n" + json.dumps({"id": "second", **question}) + "\n",
        encoding="utf-8-sig",
    )
    answers = tmp_path / "answers.jsonl"
    answers.write_text(
        "\n".join(
            [
                json.dumps({"id": "list", **question, "answer": ["red", "crimson"]}),
                '{"id": "nan", "question": "What colour is the shape?", "image": "red.png", "answer": NaN}',
                json.dumps({"id": "dict", **question, "answer": {"colour": "red"}}),
                json.dumps({"id": "number", **question, "answer": 3}),
                json.dumps({"id": "long-path", **question, "image": long_path, "answer": "red"}),
            ]
        )
        + "\n"
    )
    colour_pairs(tmp_path, 4, "sft-policy")
    recipe = tmp_path / "sft.yaml"
    recipe.write_text(
        (ROOT / "recipes" / "tiny" / "sft_critic.yaml").read_text()
        + f"\ndataset_name: {tmp_path / 'sft-policy'}\noutput_dir: $HOME/runs/sft\nmax_steps: 1\n"
    )
    unset = tmp_path / "unset.yaml"
    unset.write_text(recipe.read_text().replace("$HOME/runs/sft", "${RL_CRITIC_NOT_SET}/sft"))
    home = tmp_path / "home"
    home.mkdir()
    results = run_commands(
        [
            Command(["best-of-n", *TINY_BEST_OF_N, "--input", str(bom), "--out", str(tmp_path / "bom-out.jsonl")]),
            Command(
                ["eval", "policy", "--model", "tiny", "--max_new_tokens", "2", "--data", str(answers)]
                + ["--out", str(tmp_path / "policy.json")]
            ),
            Command(["train", "sft", "--config", str(recipe)], cwd=str(tmp_path), env={"HOME": str(home)}),
            Command(["train", "sft", "--config", str(unset)], cwd=str(tmp_path)),
        ]
    )
    assert results[0].returncode == 0, results[0].stderr[-1500:]
    answered = records(tmp_path / "bom-out.jsonl")
    assert [record["id"] for record in answered] == ["first", "second"] and all("errors" not in r for r in answered)
    assert results[1].returncode == 0, results[1].stderr[-1500:]
    judged = {record["id"]: record for record in records(tmp_path / "policy.judgments.jsonl")}
    assert judged["list"]["answer"] == ["red", "crimson"] and judged["number"]["answer"] == "3"
    assert judged["nan"]["answer"] is None and "errors" not in judged["long-path"]
    report = json.loads((tmp_path / "policy.json").read_text())
    [error] = report["errors"]
    assert (
        error["id"] == "dict"
        and "the reference answer {'colour': 'red'} is not a text, a number or a list" in error["error"]
    )
    assert report["questions"] == 3  # list, number and long-path have a reference; nan has none, dict is an error
    assert results[2].returncode == 0, results[2].stderr[-1500:]
    assert (home / "runs" / "sft" / "model.safetensors").is_file() and not (tmp_path / "$HOME").exists()
    one_line(results[3], "train", "${RL_CRITIC_NOT_SET} is not set in the environment")


# 7. Lines that name the right cause, and SIGTERM cleans up ------------------------------------------------


def test_pipes_stdin_recipes_reused_pids_long_names_and_sigterm(tmp_path):
    import subprocess
    import sys

    from rl_critic.cli.best_of_n import ARGUMENTS as best_of_n_arguments
    from rl_critic.critique.journal import run_settings
    from rl_critic.script.parsing import parse

    for name in ("questions.jsonl", "red_circle.png", "blue_square.png"):
        shutil.copy(ROOT / "examples" / name, tmp_path / name)
    os.mkfifo(tmp_path / "fd63.jsonl")  # what `--input <(cat questions.jsonl)` hands over: a pipe
    recipe = (ROOT / "recipes" / "tiny" / "grpo_critic.yaml").read_text()
    out = tmp_path / "picks.jsonl"
    journal = tmp_path / ".picks.jsonl.journal.jsonl"
    live = tmp_path / "live.jsonl"  # an output another run is writing: it holds the output's claim
    holds_the_claim = "import sys; from rl_critic.ground.files import OutputClaim; OutputClaim(sys.argv[1]).acquire(); "
    holds_the_claim += "print('claimed', flush=True); sys.stdin.read()"
    sleeper = subprocess.Popen(
        [sys.executable, "-c", holds_the_claim, str(live)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert sleeper.stdout.readline() == "claimed\n"
    try:
        # A journal left by a killed run whose pid now belongs to another process (`started` differs)
        stale = ["best-of-n", *TINY_BEST_OF_N, "--input", str(tmp_path / "questions.jsonl"), "--out", str(out)]
        settings = run_settings(
            *parse(best_of_n_arguments, "best-of-n", stale[1:]), source=stale[stale.index("--input") + 1]
        )
        journal.write_text(json.dumps({"pid": sleeper.pid, "started": 1, "settings": settings}) + "\n")
        long_name = tmp_path / ("n" * 234 + ".jsonl")  # 240 characters: legal, but not with `.partial-...` added
        too_long = tmp_path / ("n" * 250 + ".jsonl")
        best_of_n = ["best-of-n", *TINY_BEST_OF_N, "--input", str(tmp_path / "questions.jsonl"), "--out"]
        results = run_commands(
            [
                Command(
                    [
                        "best-of-n",
                        *TINY_BEST_OF_N,
                        "--input",
                        str(tmp_path / "fd63.jsonl"),
                        "--out",
                        str(tmp_path / "x"),
                    ]
                ),
                Command(
                    ["train", "grpo", "--config", "/dev/stdin", "--dataset_name", str(tmp_path / "missing")],
                    stdin_text=recipe,
                ),
                Command(stale),
                Command([*best_of_n, str(tmp_path / "live.jsonl")]),
                Command([*best_of_n, str(long_name)]),
                Command([*best_of_n, str(too_long)]),
                Command(
                    ["make-synthetic", "--n", "100000", "--out", str(tmp_path / "big.parquet")],
                    signal_after=(1.0, signal.SIGTERM),
                    signal_once=str(tmp_path / ".big.parquet.partial-*"),
                ),
            ]
        )
    finally:
        sleeper.kill()
        sleeper.wait()
    one_line(results[0], "best-of-n", "fd63.jsonl is a pipe, not a file or folder: save the data to a file")
    one_line(results[1], "train", f"input not found: {tmp_path / 'missing'}")  # the recipe was read
    assert results[2].returncode == 0 and len(records(out)) == 4, results[2].stderr[-1500:]
    one_line(results[3], "best-of-n", f"another run (pid {sleeper.pid}) is writing {live}: wait for it to finish")
    assert results[4].returncode == 0 and len(records(long_name)) == 4, results[4].stderr[-1500:]
    one_line(results[5], "best-of-n", "is 256 bytes; the limit is 255")
    one_line(results[6], "make-synthetic", "terminated", code=143)
    leftovers = sorted(path.name for path in tmp_path.iterdir() if ".partial-" in path.name or "journal" in path.name)
    assert leftovers == [], leftovers
    assert not (tmp_path / "big.parquet").exists()


# Generated rows: whatever a row holds, it is a row's error, never an exception out of the reader ----------


ODD_VALUES = [
    None,
    0,
    5,
    -1,
    1.5,
    float("nan"),
    float("inf"),
    True,
    "",
    "red_circle.png",
    "../x.png",
    "/etc/passwd",
    "file:///etc/passwd",
    "file://\x00",
    "data:image/png;base64,abc",
    "http://",
    "a" * 300,
    "\x00",
    "a\x00b.png",
    [],
    [None],
    ["red_circle.png"],
    ["red_circle.png", 5],
    [[["x"]]],
    {},
    {"bytes": "abc"},
    {"bytes": b"xx"},
    {"bytes": 5},
    {"path": 5},
    {"path": "a\x00"},
    {"path": "red_circle.png"},
    {"path": None, "bytes": None},
    b"\x89PNG",
    "q",
    ["red", "blue"],
    [1, 2],
    {"x": 1},
]


def test_generated_rows_are_errors_never_exceptions():
    import random

    from data_converters.convert import _sources
    from data_converters.images import ImageFolder
    from data_converters.parsing import ParseError
    from rl_critic.critique.judgments import PairJudgment, ScoreJudgment
    from rl_critic.critique.questions import Row, load_question
    from rl_critic.evaluation.critic import critic_report, judge_rows
    from rl_critic.models.media import MediaBudget

    rng = random.Random(0)
    examples = ImageFolder(str(ROOT / "examples"), str(ROOT / "examples"))
    errors = set()
    for _ in range(2000):  # question rows: best-of-n, eval policy, make-pairs, critic-DPO, GRPO question files
        data = {key: rng.choice(ODD_VALUES) for key in rng.sample(["id", "question", "image", "images", "answer"], 4)}
        question = load_question(Row(data, examples), MediaBudget(3136, 12544))
        assert (question.problem is None) == (question.error is not None)
        errors.add(question.error)
    assert len(errors) > 20  # many different reasons, each a line

    class Judge:  # a critic with random verdicts and scores, some unreadable
        def compare(self, requests):
            return [PairJudgment(raw="", verdict=rng.choice(["1", "2", "tie", None]), tokens=1) for _ in requests]

        def score(self, requests):
            return [ScoreJudgment(raw="", score=rng.choice([5.0, None]), tokens=1) for _ in requests]

    columns = {
        "task": ["pairwise", "pointwise", None, 5],
        "question": ["q", None, 5],
        "responses": [["a", "b"], ["a"], [], None, "ab", [1, 2]],
        "solution": ["1", "2", "tie", "x", None, 5, float("nan"), "7.5"],
        "image": [{"bytes": png_bytes(), "path": None}, None, 5, {"path": "none.png"}, {"bytes": b"xx"}],
        "prompt": [None, "text", [], [{"content": "x"}], 5],
        "group": [None, "g", 5],
        "models": [None, ["m1", "m2"], "m", [1, 2]],
        "source": [None, "s"],
    }
    for _ in range(100):  # eval critic rows, both orders or one
        rows = [{"id": str(i), **{key: rng.choice(values) for key, values in columns.items()}} for i in range(6)]
        swap = rng.random() < 0.5
        report, records = critic_report(
            rows, judge_rows(rows, Judge(), swap=swap), swap=swap, blank_image=False, own_prompt=True
        )
        assert report["rows"] == 6 and all("id" in record for record in records)

    names = ["id", "query", "response", "human_ranking", "image", "Text", "Image", "Output1", "Output2", "Better"]
    names += ["prompt", "chosen", "rejected", "answer1", "answer2", "human_answer", "human", "question"]
    names += ["conversations", "images", "image_path", "models", "group", "score", "responses", "label"]
    for source in _sources().values():  # convert's readers: a rejected row (ParseError or a caught type)
        for _ in range(300):
            row = {column: rng.choice(ODD_VALUES) for column in rng.sample(names, rng.randint(3, len(names)))}
            try:
                list(source.read(row, 0, examples))
            except (ParseError, TypeError, ValueError, KeyError, AttributeError):
                pass
