"""`rl-critic tiny-model`: build a tiny, randomly initialised VLM checkpoint with no network.

The folder it writes is an ordinary `save_pretrained` checkpoint (model, processor, tokenizer, chat
template) that `AutoModelForImageTextToText` / `AutoProcessor` reload offline. Commands that take
`--model tiny` build the same thing into the cache on first use; this command is for putting one where
you want it (a recipe, a test fixture, a bug report).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from rl_critic.cli.dispatch import docstring_summary
from rl_critic.models.tiny.models import ARCHS, SIZES
from rl_critic.script.parsing import parse


@dataclass
class TinyModelArguments:
    out: str = field(
        metadata={
            "help": "Folder to write: a new or empty one, or an earlier output of tiny-model (then rebuilt); "
            "any other folder is refused."
        }
    )
    arch: str = field(default="qwen2_5_vl", metadata={"help": "Model family.", "choices": list(ARCHS)})
    size: str = field(
        default="tiny",
        metadata={
            "help": "tiny ~0.4M params, small ~4M; demo: tiny with 4 attention heads (the demo model, hf engine only).",
            "choices": list(SIZES),
        },
    )
    seed: int = field(default=0, metadata={"help": "Initialisation seed."})
    like: str | None = field(
        default=None,
        metadata={
            "help": "Lay the model out as this hub checkpoint (its token ids, configs, processor, generation "
            "config and chat template; tiny widths): Qwen/Qwen2.5-VL-7B-Instruct or "
            "llava-hf/llava-onevision-qwen2-7b-ov-hf. Overrides --arch/--size."
        },
    )


ARGUMENTS = (TinyModelArguments,)


def main(argv: list[str]) -> int:
    (args,) = parse(ARGUMENTS, "rl-critic tiny-model", argv, docstring_summary(__doc__))
    from safetensors import safe_open

    from rl_critic.ground.errors import UserError
    from rl_critic.ground.files import check_replaceable
    from rl_critic.models.tiny.cache import MARKER, save_tiny_model
    from rl_critic.models.tiny.hub_like import hub_like_ids, parse_like

    if args.like is not None and parse_like(args.like) is None:
        raise UserError(f"--like {args.like!r}: no hub-like layout for it; expected one of {', '.join(hub_like_ids())}")
    check_replaceable(args.out, MARKER)  # `--out .` must not empty the working directory
    start = time.perf_counter()
    out = save_tiny_model(args.out, args.arch, args.size, args.seed, like=args.like)
    seconds = time.perf_counter() - start
    files = [p for p in out.rglob("*") if p.is_file()]
    megabytes = sum(p.stat().st_size for p in files) / 1e6
    with safe_open(out / "model.safetensors", "pt") as weights:
        params = sum(math.prod(weights.get_slice(name).get_shape()) for name in weights.keys())
    what = f"{parse_like(args.like)}-like" if args.like else f"{args.size} {args.arch}"
    print(f"built {what}: {params:,} parameters, {megabytes:.2f} MB on disk, {seconds:.2f} s -> {out}")
    return 0
