"""The one verdict reader (`rl_critic.critique.read_verdict` / `read_score`) and the judges that use it.

1. Coverage: for every source and SFT task of `convert`, every target row reads back as the label the row was
   converted from (`sft`: the annotator's own rationale and layout; `sft-r1`: the boxed verdict).
2. The judges read through it: a served critic that answers in the SFT layouts (`tests.servers.sft_critic_answer`,
   never a box) gets, in `eval critic`, `best-of-n` and the `critic_judge` reward, the verdicts `read_verdict`
   gives, and no parse failures.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from datasets import Dataset

from data_converters.convert import convert
from data_converters.edge_cases import edge_case_rows
from data_converters.io import load_any
from data_converters.layouts import features
from data_converters.schema import FLIP
from data_converters.sources import all_sources
from data_converters.synthetic import synthetic_rows
from rl_critic.cli import main
from rl_critic.critique import read_score, read_verdict
from rl_critic.ground.errors import UserError
from tests.conftest import shape_image
from tests.servers import SFT_PAIR_LAYOUTS, SFT_TIE_LAYOUTS, StubServer, sft_critic_answer

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "examples" / "data" / "llava-critic-sample.parquet"
LLAVA_CRITIC = ("llava-critic-pairwise", "llava-critic-pointwise")
SFT_TASKS = ("sft", "sft-r1")


@pytest.fixture(scope="module")
def critic_data(tmp_path_factory) -> list[str]:
    """113k-schema inputs: synthetic rows in every spelling plus the hand-made edge cases, and the shipped sample."""
    path = tmp_path_factory.mktemp("verdicts") / "sample.parquet"
    rows = list(synthetic_rows(240, "both", seed=4)) + edge_case_rows()
    Dataset.from_list(rows, features=features()).to_parquet(str(path))
    return [str(path), str(SHIPPED)]


def _assistant_text(row: dict) -> str:
    content = row["messages"][-1]["content"]
    return content if isinstance(content, str) else "".join(part["text"] or "" for part in content)


def reader_coverage(source: str, task: str, data: str, out: Path) -> tuple[int, int, dict[str, int]]:
    """(rows read back right, SFT rows, labels seen) for one source, task and input."""
    convert(source, data, "eval", str(out / "eval"), seed=3)
    convert(source, data, task, str(out / task), seed=3)
    labels = {row["id"]: row for row in load_any(str(out / "eval"))}
    right, total, seen = 0, 0, {}
    for row in load_any(str(out / task)):
        target = labels[row["id"]]
        # `sft` keeps the source's order (its rationale names positions); `sft-r1` is shown in the eval order.
        label = FLIP[target["solution"]] if task == "sft" and target["swapped"] else target["solution"]
        text = _assistant_text(row)
        if target["task"] == "pointwise":
            right += read_score(text) == float(label)
            seen["score"] = seen.get("score", 0) + 1
        else:
            right += read_verdict(text) == label
            seen[label] = seen.get(label, 0) + 1
        total += 1
    return right, total, seen


@pytest.mark.parametrize("task", SFT_TASKS)
@pytest.mark.parametrize("source", LLAVA_CRITIC)
def test_every_sft_target_reads_back_as_its_label(source, task, critic_data, tmp_path):
    for index, data in enumerate(critic_data):
        right, total, seen = reader_coverage(source, task, data, tmp_path / str(index))
        assert right == total > 50, (source, task, data, right, total)
        assert {"1", "2", "tie"} <= set(seen), seen
        if source == "llava-critic-pointwise":
            assert seen.get("score", 0) > 10


def _benchmark_rows(folder: Path) -> dict[str, list[dict]]:
    """One small input per source that has no judge rationale (benchmarks and preference pairs)."""
    (folder / "a.png").write_bytes(_png())
    return {
        "vl-rewardbench": [
            {"id": "v", "query": "Q", "response": ["a", "b"], "human_ranking": [0, 1], "image": "a.png"}
        ],
        "multimodal-rewardbench": [
            {"ID": "m", "Text": "Q", "Image": "a.png", "Output1": "a", "Output2": "b", "Better": "Output1"}
        ],
        "mm-rlhf-rewardbench": [{"id": "r", "prompt": "Q", "chosen": "a", "rejected": "b", "image": "a.png"}],
        "mllm-judge-pair": [
            {"instruction": "Q", "image_path": "a.png", "answer1": "a", "answer2": "b", "human_answer": "A"}
        ],
        "mllm-judge-score": [{"instruction": "Q", "image_path": "a.png", "answer": "a", "human": 3}],
        "preference": [{"prompt": "Q", "chosen": "a", "rejected": "b", "image": "a.png"}],
    }


def _png() -> bytes:
    import io

    buffer = io.BytesIO()
    shape_image().save(buffer, format="PNG")
    return buffer.getvalue()


def test_sources_without_a_rationale_make_no_sft_targets(tmp_path):
    """Every other source converts (eval) but writes no SFT row: there is no judge text to learn a layout from."""
    inputs = _benchmark_rows(tmp_path)
    assert set(inputs) | set(LLAVA_CRITIC) == set(all_sources())
    for source, rows in inputs.items():
        path = tmp_path / f"{source}.jsonl"
        path.write_text("".join(json.dumps(row) + "\n" for row in rows))
        assert convert(source, str(path), "eval", str(tmp_path / source / "eval"))["rows_written"] == 1
        for task in SFT_TASKS:
            with pytest.raises(UserError, match="no judge rationale"):
                convert(source, str(path), task, str(tmp_path / source / task))


@pytest.mark.parametrize(
    ("text", "verdict"),
    [
        ("<think>x</think>\\boxed{Response 2}", "2"),
        ("<think>x</think><answer>first</answer>", "1"),
        ("Both are right, but Response 1 is clearer. The better response: [Response 1]", "1"),
        ("Overall the first one is worse. The better response: [B]", "2"),
        ("They are not equally good. The better response: [first]", "1"),
        ("Two responses are equally good.", "tie"),
        ("Assistant B is wrong. [[A]]", "1"),
        ("[[C]]", "tie"),
        ("My final verdict is: [[B>>A]]", "2"),
        ("8 6\nAssistant 1 is right.", "1"),
        ("3 3\nBoth miss it.", "tie"),
        ("\\boxed{3} The better response: [second]", "2"),  # a box that is no verdict: the layout decides
        ("I cannot tell.", None),
        ("\\boxed{1 or 2}", None),
    ],
)
def test_read_verdict_reads_every_layout(text, verdict):
    assert read_verdict(text) == verdict


def test_read_score_reads_the_box_then_final_score():
    assert read_score("<think>ok</think>\\boxed{7}") == 7.0
    assert read_score("The caption is accurate. Final Score: 85.") == 85.0
    assert read_score("Final Score: 40. On reflection, Final Score: 60") == 60.0
    assert read_score("no score here") is None


def test_the_stub_critic_writes_every_sft_layout_and_never_a_box():
    answers = {
        sft_critic_answer(f"Question: [q{i}]\nResponse 1: [{'a' * (i % 3)}]\nResponse 2: [{'b' * (i % 2 + 1)}]")
        for i in range(200)
    }
    assert not any("\\boxed" in answer for answer in answers)
    for layout, _ in SFT_PAIR_LAYOUTS:
        assert any(answer.endswith(layout.split("{v}")[-1]) for answer in answers), layout
    assert all(any(answer.endswith(tie) for answer in answers) for tie in SFT_TIE_LAYOUTS)
    assert all(read_verdict(answer) is not None for answer in answers)


@pytest.fixture(scope="module")
def sft_critic():
    pytest.importorskip("openai")
    with StubServer("sft-critic") as server:
        yield server


@pytest.fixture(scope="module")
def eval_data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("sft-critic-eval")
    rows = list(synthetic_rows(16, "both", seed=2)) + edge_case_rows()
    Dataset.from_list(rows, features=features()).to_parquet(str(root / "s.parquet"))
    convert("llava-critic-pointwise", str(root / "s.parquet"), "eval", str(root / "eval"))
    return root / "eval"


def _served_critic(server, prefix: str = "") -> list[str]:
    return [f"--{prefix}engine", "openai", f"--{prefix}base_url", server.base_url, f"--{prefix}model", "sft-critic"]


def test_eval_critic_reads_an_sft_critics_verdicts(sft_critic, eval_data, tmp_path):
    out = tmp_path / "report.json"
    argv = ["eval", "critic", "--data", str(eval_data), "--swap", "true", *_served_critic(sft_critic)]
    assert main([*argv, "--out", str(out)]) == 0
    judgments = [json.loads(line) for line in out.with_suffix(".judgments.jsonl").read_text().splitlines()]
    pairs = [j for j in judgments if j["order"] != "pointwise"]
    scores = [j for j in judgments if j["order"] == "pointwise"]
    assert len(pairs) > 20 and len(scores) >= 3
    assert all(j["verdict"] == read_verdict(j["raw"]) is not None for j in pairs)
    assert all(j["score"] == read_score(j["raw"]) is not None for j in scores)
    assert "\\boxed" not in "".join(j["raw"] for j in judgments)
    report = json.loads(out.read_text())
    assert report["pairwise"]["parse_failure_rate"] == 0.0


@pytest.mark.parametrize("strategy", ["knockout", "round_robin", "pointwise"])
def test_best_of_n_reads_an_sft_critics_verdicts(strategy, sft_critic, tmp_path):
    out = tmp_path / "picks.jsonl"
    argv = ["best-of-n", "--model", "tiny", "--input", str(ROOT / "examples/questions.jsonl"), "--n", "3"]
    argv += ["--max_new_tokens", "6", "--strategy", strategy, *_served_critic(sft_critic, "critic_")]
    assert main([*argv, "--out", str(out)]) == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    judgments = [judgment for record in records for judgment in record["judgments"]]
    assert len(records) == 4 and judgments
    for judgment in judgments:
        if judgment["kind"] == "pair":
            assert judgment["verdict"] == read_verdict(judgment["raw"]) is not None
        else:
            assert judgment["score"] == read_score(judgment["raw"]) is not None


def test_the_critic_judge_reward_reads_an_sft_critics_verdicts(sft_critic):
    from rl_critic.critique.reward import CriticJudgeReward, CriticRewardArguments

    args = CriticRewardArguments(critic_model="sft-critic", critic_engine="openai", critic_base_url=sft_critic.base_url)
    reward = CriticJudgeReward(args)
    metrics: dict[str, float] = {}
    prompt = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What colour is it?"}]}]
    completions = ["It is red, a bright red circle.", "Blue.", "It is red."]  # the stub prefers the longer
    rewards = reward(
        prompts=[prompt] * 3,
        completions=completions,
        images=[[shape_image()]] * 3,
        log_metric=lambda name, value: metrics.__setitem__(name, value),
    )
    assert (
        metrics["critic_judge/parse_failure_rate"] == 0.0 and metrics["critic_judge/judgments"] == 6
    )  # 3 x 2 ordered pairs
    assert rewards[0] > rewards[2] > rewards[1]
