"""The built-in text the tiny tokenizer is trained on.

The tiny models exist so that every test, benchmark and the demo run offline. Their tokenizer is a real
byte-level BPE (any text round-trips), but trained on the words our prompts actually use: judge
instructions, the R1 thinking suffix, the verdict spellings, the colours and shapes of the synthetic
demo task, and digits. Frequent words becoming single tokens keeps prompts short (a critic prompt is a
few hundred tokens instead of a few thousand bytes), which is what makes CPU training fast enough.
"""

from __future__ import annotations

from collections.abc import Iterator

from data_converters.prompts import PAIRWISE_INSTRUCTION, R1_THINK_SUFFIX

JUDGE_SENTENCES = [
    "You are a helpful assistant.",
    "Please act as an impartial judge and evaluate the quality of the responses provided by two AI "
    "assistants to the user question displayed below.",
    "Given an image and a corresponding question, please serve as an unbiased and fair judge to evaluate "
    "the quality of the answers provided by a Large Multimodal Model (LMM).",
    "Determine which answer is better and explain your judgment in detail.",
    "Your task is to provide a detailed, unbiased response, and then give a score for the response.",
    "Please rate the helpfulness, relevance, accuracy, level of details of their responses.",
    "Each assistant receives an overall score on a scale of 1 to 10, where a higher score indicates "
    "better overall performance.",
    "Please first output a single line containing only two values indicating the scores for Assistant 1 "
    "and 2, respectively.",
    "Avoid any position biases and ensure that the order in which the responses were presented does not "
    "influence your decision.",
    "Which response is better? Answer 1 or 2.",
    "The better response: [first]",
    "The better response: [second]",
    "The better response: [1]",
    "The better response: [2]",
    "The better response: [A]",
    "The better response: [B]",
    "Two responses are equally good.",
    "Both responses are equally good.",
    "Final Score: 85",
    "Overall Judgment",
    "[[A>>B]] [[A>B]] [[A=B]] [[B>A]] [[B>>A]]",
    "Question: [What is shown in the image?]",
    "The first response: [A red circle.]",
    "The second response: [A blue square.]",
    "Response 1: [The answer is 2.]",
    "Response 2: [The answer is 3.]",
    "Response A: [Yes.]",
    "Response B: [No.]",
    "Describe the image in detail.",
    "Answer the question using a single word or phrase.",
    "Let me think step by step.",
    "The answer is",
    "Therefore, the final answer is",
    "The image shows",
    "In the image, there is a",
    "The response correctly identifies the",
    "The response is accurate and helpful.",
    "The response contains a hallucination.",
    "so response 1 is right.",
    "so response 2 is right.",
]

COLOURS = ["red", "green", "blue", "yellow", "purple", "orange", "black", "white", "gray", "brown"]
SHAPES = ["circle", "square", "triangle", "star", "shape", "object", "line", "dot"]
WORDS = (
    "a an the is are was be of in on at to and or not no yes this that it its there which what how many "
    "why who where when with from by for as than then so because however image picture photo question "
    "answer response responses assistant user judge better worse best worst score scores first second "
    "correct incorrect wrong right accurate inaccurate helpful detailed relevant colour color size left "
    "right top bottom middle one two three four five six seven eight nine ten number count total equal "
    "tie reasoning think final boxed solution step therefore thus says say identify identifies shows "
    "contains describe description user assistant system"
).split()


def corpus_lines(repeat: int = 3) -> Iterator[str]:
    """Yield the training corpus; frequency decides which merges BPE learns first."""
    for _ in range(repeat):
        yield R1_THINK_SUFFIX
        yield PAIRWISE_INSTRUCTION
        yield from JUDGE_SENTENCES
        for colour in COLOURS:
            for shape in SHAPES:
                yield f"The {shape} is {colour}. What colour is the {shape}? The {shape} is {colour}, so "
                yield f"<think>The {shape} is {colour}, so response 1 is right.</think>\\boxed{{1}}"
        for number in range(101):
            yield f"{number} Final Score: {number} \\boxed{{{number}}} {number % 10 + 1} {number % 7 + 1}"
        yield " ".join(WORDS)
        yield " ".join(word.capitalize() for word in WORDS)
        yield "0123456789 + - * / = ( ) [ ] { } < > . , : ; ? ! ' \" \\ # % & _ | ~ ` ^ @ $"
