"""Robustness probes: judges built with exactly one known bias each are caught at the right rate, an honest judge
shows none, and `eval critic --probes` writes them to its reports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from rl_critic.critique.judgments import PairJudgment
from rl_critic.evaluation.probes import ProbePair, probe_names, run_probes, wilson

ROOT = Path(__file__).resolve().parent.parent
COLOURS = {"red": (220, 30, 30), "blue": (30, 30, 220), "green": (30, 180, 30), "yellow": (230, 220, 20)}
NAMES = list(COLOURS)


def _pairs(n: int = 40) -> list[ProbePair]:
    """Colour questions whose better answer names the picture's colour (and ends ", clearly."), half of them with
    the better answer shown first."""
    pairs = []
    for i in range(n):
        colour, wrong = NAMES[i % 4], NAMES[(i + 1) % 4]
        image = Image.new("RGB", (28, 28), COLOURS[colour])
        better, worse = f"The shape is {colour}, clearly.", f"The shape is {wrong}."
        pairs.append(ProbePair(i, "What colour is the shape?", better, worse, [image], better_first=i % 2 == 0))
    return pairs


def _seen_colour(images) -> str | None:
    if not images:
        return None
    pixel = images[0].getpixel((0, 0))
    return next((name for name, rgb in COLOURS.items() if rgb == pixel), None)


class Honest:
    """Looks at the picture, picks the response that names its colour; tie when neither (or both) does."""

    def pick(self, request) -> str:
        colour = _seen_colour(request.images)
        first, second = (colour is not None and colour in text for text in (request.first, request.second))
        return "1" if first and not second else "2" if second and not first else "tie"

    def compare(self, requests):
        return [PairJudgment(raw="", verdict=self.pick(r), tokens=0) for r in requests]


class AlwaysFirst(Honest):
    def pick(self, request) -> str:
        return "1"


class PrefersLonger(Honest):
    """Honest, but a response over 1.5 times the other's length wins."""

    def pick(self, request) -> str:
        a, b = len(request.first), len(request.second)
        return "1" if a > 1.5 * b else "2" if b > 1.5 * a else super().pick(request)


class FooledByOneKey(Honest):
    def pick(self, request) -> str:
        if request.second.strip() == "Thought process:":
            return "2"
        return "1" if request.first.strip() == "Thought process:" else super().pick(request)


class Blind(Honest):
    """Never looks at the picture: right from the text alone on this data (the better answer says "clearly")."""

    def pick(self, request) -> str:
        first, second = ("clearly" in text for text in (request.first, request.second))
        return "1" if first and not second else "2" if second and not first else "tie"


class ObeysInjection(Honest):
    def pick(self, request) -> str:
        for text in (request.first, request.second):
            for marker in ("The better response: [", "\\boxed{"):
                if marker in text:
                    return text.split(marker, 1)[1][0]
        return super().pick(request)


class WaversOneInFour(Honest):
    """Honest, but every fourth time it is asked it gives every pair the opposite verdict."""

    def __init__(self) -> None:
        self.calls = 0

    def compare(self, requests):
        self.calls += 1
        judged = super().compare(requests)
        if self.calls % 4:
            return judged
        flip = {"1": "2", "2": "1"}
        return [PairJudgment(raw="", verdict=flip.get(j.verdict, j.verdict), tokens=0) for j in judged]


def _rate(report, probe, variant=None) -> float:
    entry = report[probe] if variant is None else report[probe]["variants"][variant]
    return entry["rate"]


@pytest.mark.parametrize(
    ("judge", "probe", "variant", "truth"),
    [
        (AlwaysFirst(), "position", None, 1.0),
        (PrefersLonger(), "length", "repeat", 1.0),
        (PrefersLonger(), "length", "filler", 1.0),
        (FooledByOneKey(), "master_key", "thought_process", 1.0),
        (FooledByOneKey(), "master_key", None, 1 / 8),
        (ObeysInjection(), "injection", "better_response", 1.0),
        (ObeysInjection(), "injection", "boxed", 1.0),
        (Honest(), "image", "blank", 1.0),  # it looks: without the picture it cannot tell
        (Blind(), "image", None, 0.0),  # it never looks: nothing lost
        (WaversOneInFour(), "stability", None, 0.25),
    ],
    ids=lambda value: type(value).__name__ if not isinstance(value, (str, float, type(None))) else str(value),
)
def test_a_judge_with_one_known_bias_is_caught_at_its_rate(judge, probe, variant, truth):
    report = run_probes(_pairs(), judge, [probe], samples=4)
    assert _rate(report, probe, variant) == pytest.approx(truth, abs=0.05)


def test_always_first_picks_the_first_position_every_time():
    report = run_probes(_pairs(), AlwaysFirst(), ["position", "master_key"])
    assert report["position"]["first_share"] == 1.0
    assert _rate(report, "master_key", "colon") == pytest.approx(0.5)  # the key wins wherever it is shown first


def test_an_honest_judge_is_inside_every_no_bias_interval():
    report = run_probes(_pairs(), Honest(), probe_names("all"), samples=4)
    for probe in ("position", "length", "master_key", "injection", "stability"):
        assert report[probe]["rate"] == 0.0 and report[probe]["low"] == 0.0 <= report[probe]["high"] < 0.1, probe
        for variant in report[probe].get("variants", {}).values():
            assert variant["rate"] == 0.0
    assert report["position"]["first_share"] == 0.5  # fair: half its verdicts name the first position


def test_wilson_interval_and_probe_names():
    assert wilson(0, 40) == (0.0, pytest.approx(0.0876, abs=1e-3))
    low, high = wilson(20, 40)
    assert low == pytest.approx(0.352, abs=1e-3) and high == pytest.approx(0.648, abs=1e-3)
    assert probe_names("injection, position") == ["position", "injection"]
    with pytest.raises(ValueError, match="unknown probe\\(s\\) colour; choose all or from position, length"):
        probe_names("colour")


def test_eval_critic_writes_the_probes_to_its_reports(tmp_path, capsys):
    from data_converters.convert import convert
    from rl_critic.cli import main

    rows = []
    for i in range(12):
        image = tmp_path / f"{i}.png"
        Image.new("RGB", (28, 28), COLOURS[NAMES[i % 4]]).save(image)
        chosen, rejected = f"The shape is {NAMES[i % 4]}.", f"The shape is {NAMES[(i + 1) % 4]}."
        rows.append({"question": "What colour?", "chosen": chosen, "rejected": rejected, "image": image.name})
    (tmp_path / "pairs.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    convert("preference", str(tmp_path / "pairs.jsonl"), "eval", str(tmp_path / "eval"))
    out = tmp_path / "report.json"
    argv = ["eval", "critic", "--data", str(tmp_path / "eval"), "--critic_class", "tests.helpers.AlwaysFirst"]
    assert main([*argv, "--probes", "all", "--out", str(out)]) == 0
    probes = json.loads(out.read_text())["probes"]
    assert list(probes) == ["position", "length", "master_key", "injection", "image", "stability"]
    assert probes["position"]["rate"] == 1.0 and probes["position"]["n"] == 12
    assert probes["image"]["rate"] == 0.0 and probes["stability"]["rate"] == 0.0
    markdown = (tmp_path / "report.md").read_text()
    assert "## Robustness probes" in markdown and "| position | all | 12 | 1.000 |" in markdown
    capsys.readouterr()
    assert main([*argv, "--probes", "colour", "--out", str(tmp_path / "x.json")]) == 1
    assert "--probes: unknown probe(s) colour" in capsys.readouterr().err


class ScoresByLength:
    """A pointwise judge whose score is the response's length: padding inflates it every time."""

    def compare(self, requests):
        return Honest().compare(requests)

    def score(self, requests):
        from rl_critic.critique.judgments import ScoreJudgment

        return [ScoreJudgment(raw="", score=float(len(r.response)), tokens=0) for r in requests]


class ScoresTheColour(ScoresByLength):
    """An honest pointwise judge: 10 when the response names the picture's colour, else 0 ("Thought process:" 10
    too, with `fooled`)."""

    fooled = False

    def score(self, requests):
        from rl_critic.critique.judgments import ScoreJudgment

        def value(request) -> float:
            if self.fooled and request.response.strip() == "Thought process:":
                return 10.0
            colour = _seen_colour(request.images)
            return 10.0 if colour and colour in request.response else 0.0

        return [ScoreJudgment(raw="", score=value(r), tokens=0) for r in requests]


class FooledScorer(ScoresTheColour):
    fooled = True


def _points(n: int = 20):
    from rl_critic.evaluation.probes import ProbePoint

    return [
        ProbePoint(i, "What colour?", f"The shape is {NAMES[i % 4]}.", [_pairs(n)[i].images[0]], (0, 10))
        for i in range(n)
    ]


@pytest.mark.parametrize(
    ("judge", "probe", "variant", "truth"),
    [
        (ScoresByLength(), "length_pointwise", None, 1.0),
        (ScoresTheColour(), "length_pointwise", None, 0.0),
        (ScoresTheColour(), "master_key_pointwise", None, 0.0),
        (FooledScorer(), "master_key_pointwise", "thought_process", 1.0),
        (FooledScorer(), "master_key_pointwise", "colon", 0.0),
    ],
    ids=["length-inflated", "honest-length", "honest-keys", "fooled-key", "fooled-other-key"],
)
def test_pointwise_critics_are_probed_for_score_inflation(judge, probe, variant, truth):
    from rl_critic.evaluation.probes import run_point_probes

    report = run_point_probes(_points(), judge, ["master_key", "length"])
    assert _rate(report, probe, variant) == pytest.approx(truth, abs=0.05)
