"""`data_converters.columns` owns every kind of row's columns: each builder fills exactly those, the converted
datasets carry exactly those, and the trainers' checks name what is missing from them."""

from __future__ import annotations

import pytest

from data_converters import columns
from data_converters.schema import Judgment, policy_prompt_from_messages, policy_prompt_row, preference, task_row
from rl_critic.ground.errors import UserError

IMAGE = [{"bytes": b"x", "path": None}]


def _judgment(task: str = "pairwise") -> Judgment:
    if task == "pointwise":
        return Judgment(
            "p1",
            "src",
            "pointwise",
            "What?",
            ["A red circle."],
            "70",
            IMAGE,
            scale="0-100",
            judge_prompt="Rate it.",
            rationale="Good. Final Score: 70",
        )
    return Judgment(
        "j1",
        "src",
        "pairwise",
        "What?",
        ["a", "b"],
        "1",
        IMAGE,
        judge_prompt="Which response is better?",
        rationale="The first is right. The better response: [first]",
        models=["m1", "m2"],
    )


# every task a judgment of that kind makes a row for (a pointwise one has no pair for `dpo` / `sft-policy`)
ROWS = [(task, "pairwise") for task in columns.TASK_COLUMNS]
ROWS += [(task, "pointwise") for task in columns.TASK_COLUMNS if task not in ("dpo", "sft-policy")]


@pytest.mark.parametrize(("task", "kind"), ROWS)
def test_every_task_row_has_exactly_its_columns(task, kind):
    row = task_row(_judgment(kind), task, seed=0, keep_ties=False)
    assert tuple(row) == columns.TASK_COLUMNS[task]
    features = columns.task_features(task, "image")
    assert list(features) == [*columns.TASK_COLUMNS[task], "image"]
    features.encode_example({**row, "image": IMAGE[0]})  # the row fits its features


def test_policy_prompts_and_critic_dpo_pairs_have_their_columns():
    row = policy_prompt_row("What colour?", 1, answer=3)
    assert tuple(row) == columns.POLICY_PROMPT_COLUMNS and row["solution"] == "3"
    assert policy_prompt_row("What?", 0)["solution"] == ""
    messages = row["prompt"] + [{"role": "assistant", "content": [{"type": "text", "text": "red"}]}]
    assert policy_prompt_from_messages(messages) == {"prompt": row["prompt"], "solution": "red"}
    pair = {"id": "q", **preference("What?", 1, "red", "blue"), "r": [1.0, -1.0], "r_chosen": 1.0, "r_rejected": -1.0}
    assert tuple(pair) == columns.CRITIC_DPO_COLUMNS
    assert pair["chosen"][0]["content"][0]["text"] == "red" and pair["rejected"][0]["role"] == "assistant"
    columns.features(columns.CRITIC_DPO_COLUMNS, "images").encode_example({**pair, "images": IMAGE})


@pytest.mark.parametrize("method", list(columns.TRAINER_COLUMNS))
def test_trainer_checks_read_the_columns_from_one_place(method):
    from datasets import Dataset

    from rl_critic.train.common import check_columns

    for task_columns in columns.TASK_COLUMNS.values():
        data = Dataset.from_dict({name: ["x"] for name in task_columns})
        fits = columns.TRAINER_COLUMNS[method] <= set(task_columns)
        if fits:
            check_columns(data, method)
            continue
        with pytest.raises(UserError, match=f"`rl-critic train {method}` needs the `{method}` output") as info:
            check_columns(data, method)
        assert "this looks like" in str(info.value) and "missing column(s)" in str(info.value)
    graded = Dataset.from_dict({"prompt": ["x"]})
    with pytest.raises(UserError, match=r"missing column\(s\): solution"):
        check_columns(graded, "grpo", graded=True)
