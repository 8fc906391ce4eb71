"""Parsing LLaVA-Critic-113k judge prompts and GPT-4o verdicts, in every spelling the data uses.

Two directions:
- the *human* turn (the judge prompt) is split into instruction, question and response(s), keeping the
  character spans of the responses so the pair can be swapped in place (order randomisation must not
  rewrite the prompt around them);
- the *gpt* turn (rationale + verdict) gives the label: `"1"`, `"2"`, `"tie"`, or a score.

Regexes only ever run on literal markers or on short, bounded slices of text (the ~80 characters after
a marker), never with adjacent unbounded quantifiers, so a 1 MB row cannot make them backtrack. Every
function returns `None` (or raises `ParseError` with a reason) rather than guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


class ParseError(ValueError):
    """A row the converter cannot turn into a target; the message is the rejection reason."""


@dataclass(frozen=True)
class PairPrompt:
    """A pairwise judge prompt split at its markers; spans index into `text`."""

    text: str
    instruction: str
    question: str
    first: tuple[int, int]
    second: tuple[int, int]
    style: str  # which marker pair the prompt uses: "first/second", "1/2", "A/B", "assistant"

    @property
    def responses(self) -> list[str]:
        return [self.text[slice(*self.first)], self.text[slice(*self.second)]]

    def swapped(self) -> str:
        """The same prompt with the two responses exchanged, every other character untouched."""
        (a0, a1), (b0, b1) = self.first, self.second
        t = self.text
        return t[:a0] + t[b0:b1] + t[a1:b0] + t[a0:a1] + t[b1:]


_QUESTION = "question:"
_ASSISTANT_TAIL = "ASSISTANT:"
# (first marker, second marker, style); searched case-insensitively, first that fits wins.
_PAIR_MARKERS = [
    ("the first response:", "the second response:", "first/second"),
    ("response 1:", "response 2:", "1/2"),
    ("response a:", "response b:", "A/B"),
]


def strip_image_tokens(text: str) -> str:
    """Drop the leading `<image>\\n` / `<video>\\n` placeholder(s) of a LLaVA-style human turn."""
    rest = text.lstrip()
    if not rest.startswith(("<image>", "<video>")):
        return text
    while rest.startswith(("<image>", "<video>")):
        rest = rest[len("<image>") :].lstrip()  # both placeholders are 7 characters
    return rest


def _unbracket(text: str, start: int, end: int) -> tuple[int, int]:
    """Span of the content between `start` and `end`, without surrounding whitespace and `[...]`."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if start < end and text[start] == "[":
        close = text.rfind("]", start + 1, end)
        if close != -1:
            start, end = start + 1, close
            while start < end and text[start].isspace():
                start += 1
            while end > start and text[end - 1].isspace():
                end -= 1
    return start, end


def split_pair_prompt(human: str) -> PairPrompt:
    """Split a pairwise judge prompt (`Question: [..]` + two labelled responses).

    The second marker is taken at its first occurrence that follows a closing `]` of the first
    response, so a response that quotes "Response 2:" inside its brackets does not cut it short.
    """
    text = strip_image_tokens(human)
    lower = text.lower()
    q = lower.find(_QUESTION)
    if q == -1:
        return split_assistant_blocks(text)
    for m1, m2, style in _PAIR_MARKERS:
        i1 = lower.find(m1, q)
        if i1 == -1:
            continue
        i2 = lower.find(m2, i1 + len(m1))
        first_is_bracketed = text[i1 + len(m1) :].lstrip().startswith("[")
        while first_is_bracketed and i2 != -1 and not text[i1 + len(m1) : i2].rstrip().endswith("]"):
            i2 = lower.find(m2, i2 + len(m2))
        if i2 == -1:
            continue
        end = _end_before_assistant_tail(text, i2)
        question = _unbracket(text, q + len(_QUESTION), i1)
        return PairPrompt(
            text=text,
            instruction=text[:q].strip(),
            question=text[slice(*question)],
            first=_unbracket(text, i1 + len(m1), i2),
            second=_unbracket(text, i2 + len(m2), end),
            style=style,
        )
    raise ParseError("no response markers (first/second, 1/2, A/B) after 'Question:'")


def _end_before_assistant_tail(text: str, start: int) -> int:
    """Where the last response ends: before a trailing `ASSISTANT:` line if there is one."""
    stripped = text.rstrip()
    if stripped.endswith(_ASSISTANT_TAIL):
        cut = len(stripped) - len(_ASSISTANT_TAIL)
        if cut > start and (cut == 0 or text[cut - 1] in "\n \t"):
            return cut
    return len(text)


# LLaVA-Bench (`[Assistant 1]` ... `[End of Assistant 1]`), MT-bench (`[The Start of Assistant A's
# Answer]`) and Arena-Hard / WildVision (`<|The Start of Assistant A's Answer|>`) answer blocks.
_BLOCK_START = re.compile(r"(?:\[|<\|)(?:The Start of )?Assistant ([12AB])(?:'s Answer)?(?:\]|\|>)", re.I)
_BLOCK_END = re.compile(r"(?:\[|<\|)(?:The )?End of Assistant ([12AB])(?:'s Answer)?(?:\]|\|>)", re.I)
_BLOCK_QUESTION = re.compile(r"(?:\[(?:User )?Question\]|<\|User Prompt\|>)", re.I)


def split_assistant_blocks(text: str) -> PairPrompt:
    """Split a comparison prompt written with assistant answer blocks (LLaVA-Bench, MT-bench, WildVision)."""
    starts = {m.group(1).upper(): m for m in _BLOCK_START.finditer(text)}
    ends = {m.group(1).upper(): m for m in _BLOCK_END.finditer(text)}
    keys = ("1", "2") if "1" in starts else ("A", "B")
    if not all(k in starts and k in ends for k in keys):
        raise ParseError("no 'Question:' and no assistant answer blocks")
    (s1, s2), (e1, e2) = (starts[k] for k in keys), (ends[k] for k in keys)
    if not s1.end() <= e1.start() <= s2.start() <= s2.end() <= e2.start():
        raise ParseError("assistant answer blocks out of order")
    question_marker = _BLOCK_QUESTION.search(text, 0, s1.start())
    if question_marker is None:
        raise ParseError("no [Question] before the assistant answers")
    question = _unbracket(text, question_marker.end(), s1.start())
    return PairPrompt(
        text=text,
        instruction=text[: question_marker.start()].strip(),
        question=text[slice(*question)],
        first=_unbracket(text, s1.end(), e1.start()),
        second=_unbracket(text, s2.end(), e2.start()),
        style="assistant",
    )


_POINT_MARKERS = ["the response:", "response:", "the answer:", "answer:", "the caption:", "caption:"]
_CAPTION_MARKERS = ["text caption:", "caption:"]
# The caption-rating layout (LLaVA-Critic paper, Figure 2 "Pointwise Scoring": "From 0 to 100, how much do you
# rate for this Text Caption ..." then `Text Caption: ...`) asks no question: the caption answers the image
# itself. Its rows take this captioning request as their question, so every task can rebuild a prompt.
CAPTION_QUESTION = "Describe the image."


def split_point_prompt(human: str) -> tuple[str, str, str]:
    """(instruction, question, response) of a pointwise judge prompt: `Question: [..]` followed by
    `The response: [..]` (or `Response:`, `Answer:`, `Caption:`); or, with no question, an instruction
    followed by `Text Caption: ..` (the paper's caption-rating layout, question `CAPTION_QUESTION`)."""
    text = strip_image_tokens(human)
    lower = text.lower()
    q = lower.find(_QUESTION)
    if q == -1:
        for marker in _CAPTION_MARKERS:
            i = lower.rfind(marker)
            if i != -1 and text[:i].strip():
                caption = _unbracket(text, i + len(marker), _end_before_assistant_tail(text, i))
                if text[slice(*caption)].strip():
                    return text[:i].strip(), CAPTION_QUESTION, text[slice(*caption)]
        raise ParseError("no 'Question:' (nor a 'Text Caption:' after an instruction) in the pointwise prompt")
    for marker in _POINT_MARKERS:
        i = lower.find(marker, q + len(_QUESTION))
        if i != -1:
            question = _unbracket(text, q + len(_QUESTION), i)
            response = _unbracket(text, i + len(marker), _end_before_assistant_tail(text, i))
            return text[:q].strip(), text[slice(*question)], text[slice(*response)]
    raise ParseError("no response marker after 'Question:' in the pointwise prompt")


# --- verdicts ----------------------------------------------------------------------------------------

_WINDOW = 80  # characters after a marker that a verdict or score may sit in
# Words may be followed by anything; a bare letter only by a closing mark (so "a detailed answer" is
# not read as verdict "A"); a bare digit by anything but more digits.
_VERDICT_HEAD = re.compile(
    r"(?:the )?(?:(first|second|response ?[12ab]|tie|equally good|equal|both)\b"
    r"|([12])(?![\d.])"
    r"|([ab])(?=[\]\[.,;:!)\n*\"']|$))"
)
_TIE_WORDS = re.compile(r"\bequally good\b|\bequally (?:helpful|accurate|strong|valid)\b", re.I)
_VERDICT_WORDS = {
    "first": "1",
    "1": "1",
    "a": "1",
    "response1": "1",
    "responsea": "1",
    "second": "2",
    "2": "2",
    "b": "2",
    "response2": "2",
    "responseb": "2",
    "tie": "tie",
    "equal": "tie",
    "equallygood": "tie",
    "both": "tie",
}


def _windows_after(text: str, marker: str):
    """Lower-cased, bounded slices of `text` after each occurrence of `marker` (lower-case)."""
    lower = text.lower()
    start = lower.find(marker)
    while start != -1:
        end = start + len(marker)
        yield lower[end : end + _WINDOW]
        start = lower.find(marker, end)


def parse_pair_verdict(gpt: str) -> str | None:
    """`"1"`, `"2"` or `"tie"` from a pairwise rationale; the last explicit verdict wins.

    Explicit `The better response: [...]` beats tie wording, because rationales often say things like
    "not equally good" before concluding.
    """
    verdict = None
    for window in _windows_after(gpt, "better response"):
        window = window.lstrip(" \t*:")
        if window.startswith("is "):
            window = window[3:]
        match = _VERDICT_HEAD.match(window.lstrip(" \t*:[\"'"))
        if match:
            word = next(group for group in match.groups() if group)
            verdict = _VERDICT_WORDS[word.replace(" ", "")]
    if verdict is not None:
        return verdict
    if _TIE_WORDS.search(gpt):
        return "tie"
    return None


_SCORE_HEAD = re.compile(r"[\s:：*\[]*(\d{1,3}(?:\.\d+)?)")
_TWO_SCORES = re.compile(r"(\d{1,2}(?:\.\d+)?)(?:, ?| )(\d{1,2}(?:\.\d+)?)")
_ARENA = re.compile(r"\[\[(A>>B|A>B|A=B|B>A|B>>A|A|B|C)\]\]")
_ARENA_LABEL = {"A>>B": "1", "A>B": "1", "A=B": "tie", "B>A": "2", "B>>A": "2", "A": "1", "B": "2", "C": "tie"}


def parse_final_score(gpt: str) -> int | None:
    """The last `Final Score: N` (0-100); `None` if absent, out of range or not a whole number."""
    value = None
    for window in _windows_after(gpt, "final score"):
        match = _SCORE_HEAD.match(window)
        if match:
            value = float(match.group(1))
    if value is None or not value.is_integer() or not 0 <= value <= 100:
        return None
    return int(value)


def parse_two_scores(gpt: str) -> tuple[float, float] | None:
    """LLaVA-Bench style: the first non-empty line is two scores (1-10) for assistants 1 and 2."""
    for line in gpt.splitlines():
        line = line.strip()
        if line:
            match = _TWO_SCORES.fullmatch(line) if len(line) <= 16 else None
            if not match:
                return None
            scores = float(match.group(1)), float(match.group(2))
            return scores if all(0 <= s <= 10 for s in scores) else None
    return None


def parse_arena_verdict(gpt: str) -> str | None:
    """WildVision / Arena-Hard `[[A>B]]` style, or MT-bench's `[[A]]` / `[[B]]` / `[[C]]` (tie); the last wins."""
    matches = _ARENA.findall(gpt)
    return _ARENA_LABEL[matches[-1]] if matches else None


def label_from_scores(first: float, second: float) -> str:
    return "1" if first > second else "2" if second > first else "tie"
