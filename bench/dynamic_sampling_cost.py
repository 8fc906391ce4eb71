"""The cost of dynamic sampling's own work per GRPO step: judging groups, drawing rows, joining batches.

`rl-critic train grpo` on the tiny recipe with a reward that ties every other group
(`tests.helpers.every_other_group_ties`, so about half the groups are dropped and more prompts are drawn):
the trainer logs, every step, the seconds its filter took (`dynamic_sampling/filter_seconds`) beside TRL's
`step_time` (generation, rewards, forward and backward: the whole step). The same run without dynamic sampling
is the baseline for the step time. Target: the filter <= 2% of a step.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench import synthetic_grpo_data

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "dynamic_sampling.json"
RECIPE = ROOT / "recipes" / "tiny" / "grpo_critic.yaml"
TIES = "tests.helpers.every_other_group_ties"


def _run(data: Path, out: Path, steps: int, dynamic: bool) -> list[dict]:
    command = [
        sys.executable,
        "-m",
        "rl_critic.train.grpo",
        "--config",
        str(RECIPE),
        "--dataset_name",
        str(data),
        "--output_dir",
        str(out),
        "--max_steps",
        str(steps),
        "--save_steps",
        str(steps),
        "--logging_steps",
        "1",
        "--reward_funcs",
        TIES,
        "--dynamic_sampling",
        str(dynamic).lower(),
        "--dynamic_sampling_key",
        TIES,
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=env)
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-3000:])
    state = json.loads((out / f"checkpoint-{steps}" / "trainer_state.json").read_text())
    return [entry for entry in state["log_history"] if "step_time" in entry]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        synthetic_grpo_data(tmp)
        baseline = _run(tmp / "grpo", tmp / "off", args.steps, False)[args.warmup :]
        dynamic = _run(tmp / "grpo", tmp / "on", args.steps, True)[args.warmup :]
    filter_share = [e["dynamic_sampling/filter_seconds"] / e["step_time"] for e in dynamic]
    results = {
        "benchmark": "dynamic_sampling",
        "steps": args.steps,
        "warmup": args.warmup,
        "median_step_seconds_without": round(statistics.median(e["step_time"] for e in baseline), 4),
        "median_step_seconds_with": round(statistics.median(e["step_time"] for e in dynamic), 4),
        "median_generation_batches_with": statistics.median(e["dynamic_sampling/generation_batches"] for e in dynamic),
        "median_filter_seconds": round(statistics.median(e["dynamic_sampling/filter_seconds"] for e in dynamic), 5),
        "median_filter_share_of_step": round(statistics.median(filter_share), 4),
        "max_filter_share_of_step": round(max(filter_share), 4),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"dynamic sampling on the tiny recipe, {args.steps} steps each, first {args.warmup} dropped")
    print(f"{'':<28} {'median s/step':>14} {'batches/step':>13} {'filter s':>10} {'filter/step':>12}")
    print(f"{'without':<28} {results['median_step_seconds_without']:>14.4f} {1:>13} {'-':>10} {'-':>12}")
    print(
        f"{'with (half the groups tied)':<28} {results['median_step_seconds_with']:>14.4f} "
        f"{results['median_generation_batches_with']:>13} {results['median_filter_seconds']:>10.5f} "
        f"{results['median_filter_share_of_step']:>11.2%}"
    )
    print(f"filter's own cost: {results['median_filter_share_of_step']:.2%} of a step (target <= 2%)\n-> {RESULTS}")


if __name__ == "__main__":
    main()
