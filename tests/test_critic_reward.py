"""`critic_judge`: a critic scores each GRPO group of completions (schedules, order fairness, cost, logging),
and a GRPO run with a tiny critic trains the policy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from rl_critic.critique.judgments import PairJudgment, ScoreJudgment
from rl_critic.critique.reward import CriticJudgeReward, CriticRewardArguments
from rl_critic.critique.schedules import judgments_per_group
from rl_critic.models.media import MediaBudget
from rl_critic.models.tiny import ensure_tiny_model
from tests.conftest import shape_image
from tests.helpers import TooLongFor

ROOT = Path(__file__).resolve().parent.parent
CPU = ["--use_cpu", "true", "--bf16", "false", "--gradient_checkpointing", "false", "--report_to", "none"]


class ReferenceJudge:
    """Prefers the response that contains the word `right` (the scripted critic of the issue)."""

    def __init__(self):
        self.requests = 0

    def compare(self, requests):
        self.requests += len(requests)
        verdicts = []
        for r in requests:
            first, second = "right" in r.first, "right" in r.second
            verdicts.append("1" if first and not second else "2" if second and not first else "tie")
        return [PairJudgment(raw=f"\\boxed{{{v}}}", verdict=v, tokens=1) for v in verdicts]

    def score(self, requests):
        self.requests += len(requests)
        return [ScoreJudgment(raw="", score=10.0 if "right" in r.response else 1.0, tokens=1) for r in requests]


class AlwaysFirst:
    def __init__(self):
        self.requests = 0

    def compare(self, requests):
        self.requests += len(requests)
        return [PairJudgment(raw="\\boxed{1}", verdict="1", tokens=1) for _ in requests]


def _batch(groups: list[list[str]]):
    """TRL's layout: each prompt repeated once per completion, consecutive; one image per row."""
    prompts, completions, images = [], [], []
    for number, texts in enumerate(groups):
        prompt = [
            {"role": "user", "content": [{"type": "image", "text": None}, {"type": "text", "text": f"Q{number}?"}]}
        ]
        image = shape_image(56, 56 + number)
        for text in texts:
            prompts.append(prompt)
            completions.append([{"role": "assistant", "content": text}])
            images.append(image)
    return prompts, completions, images


GROUPS = [
    ["wrong a", "wrong b", "right c", "wrong d"],
    ["right x", "wrong y", "wrong z", "wrong w"],
    ["wrong 1", "wrong 2", "wrong 3", "wrong 4", "wrong 5", "right 6", "wrong 7", "wrong 8"],
]


@pytest.mark.parametrize("schedule", ["round_robin", "knockout", "pointwise"])
@pytest.mark.parametrize("both_orders", [True, False])
def test_the_right_completion_gets_the_highest_reward_in_every_group(schedule, both_orders):
    judge = ReferenceJudge()
    reward = CriticJudgeReward(
        CriticRewardArguments(critic_schedule=schedule, critic_both_orders=both_orders), judge=judge
    )
    prompts, completions, images = _batch(GROUPS)
    rewards = reward(prompts=prompts, completions=completions, image=images)
    start = 0
    for texts in GROUPS:
        group = rewards[start : start + len(texts)]
        best = texts.index(next(t for t in texts if "right" in t))
        assert group[best] == max(group) and sorted(group)[-2] < group[best] and all(0 <= r <= 1 for r in group)
        start += len(texts)
    # the cost per group is what `judgments_per_group` says
    assert judge.requests == sum(judgments_per_group(len(t), schedule, both_orders) for t in GROUPS)


def test_both_orders_cancel_a_judge_that_always_says_1():
    prompts, completions, images = _batch(GROUPS[:2])
    fair = CriticJudgeReward(CriticRewardArguments(critic_both_orders=True), judge=AlwaysFirst())
    assert fair(prompts=prompts, completions=completions, image=images) == [0.5] * 8
    biased = CriticJudgeReward(CriticRewardArguments(critic_both_orders=False), judge=AlwaysFirst())
    first_group = biased(prompts=prompts, completions=completions, image=images)[:4]
    assert first_group == [1.0, 2 / 3, 1 / 3, 0.0]  # position decides: the first shown always wins


@pytest.mark.parametrize("schedule", ["round_robin", "knockout", "pointwise"])
def test_identical_completions_cost_no_judgment(schedule):
    judge = ReferenceJudge()
    reward = CriticJudgeReward(CriticRewardArguments(critic_schedule=schedule), judge=judge)
    prompts, completions, images = _batch([["same"] * 4, ["right", "right", "wrong", "wrong"]])
    rewards = reward(prompts=prompts, completions=completions, image=images)
    assert len(set(rewards[:4])) == 1 and rewards[4] == rewards[5] > rewards[6] == rewards[7]  # copies score alike
    # first group free (pointwise: one score); second: 4 distinct pairs x 2 orders, or one final x 2, or 2 scores
    expected = {"round_robin": 4 * 2, "knockout": 1 * 2, "pointwise": 1 + 2}[schedule]
    assert judge.requests == expected


def test_metrics_favourite_right_and_raw_judgments_are_logged():
    metrics, extra = {}, {}
    reward = CriticJudgeReward(judge=ReferenceJudge())
    prompts, completions, images = _batch(GROUPS[:2])
    solutions = ["right c"] * 4 + ["right x"] * 4  # each group's reference answer
    reward(
        prompts=prompts,
        completions=completions,
        image=images,
        solution=solutions,
        log_metric=metrics.__setitem__,
        log_extra=extra.__setitem__,
    )
    assert metrics["critic_judge/judgments"] == 2 * 12 and metrics["critic_judge/parse_failure_rate"] == 0.0
    assert metrics["critic_judge/seconds"] >= 0 and metrics["critic_judge/favourite_right"] == 1.0
    assert len(extra["critic_judgment"]) == 8 and extra["critic_judgment"][0].startswith("\\boxed")


@pytest.mark.parametrize("schedule", ["round_robin", "knockout", "pointwise"])
def test_a_judge_prompt_over_the_critics_context_neutralises_its_group(schedule):
    """GRPO must not stop because a group is too long to judge, nor reward being too long to judge: that group
    gets 0.5 each (no advantage), the other groups are judged, and the rate is logged."""
    metrics = {}
    reward = CriticJudgeReward(
        CriticRewardArguments(critic_schedule=schedule), judge=TooLongFor(ReferenceJudge(), "Q0?")
    )
    prompts, completions, images = _batch(GROUPS[:2])
    rewards = reward(prompts=prompts, completions=completions, image=images, log_metric=metrics.__setitem__)
    assert rewards[:4] == [0.5] * 4 and rewards[4] == max(rewards[4:]) > min(rewards[4:])
    tried = {"round_robin": 12, "knockout": 6, "pointwise": 4}[schedule]  # group Q0's judgments, none made
    assert metrics["critic_judge/too_long_rate"] == tried / metrics["critic_judge/judgments"]


def test_critic_needs_a_model_and_options_go_in_fields(monkeypatch, capsys):
    from rl_critic.cli import main
    from rl_critic.ground.errors import UserError

    monkeypatch.delenv("RL_CRITIC_CRITIC_MODEL", raising=False)
    with pytest.raises(UserError, match="critic_judge needs a critic"):
        CriticJudgeReward().load()
    code = main(
        [
            "train",
            "grpo",
            "--config",
            str(ROOT / "recipes/tiny/grpo_policy_critic.yaml"),
            "--reward_funcs",
            "critic_judge:schedule=knockout",
            *CPU,
        ]
    )
    assert code == 1 and "critic_judge takes its settings from the critic_* fields" in capsys.readouterr().err


def test_grpo_with_a_tiny_critic_trains_the_policy_and_logs_critic_metrics(tmp_path, capsys):
    from rl_critic.cli import main

    out = tmp_path / "run"
    # A random tiny critic ties everything; a varying rule reward gives the step non-zero advantages.
    code = main(
        [
            "train",
            "grpo",
            "--config",
            str(ROOT / "recipes/tiny/grpo_policy_critic.yaml"),
            "--reward_funcs",
            "critic_judge",
            "tests.helpers.length_reward",
            "--reward_weights",
            "1.0",
            "1.0",
            "--max_steps",
            "2",
            "--save_strategy",
            "steps",
            "--save_steps",
            "2",
            "--output_dir",
            str(out),
            *CPU,
        ]
    )
    assert code == 0
    history = json.loads((out / "checkpoint-2" / "trainer_state.json").read_text())["log_history"]
    steps = [entry for entry in history if "critic_judge/judgments" in entry]
    assert len(steps) == 2 and all(entry["critic_judge/judgments"] == 24 for entry in steps)  # 2 groups x 12
    assert all(
        0 <= entry["critic_judge/parse_failure_rate"] <= 1 and entry["critic_judge/seconds"] > 0 for entry in steps
    )
    assert all(torch.isfinite(torch.tensor(entry["loss"])) for entry in history if "loss" in entry)
    before = load_file(str(ensure_tiny_model("qwen2_5_vl") / "model.safetensors"))
    after = load_file(str(out / "model.safetensors"))
    assert sum(not torch.equal(before[k], after[k]) for k in before if k in after) > 0


def test_groups_follow_num_generations_and_tell_same_question_different_images_apart():
    from rl_critic.critique.reward import _groups

    prompt = [{"role": "user", "content": [{"type": "image", "text": None}, {"type": "text", "text": "Colour?"}]}]
    red, blue = shape_image(colour=(220, 30, 30)), shape_image(colour=(30, 60, 220))  # same question, same size
    images = [red] * 4 + [blue] * 4
    assert _groups([prompt] * 8, {"image": images}) == [(0, 4), (4, 8)]
    assert _groups([prompt] * 8, {"image": images}, size=4) == [(0, 4), (4, 8)]
    assert _groups([prompt] * 8, {"image": [red] * 8}, size=4) == [(0, 4), (4, 8)]  # two rows of one prompt
    assert _groups([prompt] * 6, {"image": [red] * 2 + [blue] * 4}, size=4) == [(0, 2), (2, 6)]  # split group


def test_question_files_and_sft_policy_data_become_policy_prompts(tmp_path):
    from data_converters.convert import convert
    from data_converters.io import load_any
    from rl_critic.train.policy_data import (
        is_policy_messages,
        is_question_file,
        load_question_file,
        prompts_from_messages,
    )

    questions = ROOT / "examples/questions.jsonl"
    assert is_question_file(str(questions)) and not is_question_file(str(ROOT / "recipes/tiny/grpo_critic.yaml"))
    dataset = load_question_file(str(questions), None, MediaBudget())
    assert len(dataset) == 4 and dataset[2]["solution"] == "the second" and len(dataset[2]["images"]) == 2
    assert dataset[0]["prompt"][0]["content"][-1]["text"] == "What colour is the circle?"
    sample = ROOT / "examples/data/llava-critic-sample.parquet"
    for task in ("sft-policy", "sft"):
        convert("llava-critic-pairwise", str(sample), task, str(tmp_path / task), limit=12)
    policy, critic_sft = load_any(str(tmp_path / "sft-policy")), load_any(str(tmp_path / "sft"))
    assert is_policy_messages(policy) and not is_policy_messages(critic_sft)  # critic SFT data is not a policy set
    mapped = prompts_from_messages(policy)
    row, original = mapped[0], policy[0]
    assert row["prompt"] == original["messages"][:-1] and row["prompt"][-1]["role"] == "user"
    assert row["solution"] == original["messages"][-1]["content"][0]["text"] and "messages" not in mapped.column_names
