"""Synthetic critic data in the exact LLaVA-Critic-113k schema, with pictures a tiny model can learn.

Each image shows one to three shapes of known colour and place; each question asks a colour, a count or
a position; one response is right and the other wrong (or, for ties, both right). Rows are written in
every spelling the real data uses (pairwise markers first/second, 1/2, A/B and their verdicts, ties;
pointwise `Final Score: N`, LLaVA-Bench two-score lines and `[[A>B]]`-style verdicts), so the same
converter path that reads the real 113k reads these, and a demo can show a model *learning* to judge.
"""

from __future__ import annotations

import io
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageDraw

from data_converters.layouts import LAYOUTS, PAIR_STYLES, judge_row, raw_row

COLOURS = {"red": (220, 30, 30), "green": (30, 160, 60), "blue": (30, 60, 220), "yellow": (235, 200, 20)}
SHAPES = ("circle", "square", "triangle")
POSITIONS = ("left", "middle", "right")
SIDE = 84  # px; three 28 px columns, the Qwen patch grid

POINT_INSTRUCTION = (
    "From 0 to 100, how much do you rate the response in terms of its correctness for the question about the "
    'image? Provide a few lines for explanation and the rate number at last after "Final Score:".'
)
BENCH_INSTRUCTION = (
    "We would like to request your feedback on the performance of two AI assistants in response to the user "
    "question displayed above. Please first output a single line containing only two values indicating the "
    "scores for Assistant 1 and 2, respectively, on a scale of 1 to 10."
)
ARENA_VERDICTS = {("1", True): "[[A>>B]]", ("1", False): "[[A>B]]", ("2", False): "[[B>A]]", ("2", True): "[[B>>A]]"}


@dataclass(frozen=True)
class Drawing:
    """How pictures are drawn beyond the plain 84 px white picture: canvas sides, backgrounds (a share of them
    two-tone), shapes, and up to `tint` per channel off each named colour."""

    sides: tuple[int, ...]
    backgrounds: tuple[tuple[int, int, int], ...]
    shapes: tuple[str, ...]
    tint: int = 30


# `varied` trains a critic to read the colour whatever the drawing; `unseen` draws what `varied` never does
# (other canvas sides, backgrounds and shapes): a held-out check of a critic trained on plain or varied pictures.
DRAWINGS: dict[str, Drawing | None] = {
    "plain": None,
    "varied": Drawing(
        sides=(56, 84, 112),
        backgrounds=((255, 255, 255), (205, 205, 205), (245, 235, 205), (70, 70, 70)),
        shapes=("circle", "square", "triangle", "diamond"),
    ),
    "unseen": Drawing(
        sides=(70, 140),
        backgrounds=((15, 15, 15), (225, 215, 240), (190, 225, 190)),
        shapes=("hexagon", "star", "ring"),
    ),
}


def draw_scene(
    rng: random.Random, max_shapes: int = 3, drawing: str = "plain"
) -> tuple[bytes, list[tuple[str, str, str]]]:
    """A PNG with 1-`max_shapes` shapes in distinct columns; returns (png bytes, [(colour, shape, position)]).

    `plain`: an 84 px white picture, circles, squares and triangles in four exact colours. `varied` and `unseen`
    (`DRAWINGS`): what a critic that reads colours should not care about changes too."""
    count = rng.randint(1, max_shapes)
    columns = sorted(rng.sample(range(3), count))
    style = DRAWINGS[drawing]
    side = rng.choice(style.sides) if style else SIDE
    image = Image.new("RGB", (side, side), rng.choice(style.backgrounds) if style else "white")
    draw = ImageDraw.Draw(image)
    if style and rng.random() < 0.3:  # a two-tone background: the lower half another shade
        draw.rectangle((0, side // 2, side, side), fill=rng.choice(style.backgrounds))
    objects = []
    for column in columns:
        colour, shape = rng.choice(list(COLOURS)), rng.choice(style.shapes if style else SHAPES)
        if max_shapes == 1:  # one shape filling most of the picture: the easiest scene to read
            size = rng.randint(side * 2 // 5, side * 9 // 10) if style else rng.randint(48, 64)
            x0, y0 = rng.randint(2, side - size - 2), rng.randint(2, side - size - 2)
        else:
            size, x0 = side // 3 - 6, column * (side // 3) + 3
            y0 = rng.randint(3, side - size - 3)
        fill = _tinted(rng, COLOURS[colour], style.tint) if style else COLOURS[colour]
        _draw_shape(draw, shape, (x0, y0, x0 + size, y0 + size), fill)
        objects.append((colour, shape, POSITIONS[column] if count > 1 else "middle"))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue(), objects


def _tinted(rng: random.Random, rgb: tuple[int, int, int], tint: int) -> tuple[int, int, int]:
    """A colour moved up to `tint` per channel: the same colour name, another shade."""
    return tuple(min(255, max(0, channel + rng.randint(-tint, tint))) for channel in rgb)


def _draw_shape(draw: ImageDraw.ImageDraw, shape: str, box: tuple[int, int, int, int], fill) -> None:
    x0, y0, x1, y1 = box
    cx, cy, r = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2
    if shape == "circle":
        draw.ellipse(box, fill=fill)
    elif shape == "square":
        draw.rectangle(box, fill=fill)
    elif shape == "triangle":
        draw.polygon([((x0 + x1) // 2, y0), (x0, y1), (x1, y1)], fill=fill)
    elif shape == "diamond":
        draw.polygon([(cx, y0), (x1, cy), (cx, y1), (x0, cy)], fill=fill)
    elif shape == "hexagon":
        draw.regular_polygon((cx, cy, r), 6, fill=fill)
    elif shape == "star":
        points = [
            (
                cx + (r if k % 2 == 0 else r / 2) * math.sin(k * math.pi / 5),
                cy - (r if k % 2 == 0 else r / 2) * math.cos(k * math.pi / 5),
            )
            for k in range(10)
        ]
        draw.polygon(points, fill=fill)
    else:  # ring
        draw.ellipse(box, outline=fill, width=max(3, int(r / 3)))


QUESTION_KINDS = ("colour", "count", "position")


def question_and_answers(
    rng: random.Random,
    objects: list[tuple[str, str, str]],
    questions: tuple[str, ...] = QUESTION_KINDS,
    name_shape: bool = True,
) -> tuple[str, str, str, str]:
    """(kind, question, right answer, wrong answer) about the scene, of one of the `questions` kinds
    (a position question needs 2+ shapes; see `_scene`). `name_shape=False` asks about a lone shape as
    "the shape", so answers differ only in what the question asks (no shape word to get wrong)."""
    kind = rng.choice([k for k in questions if k != "position" or len(objects) > 1])
    colour, shape, position = rng.choice(objects)
    if not name_shape and len(objects) == 1:
        shape = "shape"
    if kind == "colour":
        wrong = rng.choice([c for c in COLOURS if c != colour])
        question = f"What colour is the {shape}?" if len(objects) == 1 else f"What colour is the {position} shape?"
        return kind, question, f"The {shape} is {colour}.", f"The {shape} is {wrong}."
    if kind == "count":
        wrong = rng.choice([n for n in (1, 2, 3, 4) if n != len(objects)])
        noun = lambda n: "shape" if n == 1 else "shapes"  # noqa: E731
        return (
            kind,
            "How many shapes are there?",
            f"There are {len(objects)} {noun(len(objects))}.".replace("are 1 shape", "is 1 shape"),
            f"There are {wrong} {noun(wrong)}.".replace("are 1 shape", "is 1 shape"),
        )
    wrong = rng.choice([p for p in POSITIONS if p != position])
    return (
        kind,
        f"Where is the {colour} {shape}?",
        f"The {colour} {shape} is {_place(position)}.",
        (f"The {colour} {shape} is {_place(wrong)}."),
    )


def _place(position: str) -> str:
    return "in the middle" if position == "middle" else f"on the {position}"


def _scene(
    rng: random.Random, questions: tuple[str, ...], max_shapes: int, drawing: str
) -> tuple[bytes, list[tuple[str, str, str]]]:
    """A scene some requested question kind can be asked about (position-only needs 2+ shapes)."""
    png, objects = draw_scene(rng, max_shapes, drawing)
    while questions == ("position",) and len(objects) < 2:
        png, objects = draw_scene(rng, max_shapes, drawing)
    return png, objects


@dataclass(frozen=True)
class _RowSettings:
    """What every synthetic row of one `synthetic_rows` call shares (validated there)."""

    tie_rate: float
    questions: tuple[str, ...]
    max_shapes: int
    layout: str
    name_shape: bool
    drawing: str
    better_deck: tuple[str, ...]  # with `balanced`: the better response of row i, else empty

    def better(self, rng: random.Random, index: int) -> str:
        """Which response (`1` or `2`) row `index` makes the better one. The draw is made either way, so a
        balanced set has the same pictures and questions as an unbalanced one of the same seed."""
        drawn = rng.choice(("1", "2"))
        return self.better_deck[index] if self.better_deck else drawn

    def scene_question(self, rng: random.Random) -> tuple[bytes, tuple[str, str, str, str]]:
        """A scene and one question about it: (png, (kind, question, right answer, wrong answer))."""
        png, objects = _scene(rng, self.questions, self.max_shapes, self.drawing)
        return png, question_and_answers(rng, objects, self.questions, self.name_shape)


def _pair_row(rng: random.Random, index: int, settings: _RowSettings) -> dict[str, Any]:
    png, (kind, question, right, wrong) = settings.scene_question(rng)
    if rng.random() < settings.tie_rate:
        responses, better = [right, right.replace("The ", "I think the ", 1)], "tie"
    else:
        better = settings.better(rng, index)
        responses = [right, wrong] if better == "1" else [wrong, right]
    style = index % len(PAIR_STYLES)
    return judge_row(
        f"synthetic-pair-{index}",
        f"synthetic-{kind}",
        png,
        question,
        responses,
        better,
        right,
        rng,
        style,
        settings.layout,
    )


def _point_row(rng: random.Random, index: int, settings: _RowSettings) -> dict[str, Any]:
    png, (kind, question, right, wrong) = settings.scene_question(rng)
    style = index % 3
    if style == 0:  # single response, Final Score 0-100
        correct = rng.random() < 0.5
        response, score = (right, rng.randint(80, 100)) if correct else (wrong, rng.randint(0, 30))
        human = f"<image>\n{POINT_INSTRUCTION}\nQuestion: [{question}]\nThe response: [{response}]"
        gpt = f"The response says: {response} It is {'correct' if correct else 'wrong'}. Final Score: {score}"
        return raw_row(f"synthetic-score-{index}", f"synthetic-{kind}", human, gpt, png)
    tie = rng.random() < settings.tie_rate
    better = "tie" if tie else settings.better(rng, index)
    responses = [right, right] if tie else ([right, wrong] if better == "1" else [wrong, right])
    if style == 1:  # LLaVA-Bench: two scores on the first line
        high, low = rng.randint(8, 10), rng.randint(1, 4)
        scores = (high, high) if tie else (high, low) if better == "1" else (low, high)
        human = (
            f"<image>\n[Question]\n{question}\n\n[Assistant 1]\n{responses[0]}\n\n[End of Assistant 1]\n\n"
            f"[Assistant 2]\n{responses[1]}\n\n[End of Assistant 2]\n\n[System]\n{BENCH_INSTRUCTION}\n\n"
        )
        gpt = f"{scores[0]} {scores[1]}\nThe right answer is: {right}"
        return raw_row(f"synthetic-bench-{index}", f"synthetic-{kind}", human, gpt, png)
    verdict = "[[A=B]]" if tie else ARENA_VERDICTS[(better, rng.random() < 0.5)]
    human = (
        f"<image>\n<|User Prompt|>\n{question}\n\n<|The Start of Assistant A's Answer|>\n{responses[0]}\n"
        f"<|The End of Assistant A's Answer|>\n\n<|The Start of Assistant B's Answer|>\n{responses[1]}\n"
        f"<|The End of Assistant B's Answer|>"
    )
    gpt = f"The right answer is: {right}\n\nMy final verdict is: {verdict}"
    return raw_row(f"synthetic-arena-{index}", f"synthetic-{kind}", human, gpt, png)


def synthetic_rows(
    n: int,
    kind: str = "pairwise",
    seed: int = 0,
    tie_rate: float = 0.1,
    questions: tuple[str, ...] = QUESTION_KINDS,
    max_shapes: int = 3,
    layout: str = "mixed",
    name_shape: bool | None = None,
    drawing: str = "plain",
    balanced: bool = False,
) -> Iterator[dict[str, Any]]:
    """`n` rows of the `pairwise` or `pointwise` config (or `both`, alternating), asking `questions` kinds
    about scenes of 1-`max_shapes` shapes. `layout="short"` writes every pairwise row with one brief
    instruction and the `Response 1/2` markers (the demo's tiny model learns far faster on short prompts)
    and asks about a lone shape as "the shape"; `mixed` varies instructions and markers like the real data.
    `name_shape` (default: all but `short`) names a lone shape in the question ("What colour is the
    square?"); without it answers differ only in what is asked, the one thing a judge must check. `drawing`:
    `plain` pictures, `varied` ones or `unseen` ones (`DRAWINGS`). `balanced` makes the first response the better
    one in exactly half the rows, in a shuffled order (with ties, half the rows less those tied): a held-out set on
    which a judge that always names one position, or never looks at the picture, scores 50%, not the share a
    random draw happened to give that position (measured: 61.5% on one 200-row demo test split)."""
    if kind not in ("pairwise", "pointwise", "both"):
        raise ValueError(f"kind must be pairwise, pointwise or both, not {kind!r}")
    questions = tuple(questions)
    if not questions or set(questions) - set(QUESTION_KINDS):
        raise ValueError(f"questions must be among {', '.join(QUESTION_KINDS)}, not {questions!r}")
    if not 1 <= max_shapes <= 3:
        raise ValueError(f"max_shapes must be 1, 2 or 3, not {max_shapes}")
    if questions == ("position",) and max_shapes < 2:
        raise ValueError("position questions need max_shapes >= 2")
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}, not {layout!r}")
    if drawing not in DRAWINGS:
        raise ValueError(f"drawing must be one of {', '.join(DRAWINGS)}, not {drawing!r}")
    name_shape = layout != "short" if name_shape is None else name_shape
    deck = ["1", "2"] * (n // 2) + ["1"] * (n % 2) if balanced else []
    random.Random(f"balanced-{seed}").shuffle(deck)
    settings = _RowSettings(tie_rate, questions, max_shapes, layout, name_shape, drawing, tuple(deck))
    rng = random.Random(seed)
    for index in range(n):
        pair = kind == "pairwise" or (kind == "both" and index % 2 == 0)
        make_row = _pair_row if pair else _point_row
        yield make_row(rng, index, settings)
