"""`convert --hard_negatives`: pairs whose worse response is a master key or a cut-off answer, labelled against it."""

from __future__ import annotations

import json

import pytest

from data_converters.convert import convert
from data_converters.hard_negatives import MASTER_KEYS, truncated
from data_converters.io import load_any
from data_converters.layouts import features
from data_converters.synthetic import synthetic_rows
from rl_critic.ground.errors import UserError


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    from datasets import Dataset

    root = tmp_path_factory.mktemp("hard")
    Dataset.from_list(list(synthetic_rows(80, "pairwise", seed=5)), features=features()).to_parquet(
        str(root / "s.parquet")
    )
    return root


def _rows(folder) -> list[dict]:
    return [dict(row) for row in load_any(str(folder)).remove_columns("image")]


def test_grpo_pairs_gain_hard_negatives_labelled_for_the_real_answer(pairs):
    plain = convert("llava-critic-pairwise", str(pairs / "s.parquet"), "grpo", str(pairs / "plain"))
    summary = convert(
        "llava-critic-pairwise", str(pairs / "s.parquet"), "grpo", str(pairs / "hard"), hard_negatives=0.5
    )
    originals = {row["id"]: row for row in _rows(pairs / "plain")}
    hard = [row for row in _rows(pairs / "hard") if "#hard-" in row["id"]]
    assert summary["rows_written"] == plain["rows_written"] + len(hard)
    assert summary["hard_negatives"]["rate"] == 0.5 and summary["hard_negatives"]["rows"] == len(hard)
    assert sum(summary["hard_negatives"]["kinds"].values()) == len(hard)
    assert 0.35 * len(originals) < len(hard) < 0.65 * len(originals)  # about half of the decided pairs
    assert "hard_negatives" not in plain
    for row in hard:
        source = originals[row["id"].split("#hard-")[0]]
        better = source["responses"][int(source["solution"]) - 1]
        kind = row["id"].rsplit("#hard-", 1)[1]
        assert row["responses"][int(row["solution"]) - 1] == better  # the label names the real answer
        worse = row["responses"][2 - int(row["solution"])]
        expected = {"truncated": truncated(better), "question_repeated": source["question"]}.get(kind)
        assert worse == (expected if expected is not None else MASTER_KEYS[kind])
    assert len({row["id"].rsplit("#hard-", 1)[1] for row in hard}) >= 5  # the kinds vary
    again = convert("llava-critic-pairwise", str(pairs / "s.parquet"), "grpo", str(pairs / "again"), hard_negatives=0.5)
    assert again["hard_negatives"] == summary["hard_negatives"]  # a hash of (seed, id): the same every run
    assert [r["id"] for r in _rows(pairs / "again")] == [r["id"] for r in _rows(pairs / "hard")]


def test_sft_and_dpo_hard_negatives(pairs):
    convert("llava-critic-pairwise", str(pairs / "s.parquet"), "dpo", str(pairs / "dpo"), hard_negatives=1.0)
    hard = [row for row in _rows(pairs / "dpo") if "#hard-" in row["id"]]
    assert hard and all(
        row["rejected"][0]["content"][0]["text"] != row["chosen"][0]["content"][0]["text"] for row in hard
    )
    convert("llava-critic-pairwise", str(pairs / "s.parquet"), "sft", str(pairs / "sft"), hard_negatives=1.0)
    summary = json.loads((pairs / "sft" / "summary.json").read_text())
    assert summary["hard_negatives"]["rows"] == len(hard)  # every decided pair, in both tasks
    for row in _rows(pairs / "sft"):
        if "#hard-" in row["id"]:
            answer = row["messages"][-1]["content"][-1]["text"]
            prompt = row["messages"][0]["content"][-1]["text"]
            assert answer.splitlines()[-1] in ("The better response: [1]", "The better response: [2]")
            assert "Response 1: [" in prompt and "Response 2: [" in prompt


@pytest.mark.parametrize(
    ("task", "rate", "expected"),
    [
        ("eval", 0.5, "--hard_negatives adds training pairs to grpo, sft, sft-r1, dpo, not to eval"),
        ("grpo", 1.5, "--hard_negatives is a share of the pairs, from 0 to 1, not 1.5"),
        ("grpo", -0.1, "--hard_negatives is a share of the pairs, from 0 to 1, not -0.1"),
    ],
)
def test_a_wrong_rate_or_task_is_one_line_and_writes_nothing(pairs, task, rate, expected):
    out = pairs / f"bad-{task}-{rate}"
    with pytest.raises(UserError, match=expected.replace("(", "\\(").replace("[", "\\[")):
        convert("llava-critic-pairwise", str(pairs / "s.parquet"), task, str(out), hard_negatives=rate)
    assert not out.exists()
