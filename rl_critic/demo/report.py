"""REPORT.md and reward_curve.png from a finished demo: what was learned, at what cost, how to scale it up.

Everything here is read back from the files the public commands wrote (eval reports, the GRPO trainer's
log history, best-of-N results): the report cannot show a number the run did not produce.
"""

from __future__ import annotations

import json
import platform
from collections import Counter
from pathlib import Path
from typing import Any

from rl_critic.demo.plan import DemoPlan

GPU_COMMANDS = """\
```bash
# 1. critic data: LLaVA-Critic-113k pairwise -> R1 warm start, GRPO targets; VL-RewardBench -> eval
rl-critic convert --source llava-critic-pairwise --input lmms-lab/llava-critic-113k --task sft-r1 --out data/critic-sft
rl-critic convert --source llava-critic-pairwise --input lmms-lab/llava-critic-113k --task grpo --out data/critic-grpo
rl-critic convert --source vl-rewardbench --input MMInstruction/VL-RewardBench --task eval --out data/vlrb-eval
# 2. evaluate the base model, warm-start it, GRPO it (LoRA on one GPU; see recipes/ for full / QLoRA / ZeRO-3)
rl-critic eval critic --model Qwen/Qwen2.5-VL-7B-Instruct --data data/vlrb-eval --out reports/base/report.json
rl-critic train sft --config recipes/qwen2_5_vl_7b/sft_critic_lora.yaml --dataset_name data/critic-sft
rl-critic train grpo --config recipes/qwen2_5_vl_7b/grpo_critic_lora.yaml --dataset_name data/critic-grpo \\
    --model_name_or_path outputs/qwen2_5_vl_7b-sft-critic-lora
accelerate launch --config_file recipes/accelerate/zero3.yaml -m rl_critic.grpo \\
    --config recipes/qwen2_5_vl_7b/grpo_critic.yaml          # full fine-tuning on 8 GPUs instead
# 3. evaluate (with the blank-image ablation) and use it: self-critique best-of-N
rl-critic eval critic --model outputs/qwen2_5_vl_7b-grpo-critic-lora --data data/vlrb-eval \\
    --out reports/grpo/report.json
rl-critic eval critic --model outputs/qwen2_5_vl_7b-grpo-critic-lora --data data/vlrb-eval --blank-image \\
    --out reports/grpo-blank/report.json
rl-critic best-of-n --model outputs/qwen2_5_vl_7b-grpo-critic-lora --input questions.jsonl --n 8 --out bon.jsonl
```"""


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def accuracy_table(results: dict[str, Any]) -> list[str]:
    """The headline: held-out pairwise accuracy after each stage (strict: no verdict counts as wrong)."""
    sft, grpo = results["sft"], results["grpo"]
    rows = [
        ("untrained", results["untrained"]["test"], "-"),
        (f"SFT warm start (step {sft['chosen_step']})", sft["test"], f"{sft['train_seconds']:.0f} s, {sft['stopped']}"),
        (f"+ GRPO (step {grpo['chosen_step']})", grpo["test"], f"{grpo['train_seconds']:.0f} s, {grpo['stopped']}"),
        ("final, blank images", results["blank"]["test"], "-"),
    ]
    lines = ["| stage | held-out accuracy | no verdict | training |", "|---|---:|---:|---|"]
    lines += [
        f"| {name} | {_pct(r['accuracy'])} | {_pct(r['parse_failure_rate'])} | {note} |" for name, r, note in rows
    ]
    return lines


def best_of_n_table(results: dict[str, Any]) -> list[str]:
    bon = results["best_of_n"]
    accuracies = dict(bon["accuracies"])
    count = accuracies.pop("questions", 0)
    lines = [f"| answer chosen by ({count} questions, {bon['n']} samples each) | accuracy |", "|---|---:|"]
    names = {"first": "first sample", "majority": "majority vote", "knockout": "self-critique (knockout)"}
    lines += [f"| {names.get(name, name)} | {_pct(value)} |" for name, value in accuracies.items()]
    return lines


def _best_of_n_reading(results: dict[str, Any]) -> str:
    """One sentence on what the best-of-N numbers mean, so a reader does not over-read a tie or a loss."""
    accuracies = results["best_of_n"]["accuracies"]
    pick, first, majority = accuracies["knockout"], accuracies["first"], accuracies["majority"]
    if pick > max(first, majority):
        return "Self-critique picked better answers than both the first sample and the majority vote."
    critic = results["grpo"]["test"]["accuracy"]
    if pick == max(first, majority):
        matched = f"Self-critique matched the best baseline ({_pct(pick)})"
        if first < 0.9:
            return f"{matched}, with a critic right on {_pct(critic)} of held-out pairs."
        return f"{matched}: the policy's first sample is already right {_pct(first)} of the time, little to fix."
    return (
        f"Self-critique did not beat {'the majority vote' if majority >= pick else 'the first sample'} here: "
        f"it can only help where the critic ({_pct(critic)} on held-out pairs) is more reliable than the "
        f"policy's own samples ({_pct(first)} right at the first try)."
    )


def constant_baseline(out: Path) -> float:
    """Accuracy of always giving the test split's most common verdict: the chance line to beat."""
    from data_converters.io import load_any

    labels = Counter(load_any(str(out / "data" / "test"))["solution"])
    return max(labels.values()) / sum(labels.values())


def plot_curves(out: Path, results: dict[str, Any]) -> Path:
    """reward_curve.png: SFT validation accuracy, then GRPO reward with its format / preference parts."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    history = json.loads((out / "runs" / "grpo" / "log_history.json").read_text())["log_history"]
    logged = [h for h in history if "reward" in h]
    steps = [h["step"] for h in logged]
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for run, curve in results["sft"]["validation"].items():
        marker = "o-" if run == results["sft"]["chosen_run"] else "o:"
        left.plot([int(s) for s in curve], list(curve.values()), marker, label=run, ms=4)
    left.legend(fontsize=8, loc="upper left")
    left.axhline(0.5, ls=":", color="black", lw=0.8)
    left.set(
        title="SFT warm start (seeded runs racing)",
        xlabel="step",
        ylabel="validation pairwise accuracy",
        ylim=(0, 1.02),
    )
    right.plot(steps, [h["reward"] for h in logged], label="reward (0.9 preference + 0.1 format)", color="tab:blue")
    for key, label, colour in (("critic/accuracy", "preference (verdict right)", "tab:green"),
                               ("critic/format", "format (<think> + \\boxed)", "tab:orange")):  # fmt: skip
        points = [(h["step"], h[key]) for h in logged if key in h]
        if points:
            right.plot(*zip(*points), label=label, color=colour, alpha=0.8)
    [grpo_val] = ({int(s): a for s, a in curve.items()} for curve in results["grpo"]["validation"].values())
    right.plot(list(grpo_val), list(grpo_val.values()), "ko--", label="validation accuracy (greedy)", ms=4)
    right.set(title="GRPO (sampled completions, temperature 1)", xlabel="step", ylim=(0, 1.02))
    right.legend(fontsize=8, loc="lower right")
    figure.tight_layout()
    path = out / "reward_curve.png"
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def write_report(out: Path, plan: DemoPlan, results: dict[str, Any], wall_seconds: float, peak_rss_mb: float,
                 date: str) -> str:  # fmt: skip
    """Write REPORT.md (and the plot); returns the accuracy table for the terminal."""
    plot_curves(out, results)
    table = accuracy_table(results)
    sft, grpo = results["sft"], results["grpo"]
    gain = grpo["test"]["accuracy"] - sft["test"]["accuracy"]
    stage_times = ["| stage | wall time |", "|---|---:|"]
    stage_times += [f"| {name} | {r['seconds']:.0f} s |" for name, r in results.items()]
    stage_times += [f"| **total** | **{wall_seconds:.0f} s ({wall_seconds / 60:.1f} min)** |"]
    text = "\n".join([
        "# rl-critic demo report",
        "",
        f"{date}, {platform.machine()} CPU, `rl-critic demo --minutes {plan.minutes:g} --seed {plan.seed}`: "
        f"**{wall_seconds / 60:.1f} min** wall time, peak RSS of one command **{peak_rss_mb:.0f} MB**.",
        "",
        "A tiny Qwen2.5-VL (~0.4M parameters, random init) learns to judge which of two answers about a picture is "
        "right: synthetic LLaVA-Critic-113k rows (one shape, colour questions) -> `rl-critic convert` -> SFT warm "
        "start in the R1 format -> GRPO with the official critic reward -> evaluation. Held-out accuracy on "
        f"{results['untrained']['test']['n']} test pairs no checkpoint choice ever saw (checkpoints are chosen on a "
        "separate validation split).",
        "",
        *table,
        "",
        f"Chance: always giving the most common verdict scores {_pct(constant_baseline(out))}. The untrained model "
        "gives no verdict at all (strict scoring counts that as wrong). GRPO added "
        f"**{100 * gain:+.1f} points** over the warm start it began from. The blank-image row is the final critic "
        "with every picture replaced by a blank one: near chance means its verdicts come from the image.",
        "",
        "![reward curve](reward_curve.png)",
        "",
        "## Self-critique best-of-N",
        "",
        f"The final model answers each held-out question {results['best_of_n']['n']} times (temperature 1) and "
        f"judges its own answers in a knockout ({results['best_of_n']['judgments']} judgments).",
        "",
        *best_of_n_table(results),
        "",
        _best_of_n_reading(results),
        "",
        "## Wall time per stage",
        "",
        *stage_times,
        "",
        f"Warm start: {sft['runs']} seeded runs side by side, validation accuracy by step "
        f"{json.dumps(sft['validation'])}; stopped by {sft['stopped']}, kept {sft['chosen_run']} step "
        f"{sft['chosen_step']}. GRPO: {json.dumps(grpo['validation']['grpo'])}, stopped by {grpo['stopped']}.",
        "",
        "Every command the demo ran is in `commands.sh` (logs in `logs/`); the final critic is `final/`, loadable "
        "by every command (`rl-critic eval critic --model demo_out/final ...`).",
        "",
        "## The same on a GPU with Qwen2.5-VL-7B",
        "",
        GPU_COMMANDS,
        "",
    ])  # fmt: skip
    (out / "REPORT.md").write_text(text, encoding="utf-8")
    return "\n".join(table)
