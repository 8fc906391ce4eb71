"""Evaluation: metrics on hand-computed values, `eval critic` over every source, swap, blank images, CLI."""

from __future__ import annotations

import base64
import io
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from data_converters.convert import convert
from data_converters.io import load_any
from rl_critic.critique.judge import Judge
from rl_critic.evaluation import metrics
from rl_critic.evaluation.critic import eval_critic
from rl_critic.generation.hf import HFEngine
from rl_critic.generation.settings import SamplingSettings
from rl_critic.models.loader import ModelArguments, load_model_and_processor
from tests.conftest import shape_image
from tests.test_best_of_n import ScriptedJudge

ROOT = Path(__file__).resolve().parent.parent


def test_pairwise_accuracy_strict_lenient_with_and_without_ties():
    labels, verdicts = ["1", "2", "1", "tie"], ["1", None, "2", "tie"]
    assert metrics.pairwise_accuracy(labels, verdicts, strict=True) == 0.5
    assert metrics.pairwise_accuracy(labels, verdicts, strict=False) == pytest.approx(2 / 3)
    assert metrics.pairwise_accuracy(labels, verdicts, strict=True, with_ties=False) == pytest.approx(1 / 3)
    assert metrics.pairwise_accuracy(labels, verdicts, strict=False, with_ties=False) == 0.5
    assert metrics.pairwise_accuracy(["1"], [None], strict=False) is None
    assert metrics.parse_failure_rate(verdicts) == 0.25


def test_correlations_macro_consistency_and_elo():
    assert metrics.pearson([1, 2, 3], [2, 4, 6]) == pytest.approx(1.0)
    assert metrics.pearson([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert metrics.pearson([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(0.8)
    assert metrics.pearson([1, 1], [2, 3]) is None
    assert metrics.kendall_tau([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(4 / 6)
    assert metrics.kendall_tau([1, 1, 2], [1, 2, 3]) == pytest.approx(2 / (3 * 2) ** 0.5)  # tau-b with a tie
    assert metrics.macro_average({"a": 1.0, "b": 0.5, "c": None}) == 0.75
    assert metrics.order_consistency(["1", "2", None], ["2", "2", "1"]) == pytest.approx(1 / 3)
    battles = [("A", "B", 1.0), ("B", "C", 1.0), ("A", "C", 1.0)] * 20 + [("A", "B", 0.5)]
    elo = metrics.bradley_terry(battles)
    assert elo["A"] > elo["B"] > elo["C"] and sum(elo.values()) == pytest.approx(3000)
    # two models: the maximum-likelihood odds are the win ratio (with the 0.1-game tie prior), in either order
    two = [("A", "B", 1.0)] * 30 + [("B", "A", 1.0)] * 10
    fit = metrics.bradley_terry(two)
    assert fit["A"] - fit["B"] == pytest.approx(400 * math.log10(30.05 / 10.05), abs=1e-6)
    assert metrics.bradley_terry(list(reversed(two))) == pytest.approx(fit)


def _data_uri() -> str:
    buffer = io.BytesIO()
    shape_image(56, 56).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


SOURCES = {
    "vl-rewardbench": lambda i, img: {
        "id": f"wildvision-{i}",
        "query": "Q?",
        "response": ["good", "bad"],
        "human_ranking": [0, 1] if i % 2 else [1, 0],
        "image": img,
    },
    "multimodal-rewardbench": lambda i, img: {
        "ID": f"m{i}",
        "Text": "Q?",
        "Image": img,
        "Output1": "a",
        "Output2": "b",
        "Better": "Output1",
        "Category": "safety",
    },
    "mm-rlhf-rewardbench": lambda i, img: {"id": f"r{i}", "prompt": "Q?", "chosen": "c", "rejected": "r", "image": img},
    "mllm-judge-pair": lambda i, img: {
        "instruction": "Q?",
        "image_path": img,
        "answer1": "x",
        "answer2": "y",
        "human_answer": "ABC"[i % 3],
    },
    "mllm-judge-score": lambda i, img: {"instruction": "Q?", "image_path": img, "answer": "x", "human": 1 + i % 5},
    "preference": lambda i, img: {"question": "Q?", "chosen": "c", "rejected": "r", "image": img},
}


@pytest.fixture(scope="module")
def eval_sets(tmp_path_factory) -> dict[str, Path]:
    root, image = tmp_path_factory.mktemp("eval"), _data_uri()
    sets = {}
    for source, make in SOURCES.items():
        (root / f"{source}.jsonl").write_text("".join(json.dumps(make(i, image)) + "\n" for i in range(6)))
        convert(source, str(root / f"{source}.jsonl"), "eval", str(root / source))
        sets[source] = root / source
    convert(
        "llava-critic-pointwise",
        str(ROOT / "examples/data/llava-critic-sample.parquet"),
        "eval",
        str(root / "llava-critic"),
        limit=12,
    )
    sets["llava-critic"] = root / "llava-critic"
    return sets


def test_eval_critic_runs_on_the_tiny_model_over_every_source(eval_sets):
    model, processor = load_model_and_processor(ModelArguments(model_name_or_path="tiny"))
    judge = Judge(HFEngine(model, processor), SamplingSettings(max_new_tokens=4), batch_size=8)
    judge.unreadable_ok = True  # an untrained critic: its answers hold no verdict
    for source, folder in eval_sets.items():
        dataset = load_any(str(folder))
        report, records = eval_critic(dataset, judge)
        assert report["rows"] == len(dataset), source
        section = report.get("pairwise") or report.get("pointwise")
        assert section["n"] > 0 and 0.0 <= section["parse_failure_rate"] <= 1.0
        assert len(records) == len(dataset) and all("raw" in r for r in records)
    groups = eval_critic(load_any(str(eval_sets["vl-rewardbench"])), judge)[0]["pairwise"]["groups"]
    assert set(groups) == {"general"}


def test_scripted_critic_scores_are_exact_and_swap_doubles_the_judgments(eval_sets):
    dataset = load_any(str(eval_sets["mm-rlhf-rewardbench"]))  # the chosen text is "c", the rejected "r"

    class PrefersC(ScriptedJudge):
        quality = staticmethod(lambda text: 1 if text == "c" else 0)

    judge = PrefersC()
    report, records = eval_critic(dataset, judge, swap=True)
    pairwise = report["pairwise"]
    assert pairwise["accuracy_with_ties_strict"] == 1.0 and pairwise["parse_failure_rate"] == 0.0
    assert pairwise["swap"] == {
        "order_consistency": 1.0,
        "accuracy_original_order_strict": 1.0,
        "accuracy_swapped_order_strict": 1.0,
    }
    assert len(judge.requests) == 2 * len(dataset) and len(records) == 2 * len(dataset)


def test_blank_image_replaces_every_image(eval_sets):
    seen = []

    class Spy(ScriptedJudge):
        quality = staticmethod(lambda text: 0)

        def compare(self, requests):
            seen.extend(image for r in requests for image in r.images)
            return super().compare(requests)

    dataset = load_any(str(eval_sets["preference"]))
    eval_critic(dataset, Spy(), blank_image=True)
    assert seen and all(image.getextrema() == ((255, 255), (255, 255), (255, 255)) for image in seen)
    seen.clear()
    report, _ = eval_critic(dataset, Spy())
    assert any(image.getextrema() != ((255, 255), (255, 255), (255, 255)) for image in seen)
    assert report["blank_image"] is False


def test_cli_writes_reports(eval_sets, tmp_path):
    script = Path(sys.executable).with_name("rl-critic")
    out = tmp_path / "critic" / "report.json"
    command = [
        str(script),
        "eval",
        "critic",
        "--data",
        str(eval_sets["llava-critic"]),
        "--out",
        str(out),
        "--max-new-tokens",
        "4",
        "--swap",
        "--blank-image",
        "--unreadable-ok",
        "true",
    ]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(out.read_text())
    assert report["swap"] and report["blank_image"] and "accuracy_with_ties_strict" in report["pairwise"]
    assert "| pairwise / accuracy_without_ties_lenient |" in (out.parent / "report.md").read_text()
    assert len((out.parent / "report.judgments.jsonl").read_text().splitlines()) >= report["rows"]
    out = tmp_path / "policy" / "report.json"
    # snake_case flags here, kebab-case above: both spellings run
    command = [
        str(script),
        "eval",
        "policy",
        "--data",
        str(ROOT / "examples/questions.jsonl"),
        "--out",
        str(out),
        "--max_new_tokens",
        "4",
        "--n",
        "3",
        "--critic_unreadable_ok",  # the untrained tiny model judges its own answers: no verdict to read
        "true",
    ]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(out.read_text())
    assert report["questions"] == 4 and report["n"] == 3 and "oracle (any correct)" in report
    bad = subprocess.run(
        [
            str(script),
            "eval",
            "critic",
            "--data",
            str(ROOT / "examples/questions.jsonl"),
            "--out",
            str(tmp_path / "x.json"),
        ],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 1 and "not converted eval data" in bad.stderr


def test_model_level_elo_and_kendall_tau_when_models_are_known(tmp_path):
    image, rows = _data_uri(), []
    for i, (strong, weak) in enumerate([("A", "B"), ("B", "C"), ("A", "C")] * 4):
        first_is_strong = i % 2 == 0  # the stronger model's answer is "good", shown first or second
        rows.append(
            {
                "id": f"wildvision-{i}",
                "query": "Q?",
                "image": image,
                "response": ["good", "bad"] if first_is_strong else ["bad", "good"],
                "models": [strong, weak] if first_is_strong else [weak, strong],
                "human_ranking": [0, 1] if first_is_strong else [1, 0],
            }
        )
    (tmp_path / "vl.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    convert("vl-rewardbench", str(tmp_path / "vl.jsonl"), "eval", str(tmp_path / "eval"))
    dataset = load_any(str(tmp_path / "eval"))
    for row in dataset:  # models follow their responses through the order randomisation
        assert row["models"][row["responses"].index("good")] in "AB" and len(row["models"]) == 2

    class PrefersGood(ScriptedJudge):
        quality = staticmethod(lambda text: 1 if text == "good" else 0)

    level = eval_critic(dataset, PrefersGood())[0]["model_level"]
    assert level["elo_human"]["A"] > level["elo_human"]["B"] > level["elo_human"]["C"]
    assert level["kendall_tau"] == pytest.approx(1.0)


def test_swap_responses_in_place():
    from rl_critic.evaluation.critic import swap_responses

    text = "Judge.\nQuestion: [Q]\nThe first response: [It is [red].]\nThe second response: [Blue.]\nThink."
    assert swap_responses(text, "It is [red].", "Blue.") == text.replace("[It is [red].]", "@").replace(
        "[Blue.]", "[It is [red].]"
    ).replace("@", "[Blue.]")
    block = "[Assistant 1]\nfoo\n\n[End of Assistant 1]\n\n[Assistant 2]\nbar\n\n[End]"
    expected = "[Assistant 1]\nbar\n\n[End of Assistant 1]\n\n[Assistant 2]\nfoo\n\n[End]"
    assert swap_responses(block, "foo", "bar") == expected
    assert swap_responses("no responses here", "a", "b") is None


def test_eval_critic_asks_with_each_rows_own_prompt(eval_sets):
    dataset = load_any(str(eval_sets["llava-critic"]))
    seen = []

    class Spy(ScriptedJudge):
        quality = staticmethod(lambda text: 0)

        def compare(self, requests):
            seen.append([r.prompt for r in requests])
            return super().compare(requests)

    report, _ = eval_critic(dataset, Spy(), swap=True)
    pair_rows = [r for r in dataset if r["task"] == "pairwise" and r["solution"] in ("1", "2", "tie")]
    forward, swapped = seen
    assert report["prompts"] == "row"
    assert forward == [r["prompt"][-1]["content"][-1]["text"] for r in pair_rows]
    for row, text in zip(pair_rows, swapped):
        first, second = row["responses"]
        assert text.index(second) < text.index(first) or first == second
    seen.clear()
    eval_critic(dataset, Spy(), own_prompt=False)
    assert all(prompt is None for prompt in seen[0])


def test_eval_critic_takes_a_judge_class_instead_of_a_model(eval_sets, tmp_path, capsys):
    """`--critic_class`: a rule-based judge is evaluated as a model is (no model loads); a judge without
    `score()` reports pointwise rows as rows it could not judge; a wrong path is one line."""
    from rl_critic.cli import main

    data = eval_sets["mm-rlhf-rewardbench"]
    out = tmp_path / "first" / "report.json"
    argv = ["eval", "critic", "--data", str(data), "--critic_class", "tests.helpers.AlwaysFirst", "--out", str(out)]
    assert main(argv) == 0
    report = json.loads(out.read_text())
    labels = load_any(str(data))["solution"]
    assert report["model"] == "tests.helpers.AlwaysFirst"
    assert report["pairwise"]["accuracy_with_ties_strict"] == pytest.approx(labels.count("1") / len(labels))
    out = tmp_path / "mixed" / "report.json"
    argv = ["eval", "critic", "--data", str(eval_sets["llava-critic"]), "--critic_class", "tests.helpers.AlwaysFirst"]
    assert main([*argv, "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    pointwise = sum(1 for task in load_any(str(eval_sets["llava-critic"]))["task"] if task == "pointwise")
    assert pointwise and report["errors"]["rows"] == pointwise
    assert "AlwaysFirst has no score(): it cannot judge a pointwise row" in report["errors"]["first"]
    capsys.readouterr()
    argv = ["eval", "critic", "--data", str(data), "--critic_class", "tests.helpers.Nope", "--out", str(tmp_path / "x")]
    assert main(argv) == 1
    assert "cannot import critic_class 'tests.helpers.Nope'" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_an_evaluation_that_judged_no_row_fails_with_the_reason(eval_sets, tmp_path, capsys):
    """Issue 43: every row too long for the critic (here: max_new_tokens over its positions) measured nothing; it
    said exit 0 and wrote a report of nothing."""
    from rl_critic.cli import main

    out = tmp_path / "r.json"
    argv = ["eval", "critic", "--data", str(eval_sets["llava-critic"]), "--out", str(out), "--max_new_tokens", "5000"]
    assert main(argv) == 1
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert " was judged (" in last and "too long for the critic, e.g. " in last and ": prompt too long: " in last
    assert last.endswith("): nothing measured") and not out.exists()
    assert not list(tmp_path.glob(".r.json*"))  # no journal, no lock left
