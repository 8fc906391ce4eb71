"""`rl-critic make-synthetic`: critic data about drawn shapes, in the exact LLaVA-Critic-113k schema.

Images of 1-3 coloured shapes; questions on colour, count and position; one right and one wrong response
(or two right ones, a tie), written in every pairwise and pointwise spelling of the real data. Convert it
like the real thing: `rl-critic convert --source llava-critic-pairwise --input synthetic.parquet ...`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from data_converters.layouts import LAYOUTS
from data_converters.synthetic import DRAWINGS
from rl_critic.cli.dispatch import docstring_summary
from rl_critic.ground.errors import UserError
from rl_critic.script.parsing import parse


@dataclass
class MakeSyntheticArguments:
    n: int = field(metadata={"help": "Rows to generate."})
    out: str = field(metadata={"help": "Output .parquet file."})
    kind: str = field(
        default="pairwise",
        metadata={"help": "Which 113k config to imitate.", "choices": ["pairwise", "pointwise", "both"]},
    )
    seed: int = field(default=0, metadata={"help": "Random seed."})
    tie_rate: float = field(default=0.1, metadata={"help": "Fraction of tied pairs."})
    questions: str = field(default="colour,count,position", metadata={"help": "Question kinds, comma-separated."})
    max_shapes: int = field(default=3, metadata={"help": "Shapes per image, 1 to this (1 is the easiest)."})
    layout: str = field(
        default="mixed",
        metadata={
            "help": "Pairwise prompts: mixed instructions and markers like the real data, or one short "
            "instruction with Response 1/2 markers (the demo's tiny model learns faster).",
            "choices": list(LAYOUTS),
        },
    )
    generic_shape: bool = field(
        default=False,
        metadata={
            "help": "Ask about a lone shape as 'the shape' (What colour is the shape?), so right and wrong "
            "answers differ only in colour; the short layout always does."
        },
    )
    drawing: str = field(
        default="plain",
        metadata={
            "help": "plain: 84 px white pictures of circles, squares and triangles in four exact colours. "
            "varied: other canvas sizes, backgrounds and shapes, tinted colours (a critic learns the colour, not "
            "the drawing). unseen: sizes, backgrounds and shapes varied never draws (a held-out check).",
            "choices": list(DRAWINGS),
        },
    )
    balanced: bool = field(
        default=False,
        metadata={
            "help": "Make the first response the better one in exactly half the rows (shuffled; tied rows aside): a "
            "held-out set on which a judge that ignores the picture or always picks one side is right half the "
            "time. The same pictures and questions as without it."
        },
    )
    edge_cases: bool = field(
        default=False, metadata={"help": "Append hand-made edge-case rows (odd spellings, rows that must be rejected)."}
    )
    overwrite: bool = field(default=False, metadata={"help": "Replace --out if it exists."})


ARGUMENTS = (MakeSyntheticArguments,)


def main(argv: list[str]) -> int:
    (args,) = parse(ARGUMENTS, "rl-critic make-synthetic", argv, docstring_summary(__doc__))
    from data_converters.io import datasets_bars
    from rl_critic.ground.files import check_output_file, private_temp_dir, staged_path

    if not args.out.endswith(".parquet"):
        raise UserError("--out must be a .parquet file")
    check_output_file(args.out, overwrite=args.overwrite)  # before any work
    from datasets import Dataset

    from data_converters.edge_cases import edge_case_rows
    from data_converters.layouts import features
    from data_converters.synthetic import synthetic_rows

    questions = tuple(q.strip() for q in args.questions.split(",") if q.strip())
    name_shape = False if args.generic_shape else None
    settings = dict(
        kind=args.kind,
        seed=args.seed,
        tie_rate=args.tie_rate,
        questions=questions,
        max_shapes=args.max_shapes,
        layout=args.layout,
        name_shape=name_shape,
        drawing=args.drawing,
        balanced=args.balanced,
    )
    try:
        list(synthetic_rows(0, **settings))
    except ValueError as err:
        raise UserError(str(err)) from err

    def rows():
        yield from synthetic_rows(args.n, **settings)
        if args.edge_cases:
            yield from edge_case_rows(args.seed)

    # A private cache dir: datasets would otherwise reuse an earlier run's rows when its hash of the
    # generator closure collides (measured: a new --layout came back with the old prompts).
    with staged_path(args.out) as partial, private_temp_dir("synthetic") as cache_dir, datasets_bars(False):
        dataset = Dataset.from_generator(rows, features=features(), cache_dir=cache_dir)
        dataset.to_parquet(str(partial))
        rows_written = len(dataset)
        del dataset
    out = Path(args.out)
    print(f"wrote {rows_written} rows ({args.kind}) -> {out} ({out.stat().st_size / 1e6:.2f} MB)")
    return 0
