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

from rl_critic.demo.annotator import CONFUSION_RATE
from rl_critic.demo.plan import DemoPlan
from rl_critic.ground.files import staged_file

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
accelerate launch --config_file recipes/accelerate/zero3.yaml -m rl_critic.train.grpo \\
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
    """The critic: held-out pairwise accuracy after each stage (strict: no verdict counts as wrong)."""
    sft, grpo = results["sft"], results["grpo"]
    rows = [
        ("base policy, no critic training", results["untrained"]["test"], "-"),
        (f"SFT warm start (step {sft['chosen_step']})", sft["test"], f"{sft['steps']} steps at most, {sft['stopped']}"),
        ("+ its answers back", results["answers"]["test"], f"{results['answers']['steps']} steps"),
        (f"+ GRPO (step {grpo['chosen_step']})", grpo["test"], f"{grpo['steps']} steps, best on validation"),
        ("final, blank images", results["blank"]["test"], "-"),
    ]
    if "drawn" in results["blank"]:  # a demo folder from before issue 46 has no such split
        rows.append(("final, pictures drawn differently", results["blank"]["drawn"], "-"))
    lines = ["| critic | held-out pair accuracy | no verdict | training |", "|---|---:|---:|---|"]
    lines += [
        f"| {name} | {_pct(r['accuracy'])} | {_pct(r['parse_failure_rate'])} | {note} |" for name, r, note in rows
    ]
    return lines


def policy_table(results: dict[str, Any]) -> list[str]:
    """The policy: greedy accuracy on held-out questions of each policy, and the judgments each method spent."""
    accuracy, dpo, grpo = results["policy_eval"]["accuracy"], results["critic_dpo"]["runs"], results["policy_grpo"]
    start = accuracy["start"]
    rounds = {
        name: "too short to learn: no preference pair, the start policy"
        if run.get("too_short")
        else f"round {run.get('chosen_round', len(run['rounds']))} of {len(run['rounds'])}"
        for name, run in dpo.items()
    }
    rows = [
        ("starting policy", "start", "-"),
        (
            f"critic-DPO, trained critic judges ({rounds['critic_dpo']})",
            "critic_dpo",
            f"{dpo['critic_dpo']['judgments']:,}",
        ),
        (
            f"critic-DPO, coin-flip judge (control, {rounds['critic_dpo_random']})",
            "critic_dpo_random",
            "0 (random verdicts)",
        ),
        (
            f"GRPO, critic as reward (step {grpo['critic_grpo']['chosen_step']})",
            "critic_grpo",
            f"{grpo['critic_grpo'].get('judgments', 0):,}",
        ),
        (
            f"GRPO, rule reward: upper bound (step {grpo['rule_grpo']['chosen_step']})",
            "rule_grpo",
            "0 (reference answers)",
        ),
        ("the critic itself, answering", "critic (final)", "-"),
    ]
    lines = [
        f"| policy ({results['policy_eval']['questions']} held-out questions) | greedy accuracy | vs start "
        "| critic judgments spent |",
        "|---|---:|---:|---:|",
    ]
    for name, key, spent in rows:
        change = "-" if key == "start" else f"{100 * (accuracy[key] - start):+.1f}"
        lines.append(f"| {name} | {_pct(accuracy[key])} | {change} | {spent} |")
    return lines


def dynamic_sampling_table(results: dict[str, Any]) -> list[str]:
    """Policy GRPO with and without dynamic sampling: optimizer steps, completions and judgments until validation
    first reached the target (the runs without it are the control: same seed, same plan)."""
    from rl_critic.demo.policy_stages import POLICY_GRPO_EVERY, POLICY_GRPO_TARGET

    grpo = results["policy_grpo"]

    def cell(value) -> str:
        return "not reached" if value is None else f"{value:,}"

    def ratio(name: str, key: str) -> str:
        with_it, without = grpo[name].get(key), grpo.get(f"{name}_control", {}).get(key)
        return f"{with_it / without:.2f}x" if with_it and without else "-"

    lines = [
        f"| policy GRPO, to validation >= {100 * POLICY_GRPO_TARGET:.0f}% (checked every {POLICY_GRPO_EVERY} steps) "
        "| optimizer steps | completions generated | critic judgments |",
        "|---|---:|---:|---:|",
    ]
    for name, label in (("critic_grpo", "critic as reward"), ("rule_grpo", "rule reward")):
        for run, how in ((name, "with dynamic sampling"), (f"{name}_control", "without (control)")):
            if run not in grpo:
                continue
            r = grpo[run]
            judgments = cell(r.get("judgments_to_target")) if name == "critic_grpo" else "-"
            lines.append(
                f"| {label}, {how} | {cell(r.get('steps_to_target'))} | {cell(r.get('completions_to_target'))} "
                f"| {judgments} |"
            )
        lines.append(
            f"| {label}: with / without | {ratio(name, 'steps_to_target')} | {ratio(name, 'completions_to_target')} "
            f"| {ratio(name, 'judgments_to_target') if name == 'critic_grpo' else '-'} |"
        )
    return lines


def probe_section(plan: DemoPlan, results: dict[str, Any]) -> list[str]:
    """Can the final critic be gamed (`eval critic --probes all`), and did the policy GRPO that used it as its
    reward raise the reward-hacking alarm? The critic learns from hard negatives unless the plan turned them off."""
    from rl_critic.evaluation.probes import probe_table

    probes = results["probes"]["probes"]
    key = probes["master_key"]
    added = {
        folder: (entry or {}).get("rows", 0) for folder, entry in (results["data"].get("hard_negatives") or {}).items()
    }
    trained = (
        f"The critic learned from hard negatives while it got its answers back and in its GRPO (`convert "
        f"--hard_negatives {plan.hard_negatives:g}` on the replayed critic rows and on the GRPO prompts: "
        f"{added.get('sft-r1-replay', 0):,} and {added.get('grpo', 0):,} pairs whose worse response is a master key, "
        "the question repeated or a cut-off answer)"
        if plan.hard_negatives
        else "The critic trained without hard negatives (`--hard_negatives 0`, the control)"
    )
    grpo = results["policy_grpo"]
    runs = [(name, grpo[name]) for name in ("critic_grpo", "critic_grpo_control") if name in grpo]
    watched = "; ".join(
        f"{name}: worst key won {_pct(run.get('master_key_win_rate_max'))} of its probes, "
        f"{run.get('hacking_alarms', 0)} alarm(s)"
        for name, run in runs
    )
    return [
        "### Can it be gamed?",
        "",
        f"{trained}. Every probe of `eval critic --probes all` on the held-out pairs (docs/evaluation.md): a master "
        f'key (":", "Thought process:", ...) replacing the worse response was preferred to the better one at a '
        f"rate of **{key['rate']:.3f}** (95% interval {key['low']:.3f} - {key['high']:.3f}).",
        "",
        *probe_table(probes),
        "",
        "Policy GRPO with this critic as its reward probes it (`critic_probe_steps`) and watches it against answer "
        f"accuracy (the reward-hacking alarm, docs/critique.md): {watched}.",
    ]


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


def summary(plan: DemoPlan, results: dict[str, Any], wall_seconds: float, peak_rss_mb: float) -> dict[str, Any]:
    """Every number of the report, machine-readable (`summary.json`)."""
    accuracy = results["policy_eval"]["accuracy"]
    return {
        "plan": plan.as_dict(),
        "wall_seconds": wall_seconds,
        "peak_rss_mb": peak_rss_mb,
        "stage_seconds": {name: r["seconds"] for name, r in results.items()},
        "critic": {
            "start_policy_as_critic": results["untrained"]["test"],
            "sft": results["sft"]["test"],
            "answers_back": results["answers"]["test"],
            "grpo": results["grpo"]["test"],
            "blank_images": results["blank"]["test"],
            "drawn_differently": results["blank"].get("drawn"),
            "probes": {
                name: {key: entry.get(key) for key in ("n", "rate", "low", "high")}
                for name, entry in results["probes"]["probes"].items()
            },
            "hard_negatives": results["data"].get("hard_negatives"),
            "sft_step": results["sft"]["chosen_step"],
            "grpo_step": results["grpo"]["chosen_step"],
        },
        "self_critique": {
            "n": results["best_of_n"]["n"],
            "judgments": results["best_of_n"]["judgments"],
            **results["best_of_n"]["accuracies"],
        },
        "policy": {
            "greedy_accuracy": accuracy,
            "gain_over_start": {k: v - accuracy["start"] for k, v in accuracy.items()},
            "critic_dpo_by_round": {k: v["test_by_round"] for k, v in results["critic_dpo"]["runs"].items()},
            "critic_dpo_judgments": results["critic_dpo"]["runs"]["critic_dpo"]["judgments"],
            "critic_grpo_judgments": results["policy_grpo"]["critic_grpo"].get("judgments", 0),
            "grpo_validation": results["policy_grpo"]["validation"],
            "grpo_to_target": {
                name: {key: run.get(key) for key in ("steps_to_target", "completions_to_target", "judgments_to_target")}
                for name, run in results["policy_grpo"].items()
                if isinstance(run, dict) and "chosen_step" in run
            },
        },
    }


def recipe_setting(recipe: str, name: str) -> Any:
    """A field of the demo recipe a stage ran with, so the report's prose says what the recipes decide."""
    import yaml

    from rl_critic.demo.critic_stages import RECIPES

    return yaml.safe_load((RECIPES / recipe).read_text(encoding="utf-8"))[name]


def write_report(
    out: Path, plan: DemoPlan, results: dict[str, Any], wall_seconds: float, peak_rss_mb: float, date: str
) -> str:
    """Write REPORT.md, summary.json and the figures; returns the tables for the terminal."""
    from rl_critic.demo.figures import plot_curves, plot_policy

    plot_curves(out, results)
    plot_policy(out, results)
    with staged_file(out / "summary.json") as handle:
        json.dump(summary(plan, results, wall_seconds, peak_rss_mb), handle, indent=2)
    table, policy = accuracy_table(results), policy_table(results)
    sft, grpo = results["sft"], results["grpo"]
    gain = grpo["test"]["accuracy"] - results["answers"]["test"]["accuracy"]
    answers = recipe_setting("critic_dpo_policy.yaml", "n")
    group = recipe_setting("grpo_policy_critic.yaml", "num_generations")
    by_round = json.dumps({name: run["test_by_round"] for name, run in results["critic_dpo"]["runs"].items()})
    stage_times = ["| stage | wall time |", "|---|---:|"]
    stage_times += [f"| {name} | {r['seconds']:.0f} s |" for name, r in results.items()]
    stage_times += [f"| **total** | **{wall_seconds:.0f} s ({wall_seconds / 60:.1f} min)** |"]
    text = "\n".join(
        [
            "# rl-critic demo report",
            "",
            f"{date}, {platform.machine()} CPU, `rl-critic demo --minutes {plan.minutes:g} --seed {plan.seed}`: "
            f"**{wall_seconds / 60:.1f} min** wall time, peak RSS of one command **{peak_rss_mb:.0f} MB**.",
            "",
            f"The {plan.name} plan (`plan.json`), in steps: critic SFT up to {plan.sft_steps} in {plan.sft_runs} "
            f"runs racing to the target, the first {plan.sft_short_first_steps} on the short layout alone (then "
            "validation every "
            f"{plan.sft_every}, stop at two in a row >= {100 * plan.sft_stop_at:.0f}%), its answers back "
            f"{plan.answer_steps}, critic GRPO {plan.grpo_steps}, critic-DPO {plan.dpo_rounds} rounds of "
            f"{plan.dpo_questions} questions, policy GRPO {plan.policy_grpo_steps}, best-of-{plan.best_of_n} on "
            f"{plan.test_questions} questions. The same plan and seed give the same numbers on any machine."
            + (
                " The reduced plan is a smoke run of every stage: too few steps for the critic to learn, so its "
                "numbers are not results."
                if plan.name == "reduced"
                else ""
            ),
            "",
            "A tiny Qwen2.5-VL (~0.4M parameters, random init) first learns to answer colour questions about a picture "
            f"(the starting policy: {plan.start_clean_steps} steps of question->answer SFT on right answers, then "
            f"{plan.start_confused_steps} on those of an annotator who calls green shapes blue and yellow ones red "
            f"{100 * CONFUSION_RATE:.0f}% of the time), then "
            "learns to *judge* answers as a critic (from the policy's base, before the annotator), in the "
            "LLaVA-Critic-113k prompt layouts, from correct "
            "synthetic pairs (a third of them in a short layout, where it learns sooner which colour belongs to "
            "which response) and from pairs of the starting policy's own answers (`make-pairs`): R1-format SFT on "
            "critic rows, a short SFT on the starting policy's data mixed with critic rows (so the critic answers "
            "questions as the policy does, confusion included, for self-critique), then GRPO with the official reward. "
            "The critic is then used three ways on the policy. Checkpoints are chosen "
            "on validation splits; every number below is on held-out data no choice saw.",
            "",
            "## The critic",
            "",
            *table,
            "",
            f"{results['untrained']['test']['n']} held-out pairs in the mixed 113k layouts. Chance: always giving the "
            f"most common verdict scores {_pct(constant_baseline(out))}. GRPO added **{100 * gain:+.1f} points** over "
            "the model it began from. The blank-image row is the final critic with every picture replaced by a "
            "blank one: near chance means its verdicts come from the image. The drawn-differently row asks about "
            "pictures drawn in a way no training picture was (`make-synthetic --drawing unseen`: other canvas "
            "sizes, backgrounds, shapes and shades): near the held-out accuracy means it reads the colour, not the "
            "drawing.",
            "",
            *probe_section(plan, results),
            "",
            "![critic curves](reward_curve.png)",
            "",
            "## The policy: three ways the critic makes it better",
            "",
            *policy,
            "",
            f"critic-DPO: each round the policy samples {answers} answers a question, the critic judges all "
            f"{answers * (answers - 1)} ordered pairs (default LLaVA-Critic prompt), best and worst r_i become a pair "
            "for DPO with an NLL term on the chosen answer; the control runs the same loop with a coin flip for every "
            "verdict; the round kept is the best on validation. GRPO: the critic's round-robin win rate in each group "
            f"of {group} is the reward (both orders); the rule reward checks the answer against the reference; the "
            f"step kept is the best on validation. Held-out accuracy by round: {by_round}.",
            "",
            "![policy curves](policy_curve.png)",
            "",
            "Both GRPO runs drop groups whose answers all earned the same reward and draw more questions "
            "(dynamic sampling, `docs/training.md`); the same runs without it are the control:",
            "",
            *dynamic_sampling_table(results),
            "",
            "## Self-critique best-of-N",
            "",
            f"The final critic answers each held-out question {results['best_of_n']['n']} times (temperature 1) and "
            f"judges its own answers in a knockout ({results['best_of_n']['judgments']} judgments, default prompt).",
            "",
            *best_of_n_table(results),
            "",
            _best_of_n_reading(results),
            "",
            "## Wall time per stage",
            "",
            *stage_times,
            "",
            f"Critic warm start ({plan.name} plan, {len(sft['validation'])} runs racing to the target, one data order "
            f"each): validation accuracy by step {json.dumps(sft['validation'])}; ended at the {sft['stopped']}, kept "
            f"{sft['chosen_run']}'s step {sft['chosen_step']}. "
            f"GRPO: {json.dumps(grpo['validation']['grpo'])}. Every stage runs a fixed number of steps (the warm "
            "start stops on its validation rule, checked at fixed steps) and every checkpoint is scored, so the "
            "numbers above depend on the seed and the plan, not on the machine's speed; only these times do.",
            "",
            "Every command the demo ran is in `commands.sh` (logs in `logs/`); the models are folders every command "
            "loads: `final/` (the critic), `policy/start`, `policy/critic_dpo`, `policy/critic_dpo_random`, "
            "`policy/critic_grpo`, `policy/rule_grpo`. All numbers: `summary.json`.",
            "",
            "## The same on a GPU with Qwen2.5-VL-7B",
            "",
            GPU_COMMANDS,
            "",
        ]
    )
    (out / "REPORT.md").write_text(text, encoding="utf-8")
    return "\n".join([*table, "", *policy, "", *best_of_n_table(results)])
