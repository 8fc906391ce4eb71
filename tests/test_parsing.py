"""Judge-prompt and verdict parsing: every spelling of LLaVA-Critic-113k, and hostile inputs."""

from __future__ import annotations

import time

import pytest

from data_converters.parsing import (
    ParseError,
    parse_arena_verdict,
    parse_final_score,
    parse_pair_verdict,
    parse_two_scores,
    split_pair_prompt,
    split_point_prompt,
    strip_image_tokens,
)


@pytest.mark.parametrize(
    ("gpt", "label"),
    [
        ("Response A is precise. The better response: [first]", "1"),
        ("The better response: [second]", "2"),
        ("The better response: [Second].", "2"),
        ("The better response: [1]", "1"),
        ("The better response: [2]", "2"),
        ("The better response: [A]", "1"),
        ("The better response: [B]", "2"),
        ("The better response: B", "2"),
        ("The better response: 1 because it is right", "1"),
        ("The better response is Response A.", "1"),
        ("**The better response:** **Response 2**", "2"),
        ("The better response: [The first response]", "1"),
        ("The better response: [the second one]", "2"),
        ("Both responses are equally good.", "tie"),
        ("Two responses are equally good.", "tie"),
        ("The better response: [equally good]", "tie"),
        ("The better response: [tie]", "tie"),
        ("They are not equally good. The better response: [first]", "1"),
        ("The better response: [first] ... on reflection, the better response: [second]", "2"),
        ("The better response: a detailed one", None),
        ("The better response would mention the dog.", None),
        ("No verdict here.", None),
        ("", None),
    ],
)
def test_pair_verdicts(gpt, label):
    assert parse_pair_verdict(gpt) == label


@pytest.mark.parametrize(
    ("gpt", "verdict"),
    [
        ("[[A>>B]]", "1"),
        ("[[A>B]]", "1"),
        ("[[A=B]]", "tie"),
        ("[[B>A]]", "2"),
        ("[[B>>A]]", "2"),
        ("first [[A>B]] then My final verdict is: [[B>>A]]", "2"),
        ("[[C>A]]", None),
        ("A>B", None),
    ],
)
def test_arena_verdicts(gpt, verdict):
    assert parse_arena_verdict(gpt) == verdict


@pytest.mark.parametrize(
    ("gpt", "score"),
    [
        ("Good caption. Final Score: 85.", 85),
        ("Final Score: **[70]**", 70),
        ("final score: 0", 0),
        ("Final Score: 100", 100),
        ("Final Score: 90.0", 90),
        ("Final Score: 8.5", None),
        ("Final Score: 150", None),
        ("Final Score: 20 ... Final Score: 30", 30),
        ("no score", None),
    ],
)
def test_final_scores(gpt, score):
    assert parse_final_score(gpt) == score


@pytest.mark.parametrize(
    ("gpt", "scores"),
    [
        ("8 6\nAssistant 1 was better.", (8.0, 6.0)),
        ("\n 7.5, 9 \nreason", (7.5, 9.0)),
        ("10 10", (10.0, 10.0)),
        ("Assistant 1 gets 8", None),
        ("8 6 4", None),
        ("11 3", None),
    ],
)
def test_two_scores(gpt, scores):
    assert parse_two_scores(gpt) == scores


@pytest.mark.parametrize(
    ("markers", "style"),
    [
        (("The first response", "The second response"), "first/second"),
        (("Response 1", "Response 2"), "1/2"),
        (("Response A", "Response B"), "A/B"),
    ],
)
def test_pair_prompt_spellings(markers, style):
    human = f"<image>\nJudge.\nQuestion: [What is it?]\n{markers[0]}: [A cat.]\n{markers[1]}: [A dog.]\nASSISTANT:\n"
    pair = split_pair_prompt(human)
    assert (pair.instruction, pair.question, pair.responses, pair.style) == (
        "Judge.",
        "What is it?",
        ["A cat.", "A dog."],
        style,
    )
    swapped = pair.swapped()
    assert swapped == human.replace("<image>\n", "").replace("A cat.", "@").replace("A dog.", "A cat.").replace(
        "@", "A dog."
    )


def test_pair_prompt_with_hostile_responses():
    first = "It says [STOP].\nResponse 2: [quoted] **bold**"
    second = "第二个回答 — [[A>B]] ```code```"
    human = f"<image>\nQuestion: [Which [sign]?]\nResponse 1: [{first}]\nResponse 2: [{second}]"
    pair = split_pair_prompt(human)
    assert pair.question == "Which [sign]?"
    assert pair.responses == [first, second]
    assert split_pair_prompt(pair.swapped()).responses == [second, first]


@pytest.mark.parametrize(
    "human",
    [
        "[Question]\nWhat?\n\n[Assistant 1]\nfoo\n\n[End of Assistant 1]\n\n"
        "[Assistant 2]\nbar\n\n[End of Assistant 2]\n\n[System]\nrate",
        "<|User Prompt|>\nWhat?\n\n<|The Start of Assistant A's Answer|>\nfoo\n<|The End of Assistant A's Answer|>\n\n"
        "<|The Start of Assistant B's Answer|>\nbar\n<|The End of Assistant B's Answer|>",
        "[Question]\nWhat?\n\n[The Start of Assistant 1's Answer]\nfoo\n[The End of Assistant 1's Answer]\n\n"
        "[The Start of Assistant 2's Answer]\nbar\n[The End of Assistant 2's Answer]",
    ],
)
def test_assistant_block_prompts(human):
    pair = split_pair_prompt(human)
    assert (pair.question, pair.responses, pair.style) == ("What?", ["foo", "bar"], "assistant")


@pytest.mark.parametrize(
    "human",
    ["no markers at all", "Question: [x]\nonly one response: [y]", "[Assistant 1]\nfoo\n[End of Assistant 1]"],
)
def test_unsplittable_prompts_raise(human):
    with pytest.raises(ParseError):
        split_pair_prompt(human)


def test_point_prompt():
    assert split_point_prompt("<image>\nRate it.\nQuestion: [What?]\nThe response: [A [red] cat.]\nASSISTANT:") == (
        "Rate it.",
        "What?",
        "A [red] cat.",
    )
    with pytest.raises(ParseError, match="no response marker"):
        split_point_prompt("Question: [What?] and nothing else")


def test_strip_image_tokens():
    assert strip_image_tokens("<image>\n<image>\nHello") == "Hello"
    assert strip_image_tokens("Hello <image>") == "Hello <image>"


@pytest.mark.parametrize(
    "text",
    [
        "better response" + " " * 200_000 + "x",
        "final score" + " " * 200_000 + ":",
        " " * 200_000 + "x\n1 2",
        "<image>" + " " * 200_000,
        "Question: [" + "[" * 100_000 + "\nResponse 1: [" + "]" * 100_000,
        "[[A>B" * 50_000,
    ],
)
def test_parsers_are_linear_on_adversarial_input(text):
    start = time.perf_counter()
    parse_pair_verdict(text)
    parse_final_score(text)
    parse_two_scores(text)
    parse_arena_verdict(text)
    strip_image_tokens(text)
    try:
        split_pair_prompt(text)
    except ParseError:
        pass
    assert time.perf_counter() - start < 1.0
