"""`rl-critic env`: the versions and devices a bug report needs."""

from __future__ import annotations

import platform
from importlib import metadata

from rl_critic import __version__
from rl_critic.cli import CliParser

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
]


def main(argv: list[str]) -> int:
    CliParser(prog="rl-critic env", description=__doc__.splitlines()[0].split(": ", 1)[1]).parse_args(argv)
    import torch

    from rl_critic.tiny.cache import cache_root

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
    width = max(len(key) for key, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    return 0
