"""Reading a completion: its text, whitespace-tolerant tags, the last `\\boxed{...}`.

Everything here is linear in the length of the completion. Reward functions see whatever a model emits
(a megabyte of spaces, ten thousand `\\boxed{` with no closing brace), and one slow regex would stall a
whole GRPO step, so nothing uses a pattern that can backtrack: only `str.find`, `str.split` on single
characters, and regexes over single characters.
"""

from __future__ import annotations

import re
from typing import Any

BOXED = "\\boxed{"
_BRACES = re.compile(r"[{}]")
_TAG_CHARS = re.compile(r"([<>/])")


def completion_text(completion: Any) -> str:
    """The text of a TRL completion: a plain string, or a list of messages (the last one's content).

    Content may be a string or a list of parts (`{"type": "text", "text": ...}`); `None` reads as "".
    """
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list) and len(completion) == 1 and isinstance(completion[0], dict):
        content = completion[0].get("content")
        if isinstance(content, str):  # the usual TRL shape, without the general walk below
            return content
    if completion is None:
        return ""
    if isinstance(completion, dict):
        return completion_text(completion.get("content"))
    if isinstance(completion, list):
        if not completion:
            return ""
        if all(isinstance(part, dict) and "role" not in part for part in completion):
            return "".join(str(part.get("text") or "") for part in completion if part.get("type", "text") == "text")
        return completion_text(completion[-1])
    return str(completion)


def collapse_tag_spaces(text: str) -> str:
    """Remove whitespace around `<`, `>` and `/` (the official recipe's `re.sub(r"\\s*(<|>|/)\\s*", ...)`,
    which is quadratic on long whitespace runs; this split-and-strip gives the same string in linear time)."""
    if "<" not in text and ">" not in text and "/" not in text:
        return text
    pieces = _TAG_CHARS.split(text)  # text, sep, text, sep, ..., text
    for i in range(0, len(pieces), 2):
        if i > 0:
            pieces[i] = pieces[i].lstrip()
        if i < len(pieces) - 1:
            pieces[i] = pieces[i].rstrip()
    return "".join(pieces)


def _matching_brace(text: str, open_index: int) -> int:
    """Index of the `}` closing the `{` at `open_index`, or -1."""
    depth = 0
    for match in _BRACES.finditer(text, open_index):
        depth += 1 if match.group() == "{" else -1
        if depth == 0:
            return match.start()
    return -1


def last_boxed(text: str) -> str | None:
    """Content of the last `\\boxed{...}` (nested braces allowed); None if there is none or its braces
    do not balance.

    Only the last box counts, as in the official reward (mathruler's `extract_boxed_content`): a completion
    cut by `max_completion_length` inside its last box has no answer, even when an earlier box balances
    (scoring that earlier box would reward a verdict the model went on to revise).
    """
    last = text.rfind(BOXED)
    if last == -1:
        return None
    open_index = last + len(BOXED) - 1
    close = _matching_brace(text, open_index)
    return text[open_index + 1 : close] if close != -1 else None


def last_answer_tag(text: str) -> str | None:
    """Content of the last `<answer>...</answer>`, or None."""
    end = text.rfind("</answer>")
    if end == -1:
        return None
    start = text.rfind("<answer>", 0, end)
    return text[start + len("<answer>") : end] if start != -1 else None


def final_answer(text: str) -> str | None:
    """What a judge answered: the last box, else (no box, or its braces do not balance) the last `<answer>`
    tag. Judging and evaluation read both; the training reward `critic` reads only the box, as the official
    reward does."""
    boxed = last_boxed(text)
    return boxed if boxed is not None else last_answer_tag(collapse_tag_spaces(text))


def unwrap_latex(text: str) -> str:
    """`\\text{1}`, `\\textbf{A}`, `\\mathrm{tie}`, `{1}` -> their content (repeatedly, for nesting)."""
    if "\\" not in text and "{" not in text:
        return text.strip()
    for _ in range(4):
        stripped = text.strip()
        for command in ("\\text{", "\\textbf{", "\\mathrm{", "\\mathbf{", "\\textit{", "{"):
            if stripped.startswith(command) and stripped.endswith("}"):
                stripped = stripped[len(command) : -1]
                break
        else:
            return stripped
        text = stripped
    return text.strip()
