"""`rl-critic tiny-model`: build a tiny, randomly initialised VLM checkpoint with no network.

The folder it writes is an ordinary `save_pretrained` checkpoint (model, processor, tokenizer, chat
template) that `AutoModelForImageTextToText` / `AutoProcessor` reload offline. Commands that take
`--model tiny` build the same thing into the cache on first use; this command is for putting one where
you want it (a recipe, a test fixture, a bug report).
"""

from __future__ import annotations

import math
import time

from safetensors import safe_open

from rl_critic.cli import CliParser
from rl_critic.tiny.models import ARCHS, SIZES


def make_parser() -> CliParser:
    parser = CliParser(prog="rl-critic tiny-model", description=__doc__.splitlines()[0].split(": ", 1)[1])
    parser.add_argument("--arch", choices=ARCHS, default="qwen2_5_vl", help="model family (default: %(default)s)")
    parser.add_argument(
        "--size", choices=SIZES, default="tiny", help="tiny ~0.4M params, small ~4M (default: %(default)s)"
    )
    parser.add_argument("--out", required=True, help="folder to write (replaced if it exists)")
    parser.add_argument("--seed", type=int, default=0, help="initialisation seed (default: %(default)s)")
    return parser


def main(argv: list[str]) -> int:
    args = make_parser().parse_args(argv)
    from rl_critic.tiny.cache import save_tiny_model

    start = time.perf_counter()
    out = save_tiny_model(args.out, args.arch, args.size, args.seed)
    seconds = time.perf_counter() - start
    files = [p for p in out.rglob("*") if p.is_file()]
    megabytes = sum(p.stat().st_size for p in files) / 1e6
    with safe_open(out / "model.safetensors", "pt") as weights:
        params = sum(math.prod(weights.get_slice(name).get_shape()) for name in weights.keys())
    print(f"built {args.size} {args.arch}: {params:,} parameters, {megabytes:.2f} MB on disk, {seconds:.2f} s -> {out}")
    return 0
