"""Benchmarks (`make bench`, the quick set; `make bench-full`, every size): each writes `bench/results/<name>.json`
(not tracked: a run's numbers, for the table it prints and docs/benchmarks.md); numbers are ratios within one run.
"""

from pathlib import Path

# First: importing rl_critic quiets the library loggers nobody can act on, and the warnings are routed as every
# rl-critic command routes them (rl_critic.script.noise).
from rl_critic.script.noise import route_library_warnings

route_library_warnings("bench")


def synthetic_grpo_data(folder: Path, rows: int = 256) -> Path:
    """`make-synthetic` pairs converted to GRPO data in `folder` (what the GRPO benchmarks train on)."""
    import subprocess
    import sys

    from data_converters.convert import convert

    parquet = folder / "s.parquet"
    command = [sys.executable, "-m", "rl_critic.cli", "make-synthetic", "--n", str(rows), "--out", str(parquet)]
    subprocess.run(command, check=True, capture_output=True)
    convert("llava-critic-pairwise", str(parquet), "grpo", str(folder / "grpo"))
    return folder / "grpo"
