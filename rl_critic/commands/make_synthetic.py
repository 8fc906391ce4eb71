"""`rl-critic make-synthetic`: critic data about drawn shapes, in the exact LLaVA-Critic-113k schema.

Images of 1-3 coloured shapes; questions on colour, count and position; one right and one wrong response
(or two right ones, a tie), written in every pairwise and pointwise spelling of the real data. Convert it
like the real thing: `rl-critic convert --source llava-critic-pairwise --input synthetic.parquet ...`.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from data_converters.synthetic import LAYOUTS
from rl_critic.cli import CliParser
from rl_critic.errors import UserError


def make_parser() -> CliParser:
    parser = CliParser(prog="rl-critic make-synthetic", description=__doc__.splitlines()[0].split(": ", 1)[1])
    parser.add_argument("--n", type=int, required=True, help="rows to generate")
    parser.add_argument("--out", required=True, help="output .parquet file")
    parser.add_argument(
        "--kind",
        choices=["pairwise", "pointwise", "both"],
        default="pairwise",
        help="which 113k config to imitate (default: pairwise)",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument("--tie-rate", type=float, default=0.1, help="fraction of tied pairs (default: 0.1)")
    parser.add_argument(
        "--questions", default="colour,count,position", help="question kinds, comma-separated (default: all three)"
    )
    parser.add_argument(
        "--max-shapes", type=int, default=3, help="shapes per image, 1 to this (default: 3; 1 is the easiest)"
    )
    parser.add_argument(
        "--layout",
        choices=list(LAYOUTS),
        default="mixed",
        help="pairwise prompts: mixed instructions and markers like the real data (default), or one short "
        "instruction with Response 1/2 markers (the demo's tiny model learns faster)",
    )
    parser.add_argument(
        "--edge-cases",
        action="store_true",
        help="append hand-made edge-case rows (odd spellings and rows that must be rejected)",
    )
    return parser


def main(argv: list[str]) -> int:
    args = make_parser().parse_args(argv)
    if args.n < 0:
        raise UserError("--n must be >= 0")
    if not args.out.endswith(".parquet"):
        raise UserError("--out must be a .parquet file")
    from datasets import Dataset

    from data_converters.synthetic import edge_case_rows, features, synthetic_rows

    questions = tuple(q.strip() for q in args.questions.split(",") if q.strip())
    try:
        list(synthetic_rows(0, args.kind, args.seed, args.tie_rate, questions, args.max_shapes, args.layout))
    except ValueError as err:
        raise UserError(str(err)) from err

    def rows():
        yield from synthetic_rows(args.n, args.kind, args.seed, args.tie_rate, questions, args.max_shapes, args.layout)
        if args.edge_cases:
            yield from edge_case_rows(args.seed)

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial")
    # A private cache dir: datasets would otherwise reuse an earlier run's rows when its hash of the
    # generator closure collides (measured: a new --layout came back with the old prompts).
    with tempfile.TemporaryDirectory(prefix="rl-critic-synthetic-") as cache_dir:
        dataset = Dataset.from_generator(rows, features=features(), cache_dir=cache_dir)
        dataset.to_parquet(str(partial))
        rows_written = len(dataset)
        del dataset
    partial.replace(out)
    print(f"wrote {rows_written} rows ({args.kind}) -> {out} ({out.stat().st_size / 1e6:.2f} MB)")
    return 0
