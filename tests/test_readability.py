"""Verdicts that cannot be read (issue 47): every judging path counts them, stops when its first batch reads
none (unless told to go on), says in one line when most could not be read with the likely cause, and moves its
progress a batch at a time."""

from __future__ import annotations

import json

import pytest

from rl_critic.critique.judge import Judge
from rl_critic.critique.judgments import PairRequest
from rl_critic.critique.readability import Readability, UnreadableVerdicts
from rl_critic.generation.hf import HFEngine
from rl_critic.generation.settings import SamplingSettings
from tests.cli_batch import Command, run_commands
from tests.test_hostile_inputs import colour_pairs, one_line
from tests.test_new_user import TINY, copy_examples


class ServedEngine:
    """An engine that answers from a script (one text a call, the same for every prompt) and counts its calls."""

    def __init__(self, answers: list[str], tokens: int = 5) -> None:
        self.answers, self.tokens, self.calls = answers, tokens, []

    def generate_counted(self, conversations, media=None, settings=None, batch_size=8, skip_too_long=False):
        text = self.answers[min(len(self.calls), len(self.answers) - 1)]
        self.calls.append(len(conversations))
        return [[(text, self.tokens)] for _ in conversations]


class CountingEngine(ServedEngine, HFEngine):
    """The same, as the in-process engine (handed one batch at a time)."""


def _requests(n: int) -> list[PairRequest]:
    return [PairRequest(question=f"q{i}", first="a", second="b") for i in range(n)]


def test_the_cause_follows_what_the_unreadable_answers_looked_like():
    cut = Readability(64, "--max_new_tokens")
    cut.add([False, False, True, False], [64, 64, 20, 30])
    assert cut.share == 0.75 and cut.cut == 2
    assert cut.summary_line() == (
        "3 of 4 verdicts (75%) could not be read: 2 of them used all 64 tokens (--max_new_tokens) without reaching "
        "a verdict: raise it if the critic writes a rationale first (a trained R1 critic's is ~40-300 tokens), or "
        "the critic is untrained and never ends"
    )
    short = Readability(512)
    short.add([False, True, True], [12, 30, 30])
    assert short.summary_line() is None  # a third unreadable is not most
    short.add([False, False], [9, 512])
    assert "no \\boxed{} or verdict line" in short.summary_line()  # answers that ended, without a verdict


def test_a_judge_stops_after_its_first_batch_when_none_can_be_read_and_goes_on_when_told():
    engine = CountingEngine(["I like both."])
    judge = Judge(engine, SamplingSettings(max_new_tokens=5), batch_size=4)
    with pytest.raises(UnreadableVerdicts, match="first 4 judgments gave no readable verdict") as stop:
        judge.compare(_requests(10))
    assert engine.calls == [4]  # one batch, not ten judgments
    assert "used all 5 tokens (--critic_max_new_tokens)" in str(stop.value)
    assert "(--critic_unreadable_ok true goes on anyway)" in str(stop.value)

    engine = CountingEngine(["I like both."])
    judge = Judge(engine, SamplingSettings(max_new_tokens=5), batch_size=4)
    judge.unreadable_ok = True
    moved = []
    judge.on_batch = moved.append
    verdicts = [j.verdict for j in judge.compare(_requests(10))]
    assert verdicts == [None] * 10 and engine.calls == [4, 4, 2] and moved == [4, 4, 2]
    assert judge.readability.summary_line().startswith("10 of 10 verdicts (100%) could not be read")


def test_a_first_batch_with_one_readable_verdict_goes_on():
    engine = CountingEngine(["\\boxed{1}", "nothing"], tokens=3)
    judge = Judge(engine, SamplingSettings(max_new_tokens=64), batch_size=2)
    judgments = judge.compare(_requests(6))
    assert [j.verdict for j in judgments] == ["1", "1", None, None, None, None]
    assert judge.readability.made == 6 and judge.readability.unreadable == 4
    assert "4 of 6 verdicts (67%) could not be read" in judge.readability.summary_line()


def test_a_served_critic_gets_its_first_batch_then_the_rest_in_one_call():
    engine = ServedEngine(["\\boxed{2}"])  # vLLM or a server: it schedules its own batches
    judge = Judge(engine, SamplingSettings(max_new_tokens=64), batch_size=4)
    assert [j.verdict for j in judge.compare(_requests(10))] == ["2"] * 10
    assert engine.calls == [4, 6]
    judge.compare(_requests(5))
    assert engine.calls == [4, 6, 5]


def test_the_commands_stop_on_an_untrained_critic_and_say_it_when_told_to_go_on(tmp_path):
    """eval critic, best-of-n and GRPO with `critic_judge`, each with the untrained tiny critic (its answers never
    hold a verdict): stopped after the first batch in one line with the cause; told to go on, they finish and
    their last line says how many verdicts could not be read."""
    questions = copy_examples(tmp_path)
    colour_pairs(tmp_path, 24, "eval")
    tokens = ["--max_new_tokens", "6"]
    evaluate = ["eval", "critic", "--model", "tiny", "--data", str(tmp_path / "eval"), *tokens, "--batch_size", "4"]
    bon = ["best-of-n", "--model", "tiny", "--input", str(questions), "--n", "3", "--max_new_tokens", "4"]
    bon += ["--critic_max_new_tokens", "6", "--out", str(tmp_path / "b.jsonl")]
    grpo = ["train", "grpo", "--config", str(TINY / "grpo_policy_critic.yaml"), "--max_steps", "1"]
    grpo += ["--use_cpu", "true", "--bf16", "false", "--report_to", "none", "--critic_max_new_tokens", "6"]
    results = run_commands(
        [
            Command([*evaluate, "--out", str(tmp_path / "stopped.json")]),
            Command([*evaluate, "--out", str(tmp_path / "e.json"), "--unreadable_ok", "true"]),
            Command(bon),
            Command([*bon, "--critic_unreadable_ok", "true"]),
            Command([*grpo, "--output_dir", str(tmp_path / "g1"), "--critic_unreadable_ok", "false"], timeout=300),
            Command([*grpo, "--output_dir", str(tmp_path / "g2")], timeout=300),  # the recipe goes on
        ]
    )
    one_line(results[0], "eval", "the critic's first 4 judgments gave no readable verdict", "(--max_new_tokens)")
    assert "--unreadable_ok true goes on anyway" in results[0].last_line
    assert not list(tmp_path.glob("stopped*"))  # no report of a run that measured nothing
    assert results[1].returncode == 0, results[1].stderr[-2000:]
    assert json.loads((tmp_path / "e.json").read_text())["pairwise"]["parse_failure_rate"] == 1.0
    assert results[1].stdout.strip().splitlines()[-1].startswith("24 of 24 verdicts (100%) could not be read")
    one_line(results[2], "best-of-n", "gave no readable verdict", "--critic_unreadable_ok true")
    assert results[3].returncode == 0, results[3].stderr[-2000:]
    assert "critic verdicts (100%) could not be read: " in results[3].stdout.strip().splitlines()[-1]
    one_line(results[4], "train", "the critic's first", "gave no readable verdict", "(--critic_max_new_tokens)")
    assert results[5].returncode == 0, results[5].stderr[-2000:]
    said = [line for line in results[5].stdout.splitlines() if line.startswith("critic_judge: ")]
    assert len(said) == 1 and "critic verdicts (100%) could not be read" in said[0], results[5].stdout[-2000:]
    assert results[5].stdout.strip().splitlines()[-1].startswith("grpo: 1 steps")  # the run's last line stays last


def test_the_recipe_advice_gives_the_demos_critic_room_for_its_verdict(tmp_path):
    """recipes/tiny/grpo_policy_critic.yaml names the demo's critic; the token budget it advises must hold that
    critic's whole answer (the SFT target it learns: rationale, then the box), which the recipe's 16 did not."""
    import re

    from datasets import Dataset
    from transformers import AutoTokenizer

    from data_converters.convert import convert
    from data_converters.io import load_any
    from data_converters.layouts import features
    from data_converters.synthetic import synthetic_rows
    from rl_critic.models.tiny.cache import ensure_tiny_model

    advice = re.search(
        r"--critic_model demo_out/final --critic_max_new_tokens (\d+)", (TINY / "grpo_policy_critic.yaml").read_text()
    )
    assert advice, "the recipe no longer names the demo's critic and its token budget"
    # the demo's critic data (rl_critic.demo.critic_stages.SYNTHETIC), as its warm start learns it
    rows = synthetic_rows(60, "pairwise", seed=0, tie_rate=0.0, questions=("colour",), max_shapes=1, name_shape=False)
    Dataset.from_list(list(rows), features=features()).to_parquet(str(tmp_path / "s.parquet"))
    convert("llava-critic-pairwise", str(tmp_path / "s.parquet"), "sft-r1", str(tmp_path / "r1"), seed=None)
    tokenizer = AutoTokenizer.from_pretrained(str(ensure_tiny_model()))
    answers = [row["messages"][1]["content"][0]["text"] for row in load_any(str(tmp_path / "r1"))]
    longest = max(len(tokenizer(answer)["input_ids"]) + 1 for answer in answers)  # + the end token
    assert 16 < longest <= int(advice.group(1)), (longest, advice.group(1))
