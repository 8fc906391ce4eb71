"""The demo's two figures, read back from the files the training runs wrote.

`reward_curve.png`: the critic (warm-start validation accuracy of the racing runs, then GRPO's reward and
its validation accuracy); `policy_curve.png`: the policy (held-out accuracy after each critic-DPO round,
critic against coin-flip judge; validation accuracy along GRPO, critic reward against rule reward).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_curves(out: Path, results: dict[str, Any]) -> Path:
    """reward_curve.png: SFT validation accuracy, then GRPO reward with its format / preference parts."""
    plt = _pyplot()
    history = json.loads((out / "runs" / "grpo" / "log_history.json").read_text())["log_history"]
    logged = [h for h in history if "reward" in h]
    steps = [h["step"] for h in logged]
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for name, curve in results["sft"]["validation"].items():  # the warm start's runs racing to its target
        left.plot([int(s) for s in curve], list(curve.values()), "o-", ms=4, label=name)
    left.axvline(results["sft"]["chosen_step"], ls="--", color="tab:green", lw=0.8, label="kept")
    left.legend(fontsize=8, loc="upper left")
    left.axhline(0.5, ls=":", color="black", lw=0.8)
    left.set(
        title=f"SFT warm start ({results['sft']['chosen_run']} kept; validation at fixed steps)",
        xlabel="step",
        ylabel="validation pairwise accuracy",
        ylim=(0, 1.02),
    )
    right.plot(steps, [h["reward"] for h in logged], label="reward (0.9 preference + 0.1 format)", color="tab:blue")
    for key, label, colour in (
        ("critic/accuracy", "preference (verdict right)", "tab:green"),
        ("critic/format", "format (<think> + \\boxed)", "tab:orange"),
    ):
        points = [(h["step"], h[key]) for h in logged if key in h]
        if points:
            right.plot(*zip(*points), label=label, color=colour, alpha=0.8)
    [grpo_val] = ({int(s): a for s, a in curve.items()} for curve in results["grpo"]["validation"].values())
    right.plot(list(grpo_val), list(grpo_val.values()), "ko--", label="validation accuracy (greedy)", ms=4)
    right.set(title="GRPO (sampled completions, temperature 1)", xlabel="step", ylim=(0, 1.02))
    right.legend(fontsize=8, loc="lower right")
    return _save(plt, figure, out / "reward_curve.png")


def plot_policy(out: Path, results: dict[str, Any]) -> Path:
    """policy_curve.png: what each critic use did to the starting policy, round by round and step by step."""
    plt = _pyplot()
    start = results["policy_eval"]["accuracy"]["start"]
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for name, style, label in (
        ("critic_dpo", "o-", "trained critic judges"),
        ("critic_dpo_random", "s:", "coin-flip judge (control)"),
    ):
        curve = [start, *results["critic_dpo"]["runs"][name]["test_by_round"]]
        left.plot(range(len(curve)), curve, style, label=label, ms=5)
    left.set(
        title="critic-DPO (held-out questions, greedy)",
        xlabel="round (0 = starting policy)",
        ylabel="answer accuracy",
        ylim=(0, 1.02),
    )
    left.set_xticks(range(len(results["critic_dpo"]["runs"]["critic_dpo"]["test_by_round"]) + 1))
    left.legend(fontsize=8, loc="lower right")
    for name, style, label in (
        ("critic_grpo", "o-", "critic as reward"),
        ("rule_grpo", "s:", "rule reward (upper bound)"),
    ):
        curve = {int(s): a for s, a in results["policy_grpo"]["validation"][name].items()}
        right.plot(list(curve), list(curve.values()), style, label=label, ms=4)
    right.set(title="policy GRPO (validation questions, greedy)", xlabel="step", ylim=(0, 1.02))
    right.legend(fontsize=8, loc="lower right")
    return _save(plt, figure, out / "policy_curve.png")


def _save(plt, figure, path: Path) -> Path:
    """Lay out, write and close a figure (closed: the demo draws in a long-lived process)."""
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
