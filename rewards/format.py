"""Format reward: did the completion think in `<think>` tags and then box an answer?

The official LLaVA-Critic-R1 (EasyR1) check is `re.fullmatch(r"<think>.*</think>.*\\\\boxed\\{.*\\}.*", text,
re.DOTALL)` after collapsing whitespace around `<`, `>`, `/`. That pattern backtracks polynomially on long
completions; `official_format_ok` decides exactly the same language with `str.find`:
starts with `<think>`, has a `</think>` after it, a `\\boxed{` after that, and a `}` after that.
"""

from __future__ import annotations

from typing import Any

from rewards.options import flag
from rewards.text import BOXED, collapse_tag_spaces, completion_text


def official_format_ok(text: str) -> bool:
    """The official full-match, on text already passed through `collapse_tag_spaces`."""
    if not text.startswith("<think>"):
        return False
    end_think = text.find("</think>", len("<think>"))
    if end_think == -1:
        return False
    box = text.find(BOXED, end_think + len("</think>"))
    return box != -1 and text.find("}", box + len(BOXED)) != -1


def answer_tag_format_ok(text: str) -> bool:
    """R1-V style variant: `<think>...</think><answer>...</answer>` and nothing after the answer."""
    if not text.startswith("<think>") or not text.endswith("</answer>"):
        return False
    end_think = text.find("</think>", len("<think>"))
    return end_think != -1 and text.startswith("<answer>", end_think + len("</think>"))


def format_ok(text: str, *, single_think: bool = False, answer_tag: bool = False) -> bool:
    """Whether one completion has the required format (see `FormatReward` for the options)."""
    if not single_think and official_format_ok(text):
        # Collapsing only deletes whitespace, never inside a tag or `\\boxed{`: what passes before
        # collapsing passes after, so the common well-formed case skips it.
        return True
    text = collapse_tag_spaces(text)
    if single_think and (text.count("<think>") != 1 or text.count("</think>") != 1):
        return False
    return official_format_ok(text) or (answer_tag and answer_tag_format_ok(text))


class FormatReward:
    """A TRL reward: 1.0 for the right format, else 0.0 (a picklable class, like every reward here).

    single_think: require exactly one `<think>` block (models sometimes re-open thinking after answering).
    answer_tag: also accept `<think>...</think><answer>...</answer>` without a box.
    """

    __name__ = "format_reward"

    def __init__(self, single_think: bool = False, answer_tag: bool = False) -> None:
        self.single_think, self.answer_tag = flag("single_think", single_think), flag("answer_tag", answer_tag)

    def __call__(self, prompts=None, completions=None, completion_ids=None, **kwargs: Any) -> list[float]:
        texts = [completion_text(c) for c in completions or []]
        options = {"single_think": self.single_think, "answer_tag": self.answer_tag}
        rewards = [1.0 if format_ok(text, **options) else 0.0 for text in texts]
        log_metric = kwargs.get("log_metric")
        if log_metric is not None and rewards:
            log_metric("format/ok_rate", sum(rewards) / len(rewards))
        return rewards


format_reward = FormatReward()
