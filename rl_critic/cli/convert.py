"""`rl-critic convert`: critic preference data -> verifiable targets and SFT / DPO / GRPO / eval datasets.

Reads a parquet / JSONL file, a `save_to_disk` folder or a hub id as one of the known sources, writes a
dataset folder that TRL loads directly (`--dataset_name DIR`), plus `rejected.jsonl` (every row that could
not be used, with its reason) and `summary.json`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from data_converters.image_urls import image_urls_field
from data_converters.schema import TASKS
from data_converters.sources import all_sources
from data_converters.videos import video_budget_field
from rl_critic.cli.dispatch import docstring_summary
from rl_critic.script.parsing import parse


@dataclass
class ConvertArguments:
    source: str = field(metadata={"help": "What the input is.", "choices": list(all_sources())})
    input: str = field(metadata={"help": "Parquet/JSONL file, save_to_disk or parquet folder, or hub id."})
    task: str = field(
        metadata={
            "help": "What to make of it (sft-r1: R1-format warm start, think + boxed verdict; sft-policy: "
            "the question answered with the preferred response).",
            "choices": list(TASKS),
        }
    )
    out: str = field(metadata={"help": "Output folder."})
    seed: int = field(default=0, metadata={"help": "Response-order randomisation seed."})
    keep_order: bool = field(
        default=False,
        metadata={
            "help": "Keep the source's response order (data already in random order, e.g. make-synthetic): "
            "rationales that name positions then stay true for sft-r1."
        },
    )
    keep_ties: bool = field(default=False, metadata={"help": "Keep tied pairs for grpo (eval always keeps them)."})
    limit: int | None = field(default=None, metadata={"help": "Convert only the first N input rows."})
    num_proc: int | None = field(default=None, metadata={"help": "Worker processes (default: 1)."})
    strict: bool = field(default=False, metadata={"help": "Fail, writing nothing, if any row is rejected."})
    format: str = field(
        default="parquet",
        metadata={
            "help": "parquet folder (`load_dataset(DIR)` and `trl` read it) or save_to_disk folder.",
            "choices": ["parquet", "disk"],
        },
    )
    dataset_config: str | None = field(
        default=None, metadata={"help": "Hub dataset config (default: the source's own, e.g. pairwise)."}
    )
    split: str | None = field(default=None, metadata={"help": "Split to read when the input has several."})
    overwrite: bool = field(default=False, metadata={"help": "Replace the output folder if it exists."})
    hard_negatives: float = field(
        default=0.0,
        metadata={
            "help": "Share of decided pairs (0-1) that add a hard-negative pair for grpo, sft, sft-r1 or dpo: the "
            "worse response replaced by a content-free answer (`:`, `Thought process:`, ...) or the better one cut "
            "in half, labelled against it (a critic that learns them cannot be fooled by them; summary.json counts "
            "them)."
        },
    )
    images_root: str | None = field(
        default=None,
        metadata={
            "help": "Folder that image file paths in the input must stay in (their bytes are copied into "
            "the output). Default: the input's folder; `any`: no limit.",
        },
    )

    image_urls: str = image_urls_field()
    # how a row's video is sampled; the frames are stored (those of a file as PNG)
    video_fps: float = video_budget_field("video_fps")
    video_max_frames: int = video_budget_field("video_max_frames")
    video_max_pixels: int = video_budget_field("video_max_pixels")


ARGUMENTS = (ConvertArguments,)


def main(argv: list[str]) -> int:
    (args,) = parse(ARGUMENTS, "rl-critic convert", argv, docstring_summary(__doc__))
    from data_converters.convert import convert
    from data_converters.parsing import ParseError
    from data_converters.videos import VideoSampling
    from rl_critic.ground.errors import UserError

    seed = None if args.keep_order else args.seed
    try:
        video = VideoSampling(args.video_fps, args.video_max_frames, args.video_max_pixels)
    except ParseError as err:
        raise UserError(str(err)) from err

    summary = convert(
        args.source,
        args.input,
        args.task,
        args.out,
        seed=seed,
        keep_ties=args.keep_ties,
        limit=args.limit,
        num_proc=args.num_proc,
        strict=args.strict,
        out_format=args.format,
        hub_config=args.dataset_config,
        split=args.split,
        overwrite=args.overwrite,
        images_root=args.images_root,
        image_urls=args.image_urls,
        hard_negatives=args.hard_negatives,
        video=video,
    )
    print(format_summary(summary, args.out))
    return 0


def format_summary(summary: dict, out: str) -> str:
    rate = summary["rows_read"] / summary["seconds"] if summary["seconds"] else 0.0
    lines = [
        f"{summary['source']} -> {summary['task']}: read {summary['rows_read']} rows, wrote {summary['rows_written']}"
        f" ({summary['seconds']:.1f} s, {rate:,.0f} rows/s) -> {out}",
        "labels:   " + (", ".join(f"{k}: {v}" for k, v in summary["labels"].items()) or "none"),
    ]
    if summary.get("hard_negatives"):
        hard = summary["hard_negatives"]
        kinds = ", ".join(f"{kind}: {count}" for kind, count in hard["kinds"].items())
        lines.append(f"hard negatives: {hard['rows']} pairs added (rate {hard['rate']:g}; {kinds or 'none'})")
    if summary["scores"]:
        s = summary["scores"]
        lines.append(f"scores:   {s['count']} (min {s['min']:g}, max {s['max']:g}, mean {s['mean']:g})")
    rejected = summary["rejected"]
    lines.append(f"rejected: {sum(rejected.values())}" + (" (see rejected.jsonl)" if rejected else ""))
    lines += [f"  {count:>6}  {reason}" for reason, count in rejected.items()]
    return "\n".join(lines)
