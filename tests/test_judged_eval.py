"""Issue 45 (first part): `eval policy --grading judge --judge_mode reference`, LLaVA-Bench-in-the-Wild's measure,
on a benchmark folder in its published layout (made here, not copied), with a scripted judge and with the tiny
critic itself."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rl_critic.evaluation.judged import reference_report, review_prompt, review_scores
from tests.cli_batch import Command, run_commands
from tests.conftest import shape_image

COLOURS = {"red": (220, 30, 30), "blue": (30, 60, 220), "green": (30, 160, 60)}


def write_llava_bench(folder: Path) -> Path:
    """LLaVA-Bench-in-the-Wild's layout: questions.jsonl, context.jsonl, answers_gpt4.jsonl, images/ (7 questions
    over the three categories, one asking for an unreadable review)."""
    (folder / "images").mkdir(parents=True)
    questions, contexts, answers = [], [], []
    for index, (colour, rgb) in enumerate(COLOURS.items()):
        image = f"{index:03d}.jpg"
        shape_image(112, 112, rgb).convert("RGB").save(folder / "images" / image)
        contexts.append({"id": f"{index:03d}", "image": image, "caption": [f"A {colour} circle.", "White background."]})
    asked = [
        ("conv", 0, "What colour is the circle?", "The circle is red."),
        ("conv", 1, "What colour is the circle?", "It is blue."),
        ("detail", 2, "Describe the image in detail.", "A green circle sits in the middle of a white square."),
        ("detail", 0, "Describe the image.", "A red disc on white."),
        ("complex", 1, "Why might someone draw a blue circle?", "To mark a spot on a map or a diagram."),
        ("complex", 2, "UNREADABLE: what is the circle for?", "It could be a button."),
        ("complex", 0, "Is the circle warm or cold in colour?", "Red is a warm colour."),
    ]
    for question_id, (category, image, text, reference) in enumerate(asked):
        questions.append({"image": f"{image:03d}.jpg", "text": text, "category": category, "question_id": question_id})
        answers.append({"question_id": question_id, "prompt": text, "text": reference, "answer_id": f"a{question_id}"})
    for name, rows in (("questions", questions), ("context", contexts), ("answers_gpt4", answers)):
        (folder / f"{name}.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    return folder


def test_review_scores_read_the_first_line_as_llava_does():
    assert review_scores("8 6\nAssistant 1 is better.") == (8.0, 6.0)
    assert review_scores("7.5, 9\nbecause") == (7.5, 9.0)
    assert review_scores("<think>scores</think> \\boxed{7 5}") == (7.0, 5.0)
    assert review_scores("Both are fine.\nNo scores.") is None


def test_reference_report_is_summarize_gpt_reviews_formula():
    reviews = [
        {"category": "conv", "scores": (8.0, 6.0)},
        {"category": "conv", "scores": (9.0, 3.0)},
        {"category": "detail", "scores": (7.0, 7.0)},
        {"category": "detail", "scores": None},
    ]
    report = reference_report(reviews)
    # independently: conv means 8.5 / 4.5 -> 52.9; detail 7 / 7 -> 100.0; all (8+9+7)/3 = 8.0, (6+3+7)/3 = 5.333
    assert report["conv"] == {
        "questions": 2,
        "unreadable": 0,
        "reference_mean": 8.5,
        "policy_mean": 4.5,
        "relative": 52.9,
    }
    assert report["detail"]["unreadable"] == 1 and report["detail"]["relative"] == 100.0
    assert report["all"]["reference_mean"] == 8.0 and report["all"]["policy_mean"] == 5.333
    assert report["all"]["relative"] == round(100 * 5.333 / 8.0, 1) == 66.7
    assert list(report) == ["conv", "detail", "all"]
    assert reference_report([{"category": "conv", "scores": None}])["all"]["relative"] is None


def test_eval_policy_judges_llava_bench_with_a_scripted_and_a_tiny_critic(tmp_path):
    bench = write_llava_bench(tmp_path / "llava-bench-in-the-wild")
    scripted, tiny = tmp_path / "scripted" / "report.json", tmp_path / "tiny" / "report.json"
    base = ["eval", "policy", "--model", "tiny", "--data", str(bench), "--grading", "judge", "--max_new_tokens", "8"]
    results = run_commands(
        [
            Command([*base, "--critic_class", "tests.helpers.ReviewJudge", "--out", str(scripted)]),
            Command([*base, "--critic_model", "tiny", "--critic_max_new_tokens", "8", "--out", str(tiny)]),
            Command([*base, "--n", "3", "--out", str(tmp_path / "n3.json")]),
            Command(
                [*base, "--critic_model", "tiny", "--critic_max_new_tokens", "8", "--critic_unreadable_ok", "true"]
                + ["--out", str(tiny)]
            ),
        ]
    )
    assert results[0].returncode == 0, results[0].stderr[-2000:]
    report = json.loads(scripted.read_text())
    reviews = [json.loads(line) for line in (scripted.parent / "report.judgments.jsonl").read_text().splitlines()]
    assert report["grading"] == "judge" and report["judge_mode"] == "reference" and report["questions"] == 7
    # independently of rl_critic: the scripted rule, summarize_gpt_review.py's formula
    expected: dict[str, list[tuple[float, float]]] = {}
    for review in reviews:
        assert review["reference"] and review["answer"] is not None
        if "UNREADABLE" in review["question"]:
            continue
        pair = (8.0, float((len(review["answer"]) + len(review["question"])) % 10 + 1))
        expected.setdefault(review["category"], []).append(pair)
        expected.setdefault("all", []).append(pair)
    for name, pairs in expected.items():
        means = [round(sum(p[k] for p in pairs) / len(pairs), 3) for k in (0, 1)]
        got = report["scores"][name]
        assert (got["reference_mean"], got["policy_mean"]) == tuple(means), (name, got)
        assert got["relative"] == round(means[1] / means[0] * 100, 1), (name, got)
    assert report["scores"]["complex"]["unreadable"] == 1 and report["scores"]["all"]["questions"] == 7
    assert "relative" in (scripted.parent / "report.md").read_text()
    # the judge was asked in LLaVA-Bench's review layout, the reference as Assistant 1
    first = next(review for review in reviews if review["id"] == "0")
    assert first["review"].startswith("8 ")
    # the untrained tiny critic's reviews hold no scores: its first batch reads none, so the run stops in one line
    # naming the likely cause; told to go on, every review is counted unreadable, nothing averaged, and it says so
    stopped = results[1].stderr.strip().splitlines()[-1]
    assert results[1].returncode == 1 and "Traceback" not in results[1].stderr, results[1].stderr[-2000:]
    assert "the critic's first 7 judgments gave no readable verdict, so the run stopped there" in stopped
    assert "used all 8 tokens (--critic_max_new_tokens)" in stopped and "--critic_unreadable_ok true" in stopped
    assert results[3].returncode == 0, results[3].stderr[-2000:]
    tiny_report = json.loads(tiny.read_text())
    assert tiny_report["scores"]["all"] == {"questions": 7, "unreadable": 7, "relative": None}
    last = results[3].stdout.strip().splitlines()[-1]
    assert last.startswith("7 of 7 critic verdicts (100%) could not be read: 7 of them used all 8 tokens"), last
    one_line = results[2].stderr.strip().splitlines()[-1]
    assert results[2].returncode != 0 and "--grading judge scores one answer per question" in one_line


def test_the_review_prompt_is_llava_benchs_layout():
    prompt = review_prompt("A red circle.", "What colour?", "Red.", "Blue.", "conv")
    assert prompt.startswith("[Context]\nA red circle.\n\n[Question]\nWhat colour?\n\n[Assistant 1]\nRed.\n\n")
    assert "[End of Assistant 2]\n\n[System]\nWe would like to request your feedback" in prompt
    assert "represented with a few sentences describing the image" in prompt
    assert "represented with a few sentences" not in review_prompt("", "q", "a", "b", "other")


@pytest.mark.parametrize("missing", ["context.jsonl", "answers_gpt4.jsonl"])
def test_a_folder_without_the_benchmark_files_is_not_read_as_the_benchmark(tmp_path, missing):
    from rl_critic.evaluation.judged import is_llava_bench

    bench = write_llava_bench(tmp_path / "bench")
    assert is_llava_bench(str(bench))
    (bench / missing).unlink()
    assert not is_llava_bench(str(bench))


def test_a_served_judge_reviews_and_an_unreachable_one_is_one_line_then_the_run_resumes(tmp_path):
    from tests.servers import StubServer, free_port

    bench = write_llava_bench(tmp_path / "bench")
    out = tmp_path / "served" / "report.json"
    base = ["eval", "policy", "--model", "tiny", "--data", str(bench), "--grading", "judge", "--max_new_tokens", "8"]
    served = ["--critic_engine", "openai", "--critic_model", "sft-critic", "--out", str(out), "--chunk", "7"]
    gone = f"http://127.0.0.1:{free_port()}/v1"
    with StubServer("sft-critic") as server:
        results = run_commands(
            [
                Command([*base, *served, "--critic_base_url", gone, "--critic_max_retries", "0"]),
                Command([*base, *served, "--critic_base_url", server.base_url]),
            ]
        )
    failed, resumed = results
    assert failed.returncode == 1 and "Traceback" not in failed.stderr, failed.stderr[-1500:]
    assert (
        failed.last_line.startswith("rl-critic eval: error: no OpenAI-compatible server answers")
        and gone in failed.last_line
    ), failed.last_line
    assert resumed.returncode == 0, resumed.stderr[-1500:]
    assert "resuming: 7 question(s) already done" in resumed.stdout, resumed.stdout  # the answers were kept
    report = json.loads(out.read_text())
    reviews = [json.loads(line) for line in (out.parent / "report.judgments.jsonl").read_text().splitlines()]
    pairs = [(len(r["reference"]) % 10 + 1.0, len(r["answer"]) % 10 + 1.0) for r in reviews]  # the stub's rule
    means = [round(sum(pair[k] for pair in pairs) / len(pairs), 3) for k in (0, 1)]
    assert report["scores"]["all"]["relative"] == round(means[1] / means[0] * 100, 1) and report["questions"] == 7
    assert not list(out.parent.glob(".*journal*")), list(out.parent.iterdir())  # journals gone when done


MMHAL_TYPES = ("attribute", "adversarial", "comparison", "counting", "relation", "environment", "holistic", "other")


def write_mmhal(folder: Path) -> Path:
    """MMHal-Bench's layout: response_template.json (its fields) and the pictures under images/ named after
    `image_src`; 10 questions over the 8 question types, one asking for an unreadable rating."""
    (folder / "images").mkdir(parents=True)
    records = []
    for index in range(10):
        colour, rgb = list(COLOURS.items())[index % 3]
        name = f"{index:04d}_photo_o.jpg"
        shape_image(112, 112, rgb).convert("RGB").save(folder / "images" / name)
        question = (
            "UNREADABLE: what is shown?" if index == 9 else f"What colour is shape {'very ' * (index % 4)}{index}?"
        )
        records.append(
            {
                "question_type": MMHAL_TYPES[index % 8],
                "question_topic": "shapes",
                "image_id": f"{index:04d}",
                "image_src": f"https://example.invalid/photos/{name}",
                "image_content": ["Circle", colour.title()],
                "question": question,
                "gt_answer": f"The circle is {colour}.",
                "model_answer": "",
            }
        )
    (folder / "response_template.json").write_text(json.dumps(records, indent=2))
    return folder


def test_eval_policy_rates_mmhal_answers(tmp_path):
    from rl_critic.evaluation.judged import mmhal_rating

    assert mmhal_rating("Explanation.\nRating: 4, somewhat informative") == 4
    assert mmhal_rating("rating: 0") == 0 and mmhal_rating("Rating: 2 or Rating: 5") is None
    assert mmhal_rating("no rating") is None
    bench = write_mmhal(tmp_path / "MMHal-Bench")
    out, tiny = tmp_path / "mmhal" / "report.json", tmp_path / "tiny" / "report.json"
    base = ["eval", "policy", "--model", "tiny", "--data", str(bench), "--grading", "judge", "--judge_mode", "score"]
    base += ["--max_new_tokens", "8"]
    results = run_commands(
        [
            Command([*base, "--critic_class", "tests.helpers.RatingJudge", "--out", str(out)]),
            Command(
                [*base, "--critic_model", "tiny", "--critic_max_new_tokens", "8", "--critic_unreadable_ok", "true"]
                + ["--out", str(tiny)]
            ),
        ]
    )
    assert results[0].returncode == 0, results[0].stderr[-2000:]
    report = json.loads(out.read_text())
    reviews = [json.loads(line) for line in (out.parent / "report.judgments.jsonl").read_text().splitlines()]
    assert report["judge_mode"] == "score" and report["questions"] == 10 and len(reviews) == 10
    # independently: the scripted rule, then eval_gpt_mmhal.py's formulas (the unreadable one left out)
    ratings: dict[str, list[int]] = {}
    for review in reviews:
        if "UNREADABLE" not in review["question"]:
            rating = (len(review["answer"]) + len(review["question"])) % 7
            ratings.setdefault(review["category"], []).append(rating)
            ratings.setdefault("all", []).append(rating)
    for name, values in ratings.items():
        got = report["scores"][name]
        assert got["mean_rating"] == round(sum(values) / len(values), 3), (name, got)
        assert got["hallucination_rate"] == round(sum(v < 3 for v in values) / len(values), 3), (name, got)
    assert report["scores"]["all"]["unreadable"] == 1 and set(report["scores"]) == {*MMHAL_TYPES, "all"}
    assert results[1].returncode == 0, results[1].stderr[-2000:]
    assert json.loads(tiny.read_text())["scores"]["all"] == {"questions": 10, "unreadable": 10}


def _pearson(x, y):
    import numpy as np

    return float(np.corrcoef(x, y)[0, 1])


def _kendall_tau_b(x, y):
    from itertools import combinations

    signs = [((a1 > a2) - (a1 < a2), (b1 > b2) - (b1 < b2)) for (a1, b1), (a2, b2) in combinations(zip(x, y), 2)]
    s = sum(p * q for p, q in signs)
    return s / ((sum(p != 0 for p, _ in signs) * sum(q != 0 for _, q in signs)) ** 0.5)


def test_agreement_with_another_judges_reviews(tmp_path):
    """Item-level agreement with another judge's reviews: LLaVA's review JSONL for LLaVA-Bench (an unreadable one,
    -1 -1, left out), MMHal-Bench's saved GPT-4 completions for MMHal; checked against numpy's Pearson and a
    tau-b computed here."""
    bench, mmhal = write_llava_bench(tmp_path / "bench"), write_mmhal(tmp_path / "mmhal-bench")
    gpt4_reviews = tmp_path / "reviews_gpt4.jsonl"
    other = {0: 7, 1: 3, 2: 9, 3: 4, 4: 6, 5: -1, 6: 2}
    gpt4_reviews.write_text(
        "".join(
            json.dumps({"question_id": q, "category": "x", "tuple": [8, s if s >= 0 else -1]}) + "\n"
            for q, s in other.items()
        )
    )
    gpt4_ratings = tmp_path / "mmhal_gpt4.json"
    completions = [{"choices": [{"message": {"content": f"Fine. Rating: {i % 7}"}}]} for i in range(9)]
    completions.append({"choices": [{"message": {"content": "no rating"}}]})
    gpt4_ratings.write_text(json.dumps(completions))
    out, mmhal_out = tmp_path / "ref" / "report.json", tmp_path / "score" / "report.json"
    common = ["eval", "policy", "--model", "tiny", "--grading", "judge", "--max_new_tokens", "8"]
    results = run_commands(
        [
            Command(
                [*common, "--data", str(bench), "--critic_class", "tests.helpers.ReviewJudge"]
                + ["--agree_with", str(gpt4_reviews), "--out", str(out)]
            ),
            Command(
                [*common, "--data", str(mmhal), "--judge_mode", "score", "--critic_class", "tests.helpers.RatingJudge"]
                + ["--agree_with", str(gpt4_ratings), "--out", str(mmhal_out)]
            ),
            Command(
                [
                    *common,
                    "--data",
                    str(bench),
                    "--agree_with",
                    str(tmp_path / "none.jsonl"),
                    "--out",
                    str(tmp_path / "x.json"),
                ]
            ),
        ]
    )
    for result, report_path, theirs in ((results[0], out, other), (results[1], mmhal_out, None)):
        assert result.returncode == 0, result.stderr[-2000:]
        report = json.loads(report_path.read_text())
        reviews = [
            json.loads(line) for line in (report_path.parent / "report.judgments.jsonl").read_text().splitlines()
        ]
        if theirs is None:
            theirs = {i: i % 7 for i in range(9)}
            ours = {int(r["id"]): r["rating"] for r in reviews if r.get("rating") is not None}
        else:
            theirs = {q: s for q, s in theirs.items() if s >= 0}
            ours = {int(r["id"]): r["scores"][1] for r in reviews if r.get("scores")}
        both = sorted(set(ours) & set(theirs))
        x, y = [ours[q] for q in both], [theirs[q] for q in both]
        agreement = report["agreement"]
        assert agreement["items"] == len(both) and agreement["pearson"] == round(_pearson(x, y), 4), (agreement, x, y)
        assert agreement["kendall_tau"] == round(_kendall_tau_b(x, y), 4), (agreement, x, y)
    assert (
        results[2].returncode == 1 and "--agree_with" in results[2].last_line and "no such file" in results[2].last_line
    )
    assert "answering" not in results[2].stderr  # refused before any model loaded


def write_wildvision(folder: Path) -> tuple[Path, Path]:
    """WildVision-Bench's layout: the questions as its dataset holds them (`question_id`, `instruction`, `image`),
    saved as parquet, and a baseline's model answers JSONL (`question_id`, `instruction`, `output`, `model`,
    `language`, `token_len`)."""
    from datasets import Dataset, Features, Image, Value

    folder.mkdir(parents=True)
    questions, answers = [], []
    outputs = ["x", "A much longer baseline answer than the policy will give.", "No.", "Equal?", "Short.", "?", "Blue."]
    for index, output in enumerate(outputs):
        colour, rgb = list(COLOURS.items())[index % 3]
        instruction = "UNREADABLE: what is it?" if index == 6 else f"What is in picture {index}?"
        questions.append(
            {"question_id": f"q{index:02d}", "instruction": instruction, "image": shape_image(84, 84, rgb)}
        )
        answers.append(
            {"question_id": f"q{index:02d}", "instruction": instruction, "output": output, "model": "baseline-7b"}
            | {"language": "English", "token_len": len(output.split())}
        )
    features = Features({"question_id": Value("string"), "instruction": Value("string"), "image": Image()})
    Dataset.from_list(questions, features=features).to_parquet(str(folder / "test.parquet"))
    baseline = folder / "baseline-7b.jsonl"
    baseline.write_text("".join(json.dumps(row) + "\n" for row in answers[:-1] + answers[-1:]))
    return folder / "test.parquet", baseline


def test_eval_policy_pairwise_against_baselines(tmp_path):
    import math

    data, baseline = write_wildvision(tmp_path / "wildvision")
    wordy = tmp_path / "wordy.jsonl"  # a second baseline: every answer padded, so it wins more games
    rows = [json.loads(line) for line in baseline.read_text().splitlines()]
    wordy.write_text(
        "".join(json.dumps({**row, "output": row["output"] + " " * 9, "model": "wordy"}) + "\n" for row in rows)
    )
    out = tmp_path / "pairwise" / "report.json"
    base = ["eval", "policy", "--model", "tiny", "--data", str(data), "--grading", "judge", "--judge_mode", "pairwise"]
    base += ["--max_new_tokens", "8"]
    results = run_commands(
        [
            Command(
                [*base, "--baseline", str(baseline), str(wordy), "--critic_class", "tests.helpers.LengthLabelJudge"]
                + ["--out", str(out)]
            ),
            Command([*base, "--critic_class", "tests.helpers.LengthLabelJudge", "--out", str(tmp_path / "x.json")]),
            Command(
                [*base, "--baseline", str(baseline), "--critic_class", "tests.helpers.ReviewJudge"]
                + ["--out", str(tmp_path / "y.json")]
            ),
        ]
    )
    assert results[0].returncode == 0, results[0].stderr[-2000:]
    report = json.loads(out.read_text())
    reviews = [json.loads(line) for line in (out.parent / "report.judgments.jsonl").read_text().splitlines()]
    assert report["baselines"] == ["baseline-7b", "wordy"] and report["questions"] == 7
    ratings = {entry["model"]: entry for entry in report["scores"]["ranking"]}
    for name in ("baseline-7b", "wordy"):
        # independently: the longer answer wins each game, whatever the label's strength; the policy as B, then as A
        outcomes = {"policy_second": [], "policy_first": []}
        for review in reviews:
            if "UNREADABLE" in review["question"]:
                continue
            mine, theirs = len(review["answer"]), len(review["baselines"][name])
            outcome = 0.5 if mine == theirs else float(mine > theirs)
            outcomes["policy_second"].append(outcome)
            outcomes["policy_first"].append(outcome)
        every = outcomes["policy_second"] + outcomes["policy_first"]
        scores = report["scores"]["by_baseline"][name]
        assert (scores["games"], scores["unreadable"]) == (14, 2)
        wins, ties, losses = every.count(1.0), every.count(0.5), every.count(0.0)
        assert (scores["wins"], scores["ties"], scores["losses"]) == (wins, ties, losses)
        assert scores["win_rate"] == round(sum(every) / len(every), 4)
        for order, values in outcomes.items():
            assert scores[f"win_rate_{order}"] == round(sum(values) / len(values), 4)
        low, high = scores["win_rate_interval"]
        assert 0 <= low <= scores["win_rate"] <= high <= 1
        # each baseline meets only the policy: the Bradley-Terry odds are the win ratio (0.1-game tie prior)
        expected = 400 * math.log10((wins + ties / 2 + 0.05) / (losses + ties / 2 + 0.05))
        assert ratings["tiny"]["rating"] - ratings[name]["rating"] == pytest.approx(expected, abs=0.11)
    figure = out.parent / "report.ranking.png"
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and str(figure) in results[0].stdout
    order = [entry["model"] for entry in report["scores"]["ranking"]]
    assert order.index("wordy") < order.index("baseline-7b")  # the padded answers win more: ranked above
    assert all(e["interval"][0] <= e["rating"] <= e["interval"][1] for e in report["scores"]["ranking"])
    assert results[1].returncode == 1 and "pass --baseline FILE.jsonl" in results[1].last_line
    assert "answering" not in results[1].stderr  # refused before any model loaded
    assert results[2].returncode == 1 and "has no `compare` method" in results[2].last_line, results[2].stderr[-800:]


def test_pairwise_agreement_between_two_judges_at_game_and_model_level(tmp_path):
    """The same games judged by a judge and by its opposite: Pearson and Kendall's tau -1 over the games, and the
    model-level ranking (three models) reversed; against itself, +1."""
    data, baseline = write_wildvision(tmp_path / "wildvision")
    wordy = tmp_path / "wordy.jsonl"
    rows = [json.loads(line) for line in baseline.read_text().splitlines()]
    wordy.write_text("".join(json.dumps({**row, "output": row["output"] * 3, "model": "wordy"}) + "\n" for row in rows))
    first, same, opposite = (tmp_path / name / "report.json" for name in ("first", "same", "opposite"))
    base = ["eval", "policy", "--model", "tiny", "--data", str(data), "--grading", "judge", "--judge_mode", "pairwise"]
    base += ["--max_new_tokens", "8", "--baseline", str(baseline), str(wordy)]
    agree = ["--agree_with", str(first.parent / "report.judgments.jsonl")]
    results = run_commands(
        [
            Command([*base, "--critic_class", "tests.helpers.LengthLabelJudge", "--out", str(first)]),
            Command([*base, "--critic_class", "tests.helpers.LengthLabelJudge", *agree, "--out", str(same)]),
            Command([*base, "--critic_class", "tests.helpers.ShortLabelJudge", *agree, "--out", str(opposite)]),
        ]
    )
    for result in results:
        assert result.returncode == 0, result.stderr[-2000:]
    agreed, disagreed = (json.loads(path.read_text())["agreement"] for path in (same, opposite))
    assert agreed["items"] == disagreed["items"] == 24  # 6 readable questions x 2 baselines x 2 orders
    assert (agreed["pearson"], agreed["kendall_tau"]) == (1.0, 1.0)
    assert (disagreed["pearson"], disagreed["kendall_tau"]) == (-1.0, -1.0)
    assert agreed["model_level"] == {"models": 3, "pearson": 1.0, "kendall_tau": 1.0}
    assert disagreed["model_level"]["models"] == 3 and disagreed["model_level"]["kendall_tau"] == -1.0


def test_answer_and_review_files_that_do_not_read_are_one_line(tmp_path):
    from rl_critic.evaluation.judged import other_judge_scores, read_baseline
    from rl_critic.ground.errors import UserError

    broken, number = tmp_path / "broken.jsonl", tmp_path / "number.jsonl"
    broken.write_text('{"question_id": "a", "output": "x"}\n{not json\n')
    number.write_text('{"question_id": "a", "output": "x"}\n\n5\n')
    with pytest.raises(UserError, match=r"--baseline .*broken.jsonl line 2 is not JSON"):
        read_baseline(str(broken))
    with pytest.raises(UserError, match=r"--agree_with .*number.jsonl line 3 is not a JSON object"):
        other_judge_scores(str(number))
