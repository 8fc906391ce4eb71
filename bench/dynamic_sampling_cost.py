"""The cost of dynamic sampling's own work per GRPO step: judging groups, drawing rows, joining batches.

`rl-critic train grpo` on the tiny recipe with a reward that ties every other group
(`tests.helpers.every_other_group_ties`, so about half the groups are dropped and more prompts are drawn):
the trainer logs, every step, the seconds its filter took (`dynamic_sampling/filter_seconds`) beside TRL's
`step_time` (generation, rewards, forward and backward: the whole step). A second run keys on the critic
reward's accuracy part, which the filter computes itself (the official grading of every completion again), on a
random model that is never right: every group is dropped and every step draws its whole budget (the filter's
most work per step). The same run without dynamic sampling is the baseline for the step time. Target: the
filter <= 2% of a step.
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


def _run(data: Path, out: Path, steps: int, dynamic: bool, rewards: tuple[str, ...] = (TIES,), key: str = TIES):
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
        *rewards,
        "--dynamic_sampling",
        str(dynamic).lower(),
        "--dynamic_sampling_key",
        key,
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
        data = synthetic_grpo_data(tmp)
        baseline = _run(data, tmp / "off", args.steps, False)[args.warmup :]
        runs = {
            "with, half the groups tied": _run(data, tmp / "on", args.steps, True)[args.warmup :],
            "with, critic accuracy key, none kept": _run(
                data, tmp / "critic", args.steps, True, ("critic", TIES), "critic/accuracy"
            )[args.warmup :],
        }
    results = {
        "benchmark": "dynamic_sampling",
        "steps": args.steps,
        "warmup": args.warmup,
        "median_step_seconds_without": round(statistics.median(e["step_time"] for e in baseline), 4),
        "runs": {},
    }
    for name, logged in runs.items():
        share = [e["dynamic_sampling/filter_seconds"] / e["step_time"] for e in logged]
        results["runs"][name] = {
            "median_step_seconds": round(statistics.median(e["step_time"] for e in logged), 4),
            "median_generation_batches": statistics.median(e["dynamic_sampling/generation_batches"] for e in logged),
            "median_filter_seconds": round(statistics.median(e["dynamic_sampling/filter_seconds"] for e in logged), 5),
            "median_filter_share_of_step": round(statistics.median(share), 4),
            "max_filter_share_of_step": round(max(share), 4),
        }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"dynamic sampling on the tiny recipe, {args.steps} steps each, first {args.warmup} dropped")
    print(f"{'':<38} {'median s/step':>14} {'batches/step':>13} {'filter s':>10} {'filter/step':>12}")
    print(f"{'without':<38} {results['median_step_seconds_without']:>14.4f} {1:>13} {'-':>10} {'-':>12}")
    for name, r in results["runs"].items():
        print(
            f"{name:<38} {r['median_step_seconds']:>14.4f} {r['median_generation_batches']:>13} "
            f"{r['median_filter_seconds']:>10.5f} {r['median_filter_share_of_step']:>11.2%}"
        )
    worst = max(r["median_filter_share_of_step"] for r in results["runs"].values())
    print(f"filter's own cost: at most {worst:.2%} of a step (target <= 2%)\n-> {RESULTS}")


if __name__ == "__main__":
    main()
