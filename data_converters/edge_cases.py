"""Hand-made rows in the LLaVA-Critic-113k schema that real data contains and parsers get wrong, plus rows a
converter must reject: the shipped sample (`make sample-data`) appends them to the synthetic rows."""

from __future__ import annotations

import random
from typing import Any

from data_converters.layouts import PAIR_INSTRUCTIONS, raw_row
from data_converters.synthetic import POINT_INSTRUCTION, draw_scene


def edge_case_rows(seed: int = 0) -> list[dict[str, Any]]:
    """Hand-made rows that real data contains and parsers get wrong: brackets, newlines, markdown and
    non-English text inside responses, a response quoting the other marker, verdict spelling variants,
    and rows that must be *rejected* (no verdict, empty question, missing response, broken image)."""
    rng = random.Random(seed)
    png, _ = draw_scene(rng)
    instruction = PAIR_INSTRUCTIONS[0]

    def pair(question: str, first: str, second: str, markers=("Response 1", "Response 2")) -> str:
        return f"<image>\n{instruction}\nQuestion: [{question}]\n{markers[0]}: [{first}]\n{markers[1]}: [{second}]\n"

    def blocks(question: str, first: str, second: str) -> str:
        """MT-bench's pairwise judge layout, whose verdicts are `[[A]]`, `[[B]]` or `[[C]]` (a tie)."""
        return (
            f"<image>\n[User Question]\n{question}\n\n[The Start of Assistant A's Answer]\n{first}\n"
            f"[The End of Assistant A's Answer]\n\n[The Start of Assistant B's Answer]\n{second}\n"
            "[The End of Assistant B's Answer]"
        )

    rows = [
        (
            "edge-brackets",
            pair("What does [the sign] say?", "It says [STOP] (in red).", "It says [GO]."),
            "The sign reads STOP. The better response: [1]",
        ),
        (
            "edge-newlines-markdown",
            pair("Describe the image.", "**Shapes:**\n- a red circle\n- a blue square", "# Title\n\n1. nothing"),
            "The better response: **Response 1**",
        ),
        ("edge-non-english", pair("图中是什么颜色？", "红色。", "蓝色。"), "图中是红色。 The better response: [2]"),
        (
            "edge-quoted-marker",
            pair("Which is right?", "I agree with Response 2: [blue] is wrong.", "Red."),
            "The better response is Response B.",
        ),
        (
            "edge-verdict-the-first",
            pair("Colour?", "Red.", "Blue.", ("The first response", "The second response")),
            "Overall, the first is accurate. The better response: [The first response]",
        ),
        ("edge-tie-equal", pair("Colour?", "Red.", "It is red."), "Two responses are equally good."),
        (
            "edge-not-equal-then-verdict",
            pair("Colour?", "Red.", "Blue."),
            "They are not equally good. The better response: [first]",
        ),
        ("edge-mt-bench-a", blocks("Colour?", "Red.", "Blue."), "Assistant A names the right colour. [[A]]"),
        ("edge-mt-bench-b", blocks("Colour?", "Blue.", "Red."), "Assistant B is right.\n\n[[B]]"),
        ("edge-mt-bench-tie", blocks("Colour?", "Red.", "It is red."), "Both are right. [[C]]"),
        ("edge-reject-no-verdict", pair("Colour?", "Red.", "Blue."), "Both have merits and flaws."),
        ("edge-reject-empty-question", pair("  ", "Red.", "Blue."), "The better response: [1]"),
        ("edge-reject-missing-response", pair("Colour?", "Red.", ""), "The better response: [1]"),
        (
            "edge-reject-final-score-range",
            f"<image>\n{POINT_INSTRUCTION}\nQuestion: [Colour?]\nThe response: [Red.]",
            "Final Score: 150",
        ),
    ]
    out = [raw_row(row_id, "edge", human, gpt, png) for row_id, human, gpt in rows]
    broken = raw_row(
        "edge-reject-corrupt-image", "edge", pair("Colour?", "Red.", "Blue."), "The better response: [1]", png
    )
    broken["image"] = {"bytes": b"not a png", "path": "broken.png"}
    missing = raw_row(
        "edge-reject-missing-image", "edge", pair("Colour?", "Red.", "Blue."), "The better response: [2]", png
    )
    missing["image"] = None
    return out + [broken, missing]
