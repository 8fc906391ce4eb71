"""Reward functions: official semantics, every verdict spelling, options, invariants, hostile input, TRL."""

from __future__ import annotations

import re
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rewards
from rewards.format import format_ok
from rewards.preference import normalise_preference
from rewards.text import collapse_tag_spaces, completion_text, last_boxed

# The official LLaVA-Critic-R1 (EasyR1) format check, verbatim in behaviour: our implementation must agree.
OFFICIAL_PATTERN = re.compile(r"<think>.*</think>.*\\boxed\{.*\}.*", re.DOTALL)


def official_format(text: str) -> float:
    text = re.sub(r"\s*(<|>|/)\s*", r"\1", text)
    return 1.0 if OFFICIAL_PATTERN.fullmatch(text) else 0.0


def naive_last_boxed(text: str) -> str | None:
    """Reference, as mathruler's `extract_boxed_content` reads a box: the last `\\boxed{` only, braces
    balanced char by char; None where they never balance."""
    start = text.rfind("\\boxed{")
    if start == -1:
        return None
    depth = 0
    for i in range(start + len("\\boxed{") - 1, len(text)):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return text[start + len("\\boxed{") : i]
    return None


TOKENS = [
    "<think>",
    "</think>",
    "<answer>",
    "</answer>",
    "\\boxed{",
    "{",
    "}",
    " ",
    "\n",
    "\t",
    "<",
    ">",
    "/",
    "think",
    "1",
    "2",
    "A",
    "tie",
    "Response ",
    "\\text{",
    "é",
    "**",
    "x",
]
completions_text = st.lists(st.sampled_from(TOKENS), max_size=30).map("".join)


@settings(max_examples=3000, deadline=None)
@given(completions_text)
def test_format_matches_the_official_regex(text):
    assert format_ok(text) == (official_format(text) == 1.0)
    assert collapse_tag_spaces(text) == re.sub(r"\s*(<|>|/)\s*", r"\1", text)


@settings(max_examples=3000, deadline=None)
@given(completions_text)
def test_last_boxed_matches_the_naive_reference(text):
    assert last_boxed(text) == naive_last_boxed(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # worked examples of the official recipe: 0.9 x accuracy + 0.1 x format
        ("<think>Response 1 names the right colour.</think>\\boxed{1}", 1.0),
        ("<think>...</think>The better one is \\boxed{2}.", 0.1),
        ("\\boxed{1}", 0.9),
        ("<think>unfinished \\boxed{1}", 0.9),
        ("< think >spaced tags</ think >\\boxed{1}", 1.0),
        ("<think>a</think>\\boxed{2} then changed my mind \\boxed{1}", 1.0),  # the last box counts
        ("<think>a</think>\\boxed{1", 0.0),  # unbalanced: no answer, and no closing brace for the format
        ("", 0.0),
        # where the official reward decides differently from a lenient reader
        ("<think>a</think>\\boxed{1} and then \\boxed{1", 0.1),  # cut inside the last box: not the earlier one
        ("<think>a</think><answer>1</answer>", 0.0),  # no box: no accuracy from an answer tag
        ("<think>a</think>\\boxed{-1}", 0.1),
        ("<think>a</think>\\boxed{Response 1 is no better}", 0.1),
        ("<think>a</think>\\boxed{1.0}", 1.0),  # the official grader compares numbers
        ("<think>a</think>\\boxed{{\\text{1}}}", 1.0),
        ("<think>a</think>\\boxed{\uff11}", 1.0),  # full-width 1
    ],
)
def test_critic_reward_worked_examples(text, expected):
    assert rewards.critic_reward(completions=[[{"role": "assistant", "content": text}]], solution=["1"]) == [
        pytest.approx(expected)
    ]


@pytest.mark.parametrize(
    ("boxed", "label"),
    [
        ("1", "1"),
        ("2", "2"),
        ("Response 1", "1"),
        ("Response 2", "2"),
        ("first", "1"),
        ("second", "2"),
        ("A", "1"),
        ("B", "2"),
        ("Answer 1", "1"),
        ("\\text{1}", "1"),
        ("\\text{Response 2}", "2"),
        ("Response 1 is better", "1"),
        ("The first response", "1"),
        ("(A)", "1"),
        ("**B**", "2"),
        ("[1]", "1"),
        ("Output 2", "2"),
        ("Assistant B", "2"),
        ("Response one", "1"),
        ("I choose 2", "2"),
        ("1.", "1"),
        ("tie", "tie"),
        ("Tie", "tie"),
        ("equal", "tie"),
        ("Equally good", "tie"),
        ("C", "tie"),
        ("Both are equally good", "tie"),
        ("The two responses are equally good", "tie"),
        ("The answer is a tie", "tie"),
        ("1 or 2", None),
        ("neither", None),
        ("3", None),
        ("Response 1 and Response 2", None),
        ("", None),
        ("because it names the red circle", None),
        ("x" * 300, None),
        ("-1", None),
        ("\u22122", None),
        ("Response 2 is no better", None),
        ("2.0", "2"),
        ("1.00", "1"),
        ("3.0", None),
        ("{{1}}", "1"),
        ("\uff12", "2"),
        ("\uff22", "2"),
    ],
)
def test_verdict_spellings(boxed, label):
    assert normalise_preference(boxed) == label


def test_format_options():
    two_blocks = "<think>a</think><think>b</think>\\boxed{1}"
    answer_tag = "<think>a</think><answer>1</answer>"
    assert rewards.get("format")(completions=[two_blocks, answer_tag]) == [1.0, 0.0]
    assert rewards.get("format", single_think=True)(completions=[two_blocks]) == [0.0]
    assert rewards.get("format", answer_tag=True)(completions=[answer_tag, answer_tag + " trailing"]) == [1.0, 0.0]
    # The answer tag carries the verdict when there is no box only in lenient mode (the official reward reads boxes).
    assert rewards.get("preference")(completions=[answer_tag], solution=["1"]) == [0.0]
    assert rewards.get("preference", verdicts="lenient")(completions=[answer_tag], solution=["1"]) == [1.0]


def test_preference_ties_and_unusable_labels():
    completions = ["\\boxed{tie}", "\\boxed{1}", "\\boxed{1}"]
    assert rewards.get("preference")(completions=completions, solution=["tie", "tie", "nonsense"]) == [1.0, 0.0, None]
    assert rewards.get("preference", ties="skip")(completions=completions, solution=["tie", "2", "1"]) == [
        None,
        0.0,
        1.0,
    ]
    with pytest.raises(ValueError, match="ties must be"):
        rewards.get("preference", ties="half")


def test_pointwise_linear_and_band_on_each_scale():
    linear = rewards.get("pointwise")
    band = rewards.get("pointwise", mode="band", tolerance=0.1)
    completions = ["\\boxed{80}", "\\boxed{85/100}", "\\boxed{7}", "\\boxed{Score: 3}", "\\boxed{high}", "\\boxed{500}"]
    solution = ["90", "90", "9", "3", "90", "90"]
    scale = ["0-100", "0-100", "1-10", "1-5", "0-100", "0-100"]
    assert linear(completions=completions, solution=solution, scale=scale) == pytest.approx(
        [0.9, 0.95, 1 - 2 / 9, 1.0, 0.0, 0.0]
    )
    assert band(completions=completions, solution=solution, scale=scale) == [1.0, 1.0, 0.0, 1.0, 0.0, 0.0]
    assert linear(completions=["\\boxed{5}"], solution=["n/a"]) == [None]
    assert linear(completions=["\\boxed{50}"], solution=["60"]) == [pytest.approx(0.9)]  # no scale: 0-100 guessed


def test_critic_dispatches_per_row_and_weights_are_options():
    completions = ["<think>x</think>\\boxed{80}", "<think>x</think>\\boxed{1}", "\\boxed{2}"]
    kwargs = dict(solution=["90", "1", "1"], task=["pointwise", "pairwise", "pairwise"], scale=["0-100", "", ""])
    assert rewards.critic_reward(completions=completions, **kwargs) == pytest.approx([0.91, 1.0, 0.0])
    heavy_format = rewards.get("critic", accuracy_weight=0.5, format_weight=0.5)
    assert heavy_format(completions=completions, **kwargs) == pytest.approx([0.95, 1.0, 0.0])
    with pytest.raises(ValueError, match="sum to 1"):
        rewards.get("critic", accuracy_weight=0.9, format_weight=0.9)


@pytest.mark.parametrize(
    ("text", "solution", "expected"),
    [
        ("\\boxed{1/3}", "\\frac{1}{3}", 1.0),
        ("\\boxed{\\frac{2}{6}}", "1/3", 1.0),
        ("\\boxed{0.5}", "0.6", 0.0),
        ("x^2+1 so \\boxed{1+x^2}", "x^2+1", 1.0),
        ("\\boxed{B}", "B", 1.0),
        ("The answer is (B).", "(B)", 1.0),
        ("\\boxed{B. blue}", "B", 1.0),
        ("\\boxed{C}", "B", 0.0),
        ("<answer>The Red.</answer>", "red", 1.0),
        ("\\boxed{blue}", "red", 0.0),
        ("", "1", 0.0),
        ("\\boxed{1}", "", None),
    ],
)
def test_answer_accuracy(text, solution, expected):
    assert rewards.get("accuracy")(completions=[text], solution=[solution]) == [expected]


def test_completion_shapes():
    assert completion_text([{"role": "assistant", "content": "a"}]) == "a"
    assert completion_text([{"role": "assistant", "content": [{"type": "text", "text": "b"}]}]) == "b"
    assert completion_text([{"role": "assistant", "content": None}]) == ""
    assert completion_text(None) == "" and completion_text([]) == "" and completion_text("c") == "c"


def test_registry():
    assert rewards.get("critic").__name__ == "critic_reward"
    assert rewards.get("r1").__name__ == "critic_reward" and rewards.get("format_reward").__name__ == "format_reward"
    assert rewards.get("rewards.critic_reward") is rewards.critic_reward
    assert [f.__name__ for f in rewards.resolve(["critic", "format"])] == ["critic_reward", "format_reward"]
    with pytest.raises(ValueError, match="unknown reward 'nope'"):
        rewards.get("nope")
    with pytest.raises(ValueError, match="cannot import reward function"):
        rewards.get("rewards.no_such_function")


def test_log_extra_and_log_metric_are_used():
    extra, metrics = {}, {}
    hooks = dict(log_extra=lambda k, v: extra.setdefault(k, v), log_metric=lambda k, v: metrics.setdefault(k, v))
    rewards.preference_reward(completions=["\\boxed{A}", "no box"], solution=["1", "1"], **hooks)
    rewards.format_reward(completions=["<think>a</think>\\boxed{1}", "x"], **hooks)
    assert extra["verdict"] == ["1", ""]
    assert metrics["preference/unparsed_rate"] == 0.5 and metrics["format/ok_rate"] == 0.5
    rewards.critic_reward(
        completions=["<think>a</think>\\boxed{1}", "<think>a</think>\\boxed{2}", "\\boxed{1}", "nothing"],
        solution=["1", "1", "1", "1"],
        **hooks,
    )
    assert metrics["critic/format"] == 0.5 and metrics["critic/accuracy"] == 0.5


# --- invariants on 10,000+ generated completions ------------------------------------------------------

ANY_COMPLETION = st.one_of(
    completions_text,
    st.text(max_size=200),
    st.none(),
    st.builds(lambda t: [{"role": "assistant", "content": t}], st.one_of(completions_text, st.none())),
    st.builds(lambda t: [{"role": "assistant", "content": [{"type": "text", "text": t}]}], completions_text),
)
LABELS = st.sampled_from(["1", "2", "tie", "A", "Response 2", "85", "3", "", "nonsense", None])


@settings(max_examples=500, deadline=None)
@given(
    st.lists(st.tuples(ANY_COMPLETION, LABELS, st.sampled_from(["", "0-100", "1-10", "bad"])), min_size=20, max_size=20)
)
def test_invariants_on_generated_completions(rows):
    completions, solution, scale = (list(x) for x in zip(*rows))
    task = ["pointwise" if s else "pairwise" for s in scale]
    for name in ("critic", "format", "preference", "pointwise", "answer_accuracy"):
        fn = rewards.get(name)
        first = fn(prompts=None, completions=completions, solution=solution, scale=scale, task=task)
        assert first == fn(prompts=None, completions=completions, solution=solution, scale=scale, task=task)
        assert len(first) == len(completions)
        for value, label in zip(first, solution):
            if value is None:
                assert name != "format" and (
                    label is None or normalise_preference(label) is None or name != "preference"
                )
            else:
                assert isinstance(value, float) and 0.0 <= value <= 1.0


HOSTILE = [
    " " * 1_000_000,
    "\\boxed{" * 140_000,
    "{" * 500_000 + "}" * 499_999,
    "<think>" * 100_000 + "</think>" + "\\boxed{1}",
    "< / > " * 150_000,
    "\\boxed{" + "1" * 1_000_000 + "}",
    "\\boxed{" + "\\text{" * 50_000 + "1" + "}" * 50_000 + "}",
    "é🎉 " * 200_000 + "\\boxed{tie}",
]


@pytest.mark.parametrize("text", HOSTILE, ids=lambda t: f"{len(t)}-chars-{t[:10]!r}")
def test_hostile_completions_are_fast_and_safe(text):
    start = time.perf_counter()
    for name in ("critic", "format", "preference", "pointwise", "answer_accuracy"):
        values = rewards.get(name)(completions=[text], solution=["1"], scale=[""])
        assert values[0] is None or 0.0 <= values[0] <= 1.0
    assert time.perf_counter() - start < 2.0


def test_grpo_step_with_critic_reward_from_a_recipe_by_name(tmp_path):
    """A flat TRL recipe names `reward_funcs: [critic]`; one GRPOTrainer step runs with it."""
    from dataclasses import dataclass, field

    import torch
    from trl import GRPOConfig, GRPOTrainer, TrlParser

    from data_converters.convert import convert
    from data_converters.io import load_any
    from rl_critic.models.loader import ModelArguments, load_model_and_processor
    from tests.test_convert import SAMPLE

    @dataclass
    class RecipeFields:
        reward_funcs: list[str] = field(default_factory=lambda: ["format"])

    recipe = tmp_path / "grpo.yaml"
    recipe.write_text(
        f"model_name_or_path: tiny\nreward_funcs: [critic]\noutput_dir: {tmp_path / 'run'}\nmax_steps: 1\n"
        "per_device_train_batch_size: 4\nnum_generations: 4\nmax_completion_length: 8\nlearning_rate: 0.01\n"
        "use_cpu: true\nbf16: false\ngradient_checkpointing: false\nreport_to: []\nsave_strategy: 'no'\n"
        "logging_steps: 1\nbeta: 0.0\n"
    )
    fields, training_args, model_args = TrlParser((RecipeFields, GRPOConfig, ModelArguments)).parse_args_and_config(
        ["--config", str(recipe)]
    )
    reward_funcs = rewards.resolve(fields.reward_funcs)
    assert [f.__name__ for f in reward_funcs] == ["critic_reward"]
    convert("llava-critic-pairwise", str(SAMPLE), "grpo", str(tmp_path / "data"), limit=12)
    model, processor = load_model_and_processor(model_args)
    # A random tiny model never formats its answer, so critic rewards are all 0 and nothing would move;
    # a second, varying reward gives the step non-zero advantages (all-zero rewards give zero advantages).
    length = lambda completions, **kw: [len(completion_text(c)) % 5 / 4 for c in completions]  # noqa: E731
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=[*reward_funcs, length],
        args=training_args,
        train_dataset=load_any(str(tmp_path / "data")),
        processing_class=processor,
    )
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    trainer.train()
    logged = trainer.state.log_history[0]
    assert "rewards/critic_reward/mean" in logged and 0.0 <= logged["rewards/critic_reward/mean"] <= 1.0
    assert any(not torch.equal(p, before[n]) for n, p in model.named_parameters())


def test_reward_options_from_a_recipe_entry():
    default, weighted, skip_ties = rewards.resolve(
        ["critic", "critic:accuracy_weight=0.8, format_weight=0.2", "preference:ties=skip"]
    )
    completions, solution = ["<think>x</think>\\boxed{2}", "\\boxed{1}"], ["1", "1"]
    assert default(completions=completions, solution=solution) == pytest.approx([0.1, 0.9])
    assert weighted(completions=completions, solution=solution) == pytest.approx([0.2, 0.8])
    assert weighted.__name__ == "critic:accuracy_weight=0.8,format_weight=0.2" and default.__name__ == "critic_reward"
    assert skip_ties(completions=["\\boxed{1}"], solution=["tie"]) == [None]
    assert rewards.parse_spec("pointwise:mode=band,tolerance=0.05") == (
        "pointwise",
        {"mode": "band", "tolerance": 0.05},
    )
    for bad, message in [
        ("critic:format_weight", "not key=value"),
        ("critic:colour=red", "does not take"),
        ("critic:accuracy_weight=0.5", "sum to 1"),
        ("tests.helpers.length_reward:x=1", "options"),
    ]:
        with pytest.raises(ValueError, match=message):
            rewards.resolve([bad])


def test_grpo_recipe_with_reward_options_and_weights_parses_and_bad_options_are_one_line(tmp_path, capsys):
    from pathlib import Path

    from rl_critic.cli import main
    from rl_critic.script.parsing import parse
    from rl_critic.train import grpo

    root = Path(__file__).resolve().parent.parent
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        "reward_funcs: ['critic:accuracy_weight=0.8,format_weight=0.2', format]\n"
        "reward_weights: [1.0, 0.5]\nuse_cpu: true\nbf16: false\n"
    )
    script_args, _, _, training_args, _ = parse(grpo.ARGUMENTS, "test", ["--config", str(recipe)])
    assert [f.__name__ for f in rewards.resolve(script_args.reward_funcs)] == [
        "critic:accuracy_weight=0.8,format_weight=0.2",
        "format_reward",
    ]
    assert training_args.reward_weights == [1.0, 0.5]
    code = main(
        [
            "train",
            "grpo",
            "--config",
            str(root / "recipes/tiny/grpo_critic.yaml"),
            "--reward_funcs",
            "critic:colour=red",
            "--use_cpu",
            "true",
            "--bf16",
            "false",
        ]
    )
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and "does not take these options" in err


@pytest.mark.parametrize(
    "spec",
    [
        "critic",
        "critic:format_weight=0.2,accuracy_weight=0.8",
        "format:single_think=true",
        "preference:ties=skip",
        "pointwise:mode=band",
        "answer_accuracy",
        "r1",
    ],
)
def test_every_registered_reward_pickles_and_scores_the_same_after(spec):
    """Rewards are small classes, not closures (as TRL's own): they cross process boundaries."""
    import pickle

    [function] = rewards.resolve([spec])
    restored = pickle.loads(pickle.dumps(function))
    completions = [[{"role": "assistant", "content": "<think>x</think>\\boxed{1}"}], "\\boxed{2}", "7"]
    columns = {"solution": ["1", "1", "7"], "task": ["pairwise", "pairwise", "pointwise"], "scale": ["", "", "1-10"]}
    assert restored(prompts=[""] * 3, completions=completions, **columns) == function(
        prompts=[""] * 3, completions=completions, **columns
    )
    assert restored.__name__ == function.__name__ and vars(restored) == vars(function)
