"""Seconds per GRPO step: `rl-critic train grpo` versus a bare TRL script (`bench/bare_grpo.py`).

Both run the tiny recipe (`recipes/tiny/grpo_critic.yaml`) on the same tiny Qwen2.5-VL, the same
converted synthetic data and the same reward, each in its own process, alternating, `--repeats` times.
Step time is TRL's own `step_time` metric (the first steps are warm-up and dropped); peak RSS is the
process maximum from GNU time.
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
RESULTS = ROOT / "bench" / "results" / "train_step.json"
RECIPE = ROOT / "recipes" / "tiny" / "grpo_critic.yaml"


def _run(command: list[str], output_dir: Path, warmup: int) -> dict:
    timed = ["/usr/bin/time", "-f", "peak_rss_kb=%M", *command]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(timed, capture_output=True, text=True, cwd=ROOT, env=env)
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-3000:])
    rss_kb = int(result.stderr.rsplit("peak_rss_kb=", 1)[1].split()[0])
    steps = [
        float(line.split("'step_time': '")[1].split("'")[0])
        for line in result.stdout.splitlines()
        if "'step_time': '" in line and "'loss'" in line
    ]
    if not steps:  # TRL logs dicts to stdout with logging_steps=1; fall back to the trainer state
        state = json.loads(next(output_dir.rglob("trainer_state.json")).read_text())
        steps = [e["step_time"] for e in state["log_history"] if "step_time" in e]
    return {"step_seconds": steps[warmup:], "peak_rss_mb": round(rss_kb / 1024, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    from data_converters.io import DATA_FILE
    from rl_critic.models.tiny import ensure_tiny_model

    model_dir = ensure_tiny_model("qwen2_5_vl")
    runs: dict[str, list[dict]] = {"rl-critic train grpo": [], "bare TRL GRPOTrainer": []}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        synthetic_grpo_data(tmp)
        for repeat in range(args.repeats):
            out = tmp / f"ours{repeat}"
            ours = [
                sys.executable,
                "-m",
                "rl_critic.train.grpo",
                "--config",
                str(RECIPE),
                "--model_name_or_path",
                str(model_dir),
                "--dataset_name",
                str(tmp / "grpo"),
                "--output_dir",
                str(out),
                "--max_steps",
                str(args.steps),
                "--save_strategy",
                "no",
                "--dynamic_sampling",  # the bare script has none: compare the same work
                "false",
            ]
            runs["rl-critic train grpo"].append(_run(ours, out, args.warmup))
            out = tmp / f"bare{repeat}"
            bare = [
                sys.executable,
                str(ROOT / "bench" / "bare_grpo.py"),
                str(model_dir),
                str(tmp / "grpo" / DATA_FILE),
                str(RECIPE),
                str(out),
                str(args.steps),
            ]
            runs["bare TRL GRPOTrainer"].append(_run(bare, out, args.warmup))
    results = {}
    for name, measured in runs.items():
        steps = [s for run in measured for s in run["step_seconds"]]
        results[name] = {
            "median_step_seconds": round(statistics.median(steps), 4),
            "mean_step_seconds": round(statistics.mean(steps), 4),
            "steps_measured": len(steps),
            "peak_rss_mb": max(run["peak_rss_mb"] for run in measured),
        }
    ours, bare = results["rl-critic train grpo"], results["bare TRL GRPOTrainer"]
    ratio = round(ours["median_step_seconds"] / bare["median_step_seconds"], 3)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "benchmark": "train_step",
                "steps": args.steps,
                "warmup": args.warmup,
                "repeats": args.repeats,
                "results": results,
                "ours_vs_bare_step_time": ratio,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"GRPO on the tiny recipe, {args.steps} steps x {args.repeats} runs each, first {args.warmup} dropped")
    print(f"{'':<22} {'median s/step':>14} {'mean s/step':>12} {'peak RSS MB':>12}")
    for name, r in results.items():
        print(f"{name:<22} {r['median_step_seconds']:>14.4f} {r['mean_step_seconds']:>12.4f} {r['peak_rss_mb']:>12.0f}")
    print(f"rl-critic / bare TRL step time: {ratio}x (target <= 1.05)\n-> {RESULTS}")


if __name__ == "__main__":
    main()
