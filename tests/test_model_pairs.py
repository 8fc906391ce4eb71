"""`make-pairs` and the random judge: critic data from a policy's own answers, and the critic-DPO control."""

from __future__ import annotations

import random
import re
from collections import Counter

from PIL import Image

from data_converters.layouts import PAIR_STYLES
from rl_critic.critique.judge import RandomJudge
from rl_critic.critique.judgments import PairRequest
from rl_critic.critique.model_pairs import question_pairs
from rl_critic.critique.problem import Problem
from rl_critic.critique.questions import Question


def _question(candidates, answer="The circle is red.", images=1):
    image = Image.new("RGB", (28, 28), "red")
    problem = Problem("What colour is the circle?", list(candidates), [image] * images)
    return Question("q1", problem, answer)


def test_pairs_put_a_right_and_a_wrong_answer_in_the_113k_layout():
    counts = Counter()
    samples = ["The circle is red.", "The circle is blue.", "The square is red.", "The circle is blue."]
    rows = question_pairs(_question(samples), 3, random.Random(0), counts=counts)
    assert len(rows) == 2  # two distinct wrong answers, one pair each
    assert counts == Counter({"samples right": 1, "samples wrong": 3, "questions with pairs": 1})
    for row in rows:
        human, gpt = (turn["value"] for turn in row["conversations"])
        assert human.startswith("<image>\n") and "Question: [What colour is the circle?]" in human
        responses = re.findall(r": \[(.+?)\]\n", human.split("Question:")[1])
        assert "The circle is red." in responses and len(set(responses)) == 2
        right = responses.index("The circle is red.")
        style = next(s for s in PAIR_STYLES if f"{s[0]}: [" in human)
        assert gpt.startswith("The image shows that the circle is red. ")
        assert gpt.endswith(f"The better response: [{style[2 + right]}]")
        claims = re.findall(r"says (.+?), which is (right|wrong)\.", gpt)
        assert [verdict for _, verdict in claims] == ["right" if i == right else "wrong" for i in range(2)]
        assert row["image"]["bytes"][:4] == b"\x89PNG" and row["source"] == "model-answers"


def test_no_right_sample_pairs_the_reference_and_unusable_questions_are_counted():
    counts = Counter()
    samples = ["The circle is blue.", "The circle is green."]
    rows = question_pairs(_question(samples), 1, random.Random(1), counts=counts)
    assert len(rows) == 1 and "The circle is red." in rows[0]["conversations"][0]["value"]
    assert counts["no sample right: the reference answer is the right response"] == 1
    assert question_pairs(_question(["The circle is red."] * 2), 1, random.Random(0), counts=counts) == []
    assert question_pairs(_question(["a", "b"], answer=None), 1, random.Random(0), counts=counts) == []
    assert question_pairs(_question(["a", "b"], images=2), 1, random.Random(0), counts=counts) == []
    assert counts["every sample right"] == 1 and counts["no reference answer"] == 1
    assert counts["not exactly one image (the 113k schema has one)"] == 1


def test_random_judge_flips_a_seeded_coin():
    requests = [PairRequest("q", "a", "b", []) for _ in range(200)]
    verdicts = [j.verdict for j in RandomJudge(seed=3).compare(requests)]
    assert verdicts == [j.verdict for j in RandomJudge(seed=3).compare(requests)]
    assert 60 < verdicts.count("1") < 140 and set(verdicts) == {"1", "2"}
    assert RandomJudge(seed=4).compare(requests[:1])[0].raw.startswith("random verdict: \\boxed{")


def test_make_pairs_with_no_pair_to_make_is_one_line_and_writes_nothing(capsys, tmp_path):
    from rl_critic.cli import main

    questions = tmp_path / "q.jsonl"
    questions.write_text('{"id": "a", "image": "none.png", "question": "What colour?"}\n')
    out = tmp_path / "pairs.parquet"
    assert main(["make-pairs", "--input", str(questions), "--out", str(out), "--n", "2"]) == 1
    err = capsys.readouterr().err  # the loading and sampling progress bars, then the one error line
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == (
        "rl-critic make-pairs: error: no pair made: {'unusable question': 1} (nothing written); "
        "e.g. a: cannot read image: image file not found: none.png"
    )
    assert list(tmp_path.iterdir()) == [questions]
