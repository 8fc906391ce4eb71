"""`rl-critic convert`: critic preference data -> verifiable targets and SFT / DPO / GRPO / eval datasets.

Reads a parquet / JSONL file, a `save_to_disk` folder or a hub id as one of the known sources, writes a
dataset folder that TRL loads directly (`--dataset_name DIR`), plus `rejected.jsonl` (every row that could
not be used, with its reason) and `summary.json`.
"""

from __future__ import annotations

from data_converters.schema import TASKS
from rl_critic.cli import CliParser

SOURCE_NAMES = [
    "llava-critic-pairwise", "llava-critic-pointwise", "vl-rewardbench", "multimodal-rewardbench",
    "mm-rlhf-rewardbench", "mllm-judge-pair", "mllm-judge-score", "preference",
]  # fmt: skip


def make_parser() -> CliParser:
    parser = CliParser(prog="rl-critic convert", description=__doc__.splitlines()[0].split(": ", 1)[1])
    parser.add_argument("--source", required=True, choices=SOURCE_NAMES, help="what the input is")
    parser.add_argument("--input", required=True, help="parquet/JSONL file, save_to_disk or parquet folder, or hub id")
    parser.add_argument(
        "--task",
        required=True,
        choices=list(TASKS),
        help="what to make of it (sft-r1: R1-format warm start: think + boxed verdict; sft-policy: the "
        "question answered with the preferred response)",
    )
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--seed", type=int, default=0, help="response-order randomisation seed (default: 0)")
    parser.add_argument(
        "--keep-order",
        action="store_true",
        help="keep the source's response order (data already in random order, e.g. make-synthetic): "
        "rationales that name positions then stay true for sft-r1",
    )
    parser.add_argument("--keep-ties", action="store_true", help="keep tied pairs for grpo (eval always keeps them)")
    parser.add_argument("--limit", type=int, help="convert only the first N input rows")
    parser.add_argument("--num-proc", type=int, help="worker processes (default: 1)")
    parser.add_argument("--strict", action="store_true", help="fail, writing nothing, if any row is rejected")
    parser.add_argument(
        "--format",
        choices=["parquet", "disk"],
        default="parquet",
        help="parquet folder (default; `load_dataset(DIR)` and `trl` read it) or save_to_disk folder",
    )
    parser.add_argument("--config", dest="hub_config", help="hub dataset config (default: the source's own)")
    parser.add_argument("--split", help="split to read when the input has several")
    parser.add_argument("--overwrite", action="store_true", help="replace the output folder if it exists")
    return parser


def main(argv: list[str]) -> int:
    args = make_parser().parse_args(argv)
    if args.limit is not None and args.limit < 0:
        make_parser().error("--limit must be >= 0")
    from data_converters.convert import convert

    seed = None if args.keep_order else args.seed

    summary = convert(
        args.source, args.input, args.task, args.out, seed=seed, keep_ties=args.keep_ties, limit=args.limit,
        num_proc=args.num_proc, strict=args.strict, out_format=args.format, hub_config=args.hub_config,
        split=args.split, overwrite=args.overwrite,
    )  # fmt: skip
    print(format_summary(summary, args.out))
    return 0


def format_summary(summary: dict, out: str) -> str:
    rate = summary["rows_read"] / summary["seconds"] if summary["seconds"] else 0.0
    lines = [
        f"{summary['source']} -> {summary['task']}: read {summary['rows_read']} rows, wrote {summary['rows_written']}"
        f" ({summary['seconds']:.1f} s, {rate:,.0f} rows/s) -> {out}",
        "labels:   " + (", ".join(f"{k}: {v}" for k, v in summary["labels"].items()) or "none"),
    ]
    if summary["scores"]:
        s = summary["scores"]
        lines.append(f"scores:   {s['count']} (min {s['min']:g}, max {s['max']:g}, mean {s['mean']:g})")
    rejected = summary["rejected"]
    lines.append(f"rejected: {sum(rejected.values())}" + (" (see rejected.jsonl)" if rejected else ""))
    lines += [f"  {count:>6}  {reason}" for reason, count in rejected.items()]
    return "\n".join(lines)
