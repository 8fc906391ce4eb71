"""The demo's stages, in order, each made only of public `rl-critic` commands.

data -> base model -> starting policy -> pairs of its own answers -> critic SFT -> its answers back -> critic
GRPO -> critic evaluation (blank-image ablation) -> self-critique best-of-N -> critic-DPO (and its random-judge control)
-> policy GRPO with the critic as reward (and the rule reward) -> policy evaluation.

A finished stage leaves `stages/<name>.json`; a re-run skips it (and everything before it) unless
`--force`, and re-runs every stage after the first one that ran. Model selection never looks at the
reported numbers: checkpoints are scored on validation splits while training runs, the held-out test
splits are only used for the tables.
"""

from __future__ import annotations

import json
import resource
import shutil
import time
from pathlib import Path
from typing import Any

from rl_critic.critique.journal import settings_changes
from rl_critic.demo.critic_stages import RECIPES, CriticStages
from rl_critic.demo.plan import DemoPlan, outcome_settings
from rl_critic.demo.policy_stages import PolicyStages
from rl_critic.demo.runner import Runner
from rl_critic.demo.scoring import JUDGE_TOKENS
from rl_critic.demo.watch import train_watched
from rl_critic.ground.errors import UserError
from rl_critic.ground.files import OutputClaim, check_replaceable, mark_owner, owner_marker, staged_file

# (stage, what it does: the line the terminal shows before it runs)
STAGES = {
    "data": "synthetic critic pairs in the 113k layouts and question sets (make-synthetic, convert)",
    "base": "a tiny Qwen2.5-VL, random init (tiny-model)",
    "start": "starting policy: question->answer SFT, then on an annotator who calls green blue, yellow red (train sft)",
    "pairs": "critic pairs from the starting policy's own answers (make-pairs, convert)",
    "untrained": "the policy's base as a critic, before critic training (eval critic)",
    "sft": "critic warm start: R1-format SFT, short layout first, two data orders race to validation (train sft)",
    "answers": "the critic gets its answers back: a short SFT on the policy data + critic rows (train sft)",
    "grpo": "critic GRPO with the official reward, 0.9 preference + 0.1 format (train grpo)",
    "blank": "the critic with every picture blank: does it read the image? (eval critic --blank-image)",
    "probes": "can the critic be gamed? master keys, position, length, injected verdicts (eval critic --probes all)",
    "best_of_n": "self-critique: the critic answers each held-out question 8 times and picks (best-of-n)",
    "critic_dpo": "critic-DPO from the starting policy, and a coin-flip judge as control (train critic-dpo)",
    "policy_grpo": "policy GRPO with the critic as reward, and the rule reward as upper bound (train grpo)",
    "policy_eval": "every policy's greedy accuracy on held-out questions (eval policy)",
}


DEMO_MARKER = owner_marker("demo")


class Demo(CriticStages, PolicyStages):
    def __init__(self, out: Path, plan: DemoPlan, force: bool = False, progress: bool = True, say=print) -> None:
        self.out, self.plan, self.force, self.say = out, plan, force, say
        self.data = out / "data"
        self.questions = self.data / "questions"
        self.policy_dir = out / "policy"
        self.runner = Runner(out, progress=progress)
        self.results: dict[str, Any] = {}

    def run(self) -> dict[str, Any]:
        if not RECIPES.is_dir():
            raise UserError(f"{RECIPES} not found: reinstall rl-critic (pip install rl-critic), or run from a clone")
        self._check_plan()
        rerun = self.force
        for number, (name, what) in enumerate(STAGES.items(), start=1):
            marker = self.out / "stages" / f"{name}.json"
            tag = f"[{number}/{len(STAGES)}] {name}"
            if marker.exists() and not rerun:
                self.results[name] = json.loads(marker.read_text())
                self.say(f"{tag}: done before ({self.results[name]['seconds']:.0f} s), skipped")
                continue
            rerun = True
            self.say(f"{tag}: {what} ...")
            start = time.perf_counter()
            result = getattr(self, f"stage_{name}")()
            result["seconds"] = round(time.perf_counter() - start, 1)
            # Largest resident set of any command so far (Linux reports kB): the demo's memory high-water mark.
            result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)
            self.results[name] = result
            with staged_file(marker) as handle:
                json.dump(result, handle, indent=2)
            self.say(f"{tag}: {outcome(name, result)} ({result['seconds']:.0f} s)")
        return self.results

    def _check_plan(self) -> None:
        OutputClaim(self.out).acquire()  # one demo a folder at a time: a second one is refused before it deletes
        plan_file = self.out / "plan.json"
        # The folder must be new, empty or the demo's own (its marker; or, from before the marker, its plan and
        # stages): `--force` deletes folders in it, and every stage writes into it.
        from_before_marker = plan_file.is_file() and (self.out / "stages").is_dir()
        check_replaceable(self.out, None if from_before_marker else DEMO_MARKER)
        changes = ""
        if plan_file.exists():
            stored = outcome_settings(json.loads(plan_file.read_text()))
            changes = settings_changes(stored, self.plan.outcome_settings())
        if changes and not self.force:
            raise UserError(f"{self.out} was made with other settings ({changes}): pass --force or another --out")
        if self.force and self.out.exists():
            for name in ("stages", "logs", "commands.sh"):
                path = self.out / name
                shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
        self.out.mkdir(parents=True, exist_ok=True)
        mark_owner(self.out, DEMO_MARKER)
        with staged_file(plan_file) as handle:
            json.dump(self.plan.as_dict(), handle, indent=2)

    def _eval(self, model: Path | str, split: str, name: str, extra: list[str] = ()) -> dict[str, Any]:
        """`rl-critic eval critic` on a converted split; returns the numbers the report needs. In the reduced plan
        the critic may not have learned to judge: its evaluations go on past unreadable verdicts."""
        report = self.out / "eval" / name / "report.json"
        if self.plan.name == "reduced" and "--unreadable_ok" not in extra:
            extra = [*extra, "--unreadable_ok", "true"]
        self.runner.run(
            [
                "eval",
                "critic",
                "--model",
                str(model),
                "--data",
                str(self.data / split),
                "--out",
                str(report),
                "--overwrite",
                "--max-new-tokens",
                str(JUDGE_TOKENS),
                "--batch-size",
                "50",
                *extra,
            ],
            f"eval_{name}",
        )
        pairwise = json.loads(report.read_text())["pairwise"]
        return {
            "accuracy": pairwise["accuracy_with_ties_strict"],
            "parse_failure_rate": pairwise["parse_failure_rate"],
            "n": pairwise["n"],
        }

    def _watch(
        self,
        method: str,
        runs: dict[str, list[str]],
        steps: int,
        score,
        stop,
        label: str | None = None,
        steps_before: int = 0,
    ) -> dict[str, Any]:
        return train_watched(
            self.runner,
            self.out / "runs" / (label or method),
            method,
            runs,
            steps,
            score,
            stop,
            self.say,
            label,
            steps_before,
        )


def outcome(name: str, result: dict[str, Any]) -> str:
    """The result half of a stage's terminal line."""
    pct = lambda value: f"{100 * value:.1f}%"  # noqa: E731
    if "test" in result:
        where = f" (step {result['chosen_step']}, {result['stopped']})" if "chosen_step" in result else ""
        return f"held-out pair accuracy {pct(result['test']['accuracy'])}{where}"
    if name == "start":
        return f"{result['steps']} steps, validation greedy accuracy {pct(result['validation'])}"
    if name == "pairs":
        return f"{result['pairs']} pairs"
    if name == "best_of_n":
        a = result["accuracies"]
        return (
            f"knockout {pct(a['knockout'])}, first {pct(a['first'])}, majority {pct(a['majority'])}, "
            f"oracle {pct(a['oracle (any correct)'])} ({result['judgments']} judgments)"
        )
    if name == "critic_dpo":
        return ", ".join(
            f"{run} too short to learn (no preference pair)"
            if r.get("too_short")
            else f"{run} {pct(r['test_by_round'][r['chosen_round'] - 1])} (round {r['chosen_round']} of "
            f"{len(r['rounds'])}, best on validation)"
            for run, r in result["runs"].items()
        )
    if name == "policy_grpo":
        return ", ".join(
            f"{run} step {result[run]['chosen_step']} (target at step {result[run].get('steps_to_target')}, "
            f"{result.get(run + '_control', {}).get('steps_to_target')} without dynamic sampling)"
            for run in ("critic_grpo", "rule_grpo")
        )
    if name == "policy_eval":
        return ", ".join(f"{run} {pct(a)}" for run, a in result["accuracy"].items())
    return "done"
