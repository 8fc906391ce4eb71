"""Self-critique best-of-N: strategies on a scripted judge, the real judge engine on the tiny model, the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rl_critic.critique.aggregation import preference_scores
from rl_critic.critique.judge import Judge
from rl_critic.critique.judgments import PairJudgment, PairRequest, ScoreJudgment
from rl_critic.critique.problem import Problem
from rl_critic.critique.strategies import majority_pick, select
from rl_critic.generation.hf import HFEngine
from rl_critic.generation.settings import SamplingSettings
from rl_critic.models.loader import ModelArguments, load_model_and_processor
from tests.conftest import shape_image
from tests.helpers import TooLongFor

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


class ScriptedJudge(Judge):
    """Judges by a hidden quality per candidate text (`"cand-<quality>"`), records every request."""

    def __init__(self, unparseable: bool = False):
        self.requests: list = []
        self.batches = 0
        self.unparseable = unparseable

    @staticmethod
    def quality(text: str) -> int:
        return int(text.split("-")[1])

    def compare(self, requests):
        self.requests += requests
        self.batches += 1
        out = []
        for r in requests:
            a, b = self.quality(r.first), self.quality(r.second)
            verdict = None if self.unparseable else "1" if a > b else "2" if b > a else "tie"
            out.append(PairJudgment(raw=f"\\boxed{{{verdict}}}", verdict=verdict, tokens=3))
        return out

    def score(self, requests):
        self.requests += requests
        self.batches += 1
        return [ScoreJudgment(raw="", score=float(self.quality(r.response)), tokens=2) for r in requests]


def _problems(qualities: list[list[int]]) -> list[Problem]:
    return [Problem(question=f"q{i}", candidates=[f"cand-{q}" for q in qs]) for i, qs in enumerate(qualities)]


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8])
@pytest.mark.parametrize("both_orders", [False, True])
def test_knockout_makes_n_minus_one_judgments_and_finds_the_best(n, both_orders):
    qualities = [[(7 * i + 3) % 11 for i in range(n)], [(5 * i + 1) % 13 for i in range(n)]]
    judge = ScriptedJudge()
    selections = select("knockout", _problems(qualities), judge, both_orders=both_orders)
    per_question = (n - 1) * (2 if both_orders else 1)
    assert len(judge.requests) == 2 * per_question
    for selection, qs in zip(selections, qualities):
        assert len(selection.judgments) == per_question
        assert qs[selection.pick] == max(qs)  # a consistent judge's bracket winner is the best candidate
    # Both questions' matches of a round share one batched call: ceil(log2 n) rounds.
    assert judge.batches == (0 if n == 1 else (n - 1).bit_length())


def test_round_robin_matches_hand_computed_scores():
    judge = ScriptedJudge()
    [selection] = select("round_robin", _problems([[2, 9, 5]]), judge)
    assert len(judge.requests) == 6 and len(selection.judgments) == 6
    # a_ij = +1 when y_j beats y_i. Qualities 2, 9, 5: y1 beats both, y2 beats y0.
    # r_0 = (a_10 + a_20) - (a_01 + a_02) = (-1 - 1) - (1 + 1) = -4; r_1 = (1 + 1) - (-1 - 1) = 4; r_2 = 0
    assert selection.pick == 1


@pytest.mark.parametrize(
    ("a", "expected"),
    [
        ({(0, 1): 1, (1, 0): -1}, [-2, 2]),  # K=2, y1 better in both orders
        ({(0, 1): 1, (1, 0): 1}, [0, 0]),  # position bias: "the second is better" always -> a wash
        ({}, [0, 0, 0]),  # all ties
        ({(0, 1): 1, (0, 2): 1, (1, 0): -1, (2, 0): -1, (1, 2): 0, (2, 1): 0}, [-4, 2, 2]),
    ],
)
def test_preference_scores_on_hand_computed_matrices(a, expected):
    assert preference_scores(len(expected), a) == expected


def test_pointwise_majority_and_first():
    judge = ScriptedJudge()
    [selection] = select("pointwise", _problems([[3, 8, 8, 1]]), judge)
    assert selection.pick == 1 and len(judge.requests) == 3  # the copy of cand-8 is scored once; ties: the earlier
    texts = ["I think \\boxed{4}", "It is \\boxed{5}", "so \\boxed{ 5 }", "\\boxed{4}", "\\boxed{5}"]
    assert majority_pick(texts) == 1
    assert select("majority", [Problem("q", texts)])[0].pick == 1
    assert select("first", [Problem("q", texts)])[0].pick == 0
    with pytest.raises(ValueError, match="needs a judge"):
        select("knockout", [Problem("q", texts)])


def test_unparseable_verdicts_are_counted_not_fatal():
    [selection] = select("knockout", _problems([[1, 5, 3, 2]]), ScriptedJudge(unparseable=True))
    assert selection.pick == 0 and len(selection.judgments) == 3
    assert all(j["verdict"] is None and j["value"] == 0 for j in selection.judgments)


@pytest.mark.parametrize("strategy", ["knockout", "round_robin", "pointwise"])
def test_an_over_long_judge_prompt_marks_its_question_and_spares_the_others(strategy):
    first, second = select(strategy, _problems([[1, 9, 5], [2, 9, 5]]), TooLongFor(ScriptedJudge(), "q0"))
    assert (
        first.too_long
        == "prompt too long: 5,000 tokens, over the limit of 3,584 (the model's 4,096 positions - max_new_tokens 512)"
        and first.judgments
        and all(record["kind"] == "too_long" for record in first.judgments)
    )
    assert second.too_long is None and second.pick == 1 and second.judgments


def test_real_judge_engine_batches_and_parses():
    model, processor = load_model_and_processor(ModelArguments(model_name_or_path="tiny"))
    judge = Judge(HFEngine(model, processor), SamplingSettings(max_new_tokens=6), batch_size=4)
    judge.unreadable_ok = True  # an untrained critic: its answers hold no verdict
    image = [shape_image()]
    problems = [Problem("What colour?", ["red", "blue", "green"], image), Problem("Count?", ["1", "2"], image)]
    selections = select("knockout", problems, judge)
    assert judge.calls == 3  # (3-1) + (2-1)
    for selection, problem in zip(selections, problems):
        assert 0 <= selection.pick < len(problem.candidates)
        for j in selection.judgments:
            assert isinstance(j["raw"], str) and 1 <= j["tokens"] <= 6 and j["verdict"] in (None, "1", "2", "tie")
    [scores] = select("pointwise", problems[:1], judge)
    assert len(scores.judgments) == 3 and all(j["kind"] == "score" for j in scores.judgments)


def test_cli_output_schema_errors_and_accuracy_table(tmp_path):
    for name in ("red_circle.png", "blue_square.png"):
        (tmp_path / name).write_bytes((EXAMPLES / name).read_bytes())
    lines = [
        json.dumps({"id": "q1", "image": "red_circle.png", "question": "What colour is the circle?", "answer": "red"}),
        json.dumps({"id": "q2", "image": ["red_circle.png", "blue_square.png"], "question": "Which is blue?"}),
        "{not json",
        json.dumps({"id": "q4", "image": "missing.png", "question": "x"}),
        json.dumps({"id": "q5", "image": "red_circle.png", "question": " "}),
    ]
    (tmp_path / "q.jsonl").write_text("\n".join(lines) + "\n")
    script = Path(sys.executable).with_name("rl-critic")
    command = [
        str(script),
        "best-of-n",
        "--input",
        str(tmp_path / "q.jsonl"),
        "--out",
        str(tmp_path / "r.jsonl"),
        "--n",
        "4",
        "--strategy",
        "knockout",
        "--both-orders",
        "--max-new-tokens",
        "8",
        "--judge-max-new-tokens",
        "8",
        "--critic-unreadable-ok",
        "true",
    ]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    rows = [json.loads(line) for line in (tmp_path / "r.jsonl").read_text().splitlines()]
    errors = {r["id"]: r["errors"] for r in rows if "errors" in r}
    assert set(errors) == {"line-3", "q4", "q5"}
    assert "image file not found" in errors["q4"][0] and errors["q5"] == ["empty question"]
    results = {r["id"]: r for r in rows if "errors" not in r}
    for row in results.values():
        assert set(row) >= {
            "id",
            "candidates",
            "judgments",
            "pick",
            "picked",
            "answer",
            "num_judgments",
            "generated_tokens",
        }
        assert len(row["candidates"]) == 4 and row["num_judgments"] == 6  # 2(N-1) with both orders
        assert row["picked"] == row["candidates"][row["pick"]] and row["generated_tokens"] > 0
    assert results["q1"]["answer"] == "red" and results["q2"]["answer"] is None
    assert "best-of-4 (knockout): 2 questions, 3 with errors, 12 judgments" in result.stdout
    assert "oracle (any correct)" in result.stdout and "(1 questions with answers)" in result.stdout


def test_cli_fails_only_when_nothing_could_be_processed(tmp_path):
    (tmp_path / "q.jsonl").write_text(json.dumps({"id": "x", "question": ""}) + "\n")
    script = Path(sys.executable).with_name("rl-critic")
    result = subprocess.run(
        [
            str(script),
            "best-of-n",
            "--input",
            str(tmp_path / "q.jsonl"),
            "--out",
            str(tmp_path / "r.jsonl"),
            "--n",
            "2",
            "--strategy",
            "first",
            "--max_new_tokens",
            "4",
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1 and "no question could be processed" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("rl-critic best-of-n: error:")
    assert not (tmp_path / "r.jsonl").exists() and not list(tmp_path.glob(".r.jsonl.partial-*"))  # nothing half-written


def test_judge_asks_with_the_instruction_it_is_given(monkeypatch):
    seen = []
    judge = Judge(None, instruction="Which response is right?")
    monkeypatch.setattr(
        judge, "_run", lambda texts, images, readable: seen.extend(texts) or [("\\boxed{2}", 3)] * len(texts)
    )
    [verdict] = judge.compare([PairRequest("What colour?", "red", "blue")])
    assert verdict.verdict == "2"
    assert seen[0].startswith(
        "Which response is right?\nQuestion: [What colour?]\nResponse 1: [red]\nResponse 2: [blue]"
    )
    assert seen[0].endswith("put in \\boxed{}.")


def test_selection_accuracies_count_each_selection_once():
    """With `majority` as the strategy its accuracy is counted once (it was counted twice: 2x the oracle)."""
    from rl_critic.critique.strategies import selection_accuracies

    records = [
        {"candidates": ["red", "blue", "blue"], "pick": 1, "answer": "blue"},
        {"candidates": ["red", "red", "blue"], "pick": 0, "answer": "blue"},
    ]
    for strategy in ("majority", "knockout"):
        accuracies = selection_accuracies(records, strategy)
        assert accuracies["majority"] == 0.5 and accuracies[strategy] == 0.5
        assert accuracies["first"] == 0.0 and accuracies["oracle (any correct)"] == 1.0
