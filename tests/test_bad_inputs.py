"""Issue 17, the rest of the table: data of the wrong kind, over-long rows, a full disk, image paths that leave
the input's folder, and killed or concurrent best-of-n / eval policy runs.

Every case asserts what a user sees: the exit code, that stderr's last line is the one-line error (no
traceback), and that no output (or staging) is left where the run failed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rl_critic.cli import main

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = str(ROOT / "examples" / "questions.jsonl")
TINY = ROOT / "recipes" / "tiny"


def _last_line(capsys) -> str:
    return capsys.readouterr().err.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Synthetic critic data converted to every task, plus raw pairs and answerless questions."""
    folder = tmp_path_factory.mktemp("data")
    assert main(["make-synthetic", "--n", "12", "--out", str(folder / "raw.parquet")]) == 0
    for task in ("sft", "grpo", "dpo", "eval"):
        assert (
            main(
                [
                    "convert",
                    "--source",
                    "llava-critic-pairwise",
                    "--input",
                    str(folder / "raw.parquet"),
                    "--task",
                    task,
                    "--out",
                    str(folder / task),
                ]
            )
            == 0
        )
    (folder / "pairs.jsonl").write_text(json.dumps({"question": "q", "chosen": "a", "rejected": "b"}) + "\n")
    return folder


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ("train grpo --config {tiny}/grpo_critic.yaml --dataset_name {d}/sft", "this looks like `sft` data"),
        ("train sft --config {tiny}/sft_critic.yaml --dataset_name {d}/grpo", "this looks like `grpo` / `eval` data"),
        ("train dpo --config {tiny}/dpo_policy.yaml --dataset_name {d}/eval", "needs the `dpo` output"),
        ("train sft --config {tiny}/sft_critic.yaml --dataset_name {d}/raw.parquet", "raw LLaVA-Critic-113k rows"),
        ("train grpo --config {tiny}/grpo_critic.yaml --dataset_name {d}/pairs.jsonl", "has a reference answer"),
        ("train grpo --config {tiny}/grpo_critic.yaml --dataset_name {d}/grpo --reward_funcs nope", "unknown reward"),
        (
            "train grpo --config {tiny}/grpo_critic.yaml --dataset_name {d}/grpo --reward_funcs os.nope",
            "cannot import reward function",
        ),
        ("best-of-n --input {d}/sft --out {tmp}/out/b.jsonl", "looks like `sft` data"),
        ("best-of-n --input {d}/raw.parquet --out {tmp}/out/b.jsonl", "looks like raw LLaVA-Critic-113k rows"),
        ("eval policy --data {d}/dpo --out {tmp}/out/r.json", "looks like `dpo` data, not questions"),
        ("eval policy --data {d}/eval --out {tmp}/out/r.json", "has a reference answer (`answer`), and `eval policy`"),
        ("eval critic --data {d}/sft --out {tmp}/out/r.json", "is not converted eval data"),
        ("make-pairs --input {d}/pairs.jsonl --out {tmp}/out/p.parquet", "no pair made: {'no reference answer': 1}"),
        ("make-pairs --input {d}/sft --out {tmp}/out/p.parquet", "looks like `sft` data"),
        (
            "convert --source preference --input " + QUESTIONS + " --task dpo --out {tmp}/out",
            "every row (4) was rejected, nothing written; most common: missing column 'chosen' (4)",
        ),
    ],
    ids=lambda value: value.split(" --")[0] if " --" in str(value) else None,
)
def test_data_of_the_wrong_kind_says_what_it_is_and_what_is_needed(argv, expected, data, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    words = argv.format(tiny=TINY, d=data, tmp=tmp_path).split()
    if words[0] == "train":
        words += ["--output_dir", str(tmp_path / "out")]
    assert main(words) != 0
    last = _last_line(capsys)
    assert last.startswith("rl-critic ") and expected in last, last
    assert not (tmp_path / "out").exists()


def test_an_over_long_row_is_reported_and_the_run_goes_on(data, tmp_path, capsys):
    huge = "why " * 25_000  # 100 kB, tokenized (a longer one is refused by its length: test_hostile_inputs)
    questions = tmp_path / "q.jsonl"
    questions.write_text(
        json.dumps({"id": "huge", "question": huge})
        + "\n"
        + json.dumps({"id": "ok", "question": "Colour?", "answer": "red"})
        + "\n"
    )
    assert (
        main(
            [
                "best-of-n",
                "--input",
                str(questions),
                "--out",
                str(tmp_path / "b.jsonl"),
                "--n",
                "2",
                "--max_new_tokens",
                "4",
                "--critic_unreadable_ok",  # the untrained tiny critic reads nothing: measured as it is
                "true",
            ]
        )
        == 0
    )
    records = {r["id"]: r for r in map(json.loads, (tmp_path / "b.jsonl").read_text().splitlines())}
    (error,) = records["huge"]["errors"]
    assert error.startswith("prompt too long: 25,0") and error.endswith(
        "tokens, over the limit of 4,092 (the model's 4,096 positions - max_new_tokens 4)"
    )
    assert len(records["ok"]["candidates"]) == 2
    # A question that fits the policy (4,092 positions) but whose judge prompt does not (4,096 - 512): that
    # question is an `errors` record keeping its candidates, the others are judged.
    judged = tmp_path / "judged.jsonl"
    judged.write_text(
        json.dumps({"id": "long", "question": "why " * 3700})
        + "\n"
        + json.dumps({"id": "ok", "question": "Colour?", "answer": "red"})
        + "\n"
    )
    assert (
        main(
            [
                "best-of-n",
                "--input",
                str(judged),
                "--out",
                str(tmp_path / "j.jsonl"),
                "--n",
                "2",
                "--max_new_tokens",
                "4",
                "--critic_unreadable_ok",  # the untrained tiny critic reads nothing: measured as it is
                "true",
            ]
        )
        == 0
    )
    records = {r["id"]: r for r in map(json.loads, (tmp_path / "j.jsonl").read_text().splitlines())}
    assert records["long"]["errors"][0].startswith("judge prompt too long: 3,")
    assert records["long"]["errors"][0].endswith(
        "over the limit of 3,584 (the model's 4,096 positions - max_new_tokens 512)"
    )
    assert len(records["long"]["candidates"]) == 2 and records["ok"]["num_judgments"] == 1
    # critic-DPO: the over-long question is counted in the round's summary, the round goes on without it.
    many = tmp_path / "many.jsonl"
    many.write_text(
        json.dumps({"id": "huge", "question": huge})
        + "\n"
        + (ROOT / "examples" / "questions.jsonl").read_text().replace('"image": "', f'"image": "{ROOT / "examples"}/')
    )
    assert (
        main(
            [
                "train",
                "critic-dpo",
                "--config",
                str(TINY / "critic_dpo_policy.yaml"),
                "--dataset_name",
                str(many),
                "--output_dir",
                str(tmp_path / "dpo"),
                "--n",
                "2",
                "--max_new_tokens",
                "4",
                "--critic_max_new_tokens",
                "4",
                "--limit",
                "3",
                "--rounds",
                "1",
                "--images_root",
                str(ROOT / "examples"),
            ]
        )
        == 0
    )
    summary = json.loads((tmp_path / "dpo" / "round_1" / "summary.json").read_text())
    assert summary["questions"] == 3 and summary["judgments"] == 2 * 2  # K(K-1) for each usable question
    assert summary["skipped_errors"]["questions"] == 1
    assert summary["skipped_errors"]["first"].startswith("prompt too long: 25,0")
    assert (
        main(["make-pairs", "--input", str(questions), "--out", str(tmp_path / "p.parquet"), "--max_new_tokens", "4"])
        == 1
    )
    assert "'prompt over 4,096 positions - max_new_tokens': 1" in _last_line(capsys)  # counted, not a crash
    pairs = tmp_path / "pairs.jsonl"
    (tmp_path / "red.png").write_bytes((ROOT / "examples" / "red_circle.png").read_bytes())
    rows = [
        {"id": "huge", "question": "q", "chosen": huge, "rejected": "b", "image": "red.png"},
        {"id": "ok", "question": "q", "chosen": "a", "rejected": "b", "image": "red.png"},
    ]
    pairs.write_text("".join(json.dumps(row) + "\n" for row in rows))
    assert (
        main(
            [
                "convert",
                "--source",
                "preference",
                "--input",
                str(pairs),
                "--task",
                "eval",
                "--out",
                str(tmp_path / "eval"),
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert (
        main(
            [
                "eval",
                "critic",
                "--data",
                str(tmp_path / "eval"),
                "--out",
                str(tmp_path / "r.json"),
                "--swap",
                "--max_new_tokens",
                "4",
                "--unreadable_ok",
                "true",
            ]
        )
        == 0
    )
    assert "skipped 1 row(s) left out of every metric, e.g. huge: prompt too long" in capsys.readouterr().out
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["skipped_too_long"]["rows"] == 1 and report["pairwise"]["n"] == 1
    judgments = [json.loads(line) for line in (tmp_path / "r.judgments.jsonl").read_text().splitlines()]
    assert [(j["id"], j["order"]) for j in judgments] == [("huge", "skipped"), ("ok", "original"), ("ok", "swapped")]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_FSIZE semantics are Linux's")
def test_a_full_disk_is_one_line_and_leaves_nothing_half_written(data, tiny_dirs, tmp_path):
    out = tmp_path / "out"
    out.mkdir()  # the folder the outputs go in exists; what each command would put in it must not stay
    model_limit, small_limit = 200_000, 1_500  # the tiny model is 1.5 MB; reports and JSONL are a few kB
    commands = [
        (model_limit, ["tiny-model", "--out", f"{out}/tiny"]),
        (
            model_limit,
            [
                "train",
                "sft",
                "--config",
                f"{TINY}/sft_critic.yaml",
                "--dataset_name",
                f"{data}/sft",
                "--output_dir",
                f"{out}/sft",
                "--max_steps",
                "1",
                "--save_steps",
                "1",
            ],
        ),
        (
            model_limit,
            [
                "train",
                "grpo",
                "--config",
                f"{TINY}/grpo_critic.yaml",
                "--dataset_name",
                f"{data}/grpo",
                "--output_dir",
                f"{out}/grpo",
                "--max_steps",
                "1",
                "--save_steps",
                "1",
            ],
        ),
        (20_000, ["make-synthetic", "--n", "64", "--out", f"{out}/syn.parquet"]),
        (
            4_000,
            [
                "convert",
                "--source",
                "llava-critic-pairwise",
                "--input",
                f"{data}/raw.parquet",
                "--task",
                "grpo",
                "--out",
                f"{out}/grpo-data",
            ],
        ),
        (
            small_limit,
            ["best-of-n", "--input", QUESTIONS, "--out", f"{out}/b.jsonl", "--n", "2", "--max_new_tokens", "300"]
            + ["--critic_unreadable_ok", "true"],
        ),
        (
            small_limit,
            ["eval", "critic", "--data", f"{data}/eval", "--out", f"{out}/e/r.json", "--max_new_tokens", "200"]
            + ["--unreadable_ok", "true"],
        ),
        (small_limit, ["eval", "policy", "--data", QUESTIONS, "--out", f"{out}/p/r.json", "--max_new_tokens", "300"]),
        (small_limit, ["make-pairs", "--input", QUESTIONS, "--out", f"{out}/pairs.parquet", "--max_new_tokens", "300"]),
        (300, ["export-trl", "--recipe", f"{TINY}/grpo_critic.yaml", "--out", f"{out}/trl.yaml"]),
    ]
    result = subprocess.run(
        [sys.executable, "-m", "tests.full_disk", json.dumps(commands)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env=os.environ.copy(),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    for run in json.loads(result.stdout):
        name = " ".join(run["argv"][:2])
        last = run["stderr"].strip().splitlines()[-1]
        assert run["rc"] == 1 and "Traceback" not in run["stderr"], (name, run["stderr"][-2000:])
        assert last.startswith("rl-critic ") and "error: File too large" in last, (name, last)
    left = sorted(str(path.relative_to(out)) for path in out.rglob("*"))
    assert left == [], left  # no output, no staging, no half-written checkpoint, no empty folder


def test_image_paths_may_not_leave_the_images_root(tmp_path, capsys):
    from PIL import Image

    inputs, elsewhere = tmp_path / "inputs", tmp_path / "elsewhere"
    inputs.mkdir(), elsewhere.mkdir()
    Image.new("RGB", (32, 32), "red").save(inputs / "in.png")
    Image.new("RGB", (32, 32), "blue").save(elsewhere / "secret.png")
    (inputs / "link.png").symlink_to(elsewhere / "secret.png")
    images = ["in.png", str(elsewhere / "secret.png"), "../elsewhere/secret.png", "link.png"]
    rows = [
        {"id": f"r{i}", "question": "q", "chosen": "a", "rejected": "b", "image": image}
        for i, image in enumerate(images)
    ]
    (inputs / "p.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))

    def convert(out: str, *extra: str) -> dict:
        assert (
            main(
                [
                    "convert",
                    "--source",
                    "preference",
                    "--input",
                    str(inputs / "p.jsonl"),
                    "--task",
                    "dpo",
                    "--out",
                    str(tmp_path / out),
                    *extra,
                ]
            )
            == 0
        )
        return json.loads((tmp_path / out / "summary.json").read_text())

    summary = convert("default")
    assert summary["rows_written"] == 1 and sum(summary["rejected"].values()) == 3
    reasons = [
        json.loads(line)["reason"] for line in (tmp_path / "default" / "rejected.jsonl").read_text().splitlines()
    ]
    assert all("leads outside --images_root" in reason for reason in reasons)
    assert convert("wider", "--images-root", str(tmp_path))["rows_written"] == 4
    assert convert("any", "--images_root", "any")["rows_written"] == 4
    capsys.readouterr()
    assert (
        main(
            [
                "convert",
                "--source",
                "preference",
                "--input",
                str(inputs / "p.jsonl"),
                "--task",
                "dpo",
                "--out",
                str(tmp_path / "x"),
                "--images_root",
                str(tmp_path / "nowhere"),
            ]
        )
        == 1
    )
    assert "is not a folder" in _last_line(capsys) and not (tmp_path / "x").exists()


def test_a_killed_best_of_n_goes_on_where_it_stopped(tmp_path, capsys, monkeypatch):
    from rl_critic.critique import pipeline

    argv = ["best-of-n", "--input", QUESTIONS, "--n", "2", "--max_new_tokens", "3", "--chunk", "1"]
    argv += ["--critic_unreadable_ok", "true"]  # the untrained tiny critic
    assert main([*argv, "--out", str(tmp_path / "whole.jsonl")]) == 0
    run, calls = pipeline.BestOfN.run, []

    def killed_at_the_third_chunk(self, questions):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return run(self, questions)

    monkeypatch.setattr(pipeline.BestOfN, "run", killed_at_the_third_chunk)
    out = tmp_path / "resumed.jsonl"
    assert main([*argv, "--out", str(out)]) == 130
    journal = tmp_path / ".resumed.jsonl.journal.jsonl"
    assert not out.exists() and len(journal.read_text().splitlines()) == 3  # settings + 2 finished questions
    monkeypatch.setattr(pipeline.BestOfN, "run", run)
    capsys.readouterr()
    assert main([*argv, "--out", str(out), "--seed", "7"]) == 1
    assert "holds 2 finished record(s) of an interrupted run with other settings (seed 0 -> 7)" in _last_line(capsys)
    holds_the_claim = "import sys; from rl_critic.ground.files import OutputClaim; OutputClaim(sys.argv[1]).acquire(); "
    holds_the_claim += "print('claimed', flush=True); sys.stdin.read()"
    sleeper = subprocess.Popen(
        [sys.executable, "-c", holds_the_claim, str(out)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:  # a run still writing the output holds its claim: a second run on the same output is refused
        assert sleeper.stdout.readline() == "claimed\n"
        assert main([*argv, "--out", str(out)]) == 1
        assert f"another run (pid {sleeper.pid}) is writing {out}: wait for it to finish" in _last_line(capsys)
    finally:
        sleeper.kill()
        sleeper.wait()
    assert main([*argv, "--out", str(out)]) == 0
    assert "resuming: 2 question(s) already done" in capsys.readouterr().out
    assert out.read_text() == (tmp_path / "whole.jsonl").read_text()  # exactly what the uninterrupted run wrote
    assert sorted(p.name for p in tmp_path.iterdir()) == ["resumed.jsonl", "whole.jsonl"]


def test_a_killed_eval_critic_goes_on_where_it_stopped(data, tmp_path, capsys, monkeypatch):
    from rl_critic.evaluation import critic

    argv = [
        "eval",
        "critic",
        "--unreadable_ok",  # the untrained tiny critic
        "true",
        "--data",
        str(data / "eval"),
        "--max_new_tokens",
        "3",
        "--chunk",
        "4",
        "--swap",
        "--temperature",
        "0.7",
    ]  # sampled judgments: a resumed run must draw what the whole one drew
    assert main([*argv, "--out", str(tmp_path / "whole.json")]) == 0
    judge_rows, calls = critic.judge_rows, []

    def killed_at_the_third_chunk(rows, judge, **options):
        calls.append(len(rows))
        if len(calls) == 3:
            raise KeyboardInterrupt
        return judge_rows(rows, judge, **options)

    monkeypatch.setattr(critic, "judge_rows", killed_at_the_third_chunk)
    out = tmp_path / "resumed.json"
    assert main([*argv, "--out", str(out)]) == 130
    journal = tmp_path / ".resumed.json.journal.jsonl"
    assert not out.exists() and len(journal.read_text().splitlines()) == 1 + 8  # settings + 2 chunks of 4 rows
    monkeypatch.setattr(critic, "judge_rows", judge_rows)
    capsys.readouterr()
    assert main([*argv, "--out", str(out), "--prompt", "default"]) == 1
    assert (
        "holds 8 finished record(s) of an interrupted run with other settings (prompt 'row' -> 'default')"
        in _last_line(capsys)
    )
    assert main([*argv, "--out", str(out)]) == 0
    assert "resuming: 8 row(s) already done" in capsys.readouterr().out
    for suffix in (".json", ".judgments.jsonl"):  # exactly what the uninterrupted run wrote
        whole = (tmp_path / f"whole{suffix}").read_text().replace("whole.json", "resumed.json")
        assert (tmp_path / f"resumed{suffix}").read_text() == whole
    assert len((tmp_path / "resumed.judgments.jsonl").read_text().splitlines()) == 2 * 12  # both orders, 12 rows
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        f"{name}{suffix}" for name in ("whole", "resumed") for suffix in (".json", ".md", ".judgments.jsonl")
    )


def test_a_killed_make_pairs_goes_on_where_it_stopped(tmp_path, capsys, monkeypatch):
    """The same journal as best-of-n: the sampled answers of finished chunks are kept, a re-run with other
    settings is refused by name, and the resumed run writes exactly the uninterrupted run's rows."""
    import pyarrow.parquet as pq

    from rl_critic.critique import pipeline

    argv = ["make-pairs", "--input", QUESTIONS, "--n", "2", "--max_new_tokens", "3", "--chunk", "1"]
    assert main([*argv, "--out", str(tmp_path / "whole.parquet")]) == 0
    sample, calls = pipeline.sample_candidates, []

    def killed_at_the_third_chunk(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return sample(*args, **kwargs)

    monkeypatch.setattr(pipeline, "sample_candidates", killed_at_the_third_chunk)
    out = tmp_path / "resumed.parquet"
    assert main([*argv, "--out", str(out)]) == 130
    journal = tmp_path / ".resumed.parquet.journal.jsonl"
    assert not out.exists() and len(journal.read_text().splitlines()) == 3  # settings + 2 finished questions
    monkeypatch.setattr(pipeline, "sample_candidates", sample)
    capsys.readouterr()
    assert main([*argv, "--out", str(out), "--temperature", "0.5"]) == 1
    assert "holds 2 finished record(s) of an interrupted run with other settings (temperature 1.0 -> 0.5)" in (
        _last_line(capsys)
    )
    assert main([*argv, "--out", str(out)]) == 0
    assert "resuming: 2 question(s) already done" in capsys.readouterr().out
    assert pq.read_table(out).to_pylist() == pq.read_table(tmp_path / "whole.parquet").to_pylist()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["resumed.parquet", "whole.parquet"]
