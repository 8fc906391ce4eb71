"""The demo's policy half: a starting policy with headroom, and three ways the critic makes it better.

- `start`: question -> answer SFT from the random base on right answers, then on those of an annotator who
  calls green shapes blue and yellow ones red: a policy with headroom and systematic, confident mistakes, as
  real ones have.
- `pairs`: that policy's own sampled answers, labelled against the reference, become critic data
  (`make-pairs`), so the critic learns to judge what a policy actually writes.
- `critic_dpo`: LLaVA-Critic's iterative DPO with the trained critic as judge, and the same loop with a
  coin-flip judge (`RandomJudge`) as the control; `policy_grpo`: GRPO with the critic as reward
  (`critic_judge`), and with the rule reward (answer accuracy) as the upper bound.
- `policy_eval`: greedy accuracy of every policy on held-out questions, with `rl-critic eval policy`.
"""

from __future__ import annotations

import json
from typing import Any

from rl_critic.demo.critic_stages import RECIPES
from rl_critic.demo.scoring import ANSWER_TOKENS, PolicyScorer
from rl_critic.demo.watch import checkpoints, export, step_of

RANDOM_JUDGE = "rl_critic.critique.judge.RandomJudge"
# Policy GRPO is validated every this many steps (one generation batch: the recipes reuse each for 4 steps), and
# steps and completions are counted until validation first reaches the target.
POLICY_GRPO_EVERY = 4
POLICY_GRPO_TARGET = 0.9
POLICIES = ("start", "critic_dpo", "critic_dpo_random", "critic_grpo", "rule_grpo")
# A critic-DPO run of the reduced plan that made no preference pair: no round, the start policy stands in.
NOT_LEARNED = {
    "rounds": [],
    "validation_by_round": [],
    "chosen_round": 0,
    "test_by_round": [],
    "judgments": 0,
    "preferences": 0,
}


class PolicyStages:
    """Mixed into `Demo` (which provides out, plan, data, runner, say, results and the helpers used here)."""

    def stage_start(self) -> dict[str, Any]:
        """Question -> answer SFT from the random base, first on right answers, then on the confused
        annotator's (`annotator.py`): a policy that answers in clean sentences, tells the colours apart, and is
        confidently wrong about green and yellow."""
        p = self.plan
        confused = self.out / "runs" / "start"
        phases = (  # (output, model it starts from, data, steps); the first output is also the critic's base
            (self.critic_base, self.out / "base", "sft-policy", p.start_clean_steps),
            (confused, self.critic_base, "sft-policy-confused", p.start_confused_steps),
        )
        for run_dir, model, data, steps in phases:
            self.runner.run(
                [
                    "train",
                    "sft",
                    "--config",
                    str(RECIPES / "sft_policy.yaml"),
                    "--model_name_or_path",
                    str(model),
                    "--dataset_name",
                    str(self.data / data),
                    "--max_steps",
                    str(steps),
                    "--seed",
                    str(p.seed),
                    "--output_dir",
                    str(run_dir),
                ],
                f"train_{run_dir.name.replace('-', '_')}",
                steps=steps,
            )
        export(confused, self.policy_dir / "start")
        scorer = PolicyScorer(self.questions / "val.jsonl", self.out / "eval")
        return {
            "steps": p.start_clean_steps + p.start_confused_steps,
            "validation": scorer(self.policy_dir / "start", "start_val"),
        }

    def stage_pairs(self) -> dict[str, Any]:
        """Critic data from the starting policy's own answers (4 samples a training question)."""
        pairs = self.data / "model_pairs.parquet"
        self.runner.run(
            [
                "make-pairs",
                "--model",
                str(self.policy_dir / "start"),
                "--input",
                str(self.questions / "train.jsonl"),
                "--out",
                str(pairs),
                "--overwrite",
                "--n",
                "4",
                "--pairs-per-question",
                "3",
                "--max-new-tokens",
                str(ANSWER_TOKENS),
                "--seed",
                str(self.plan.seed),
            ],
            "make_pairs",
        )
        self.runner.run(
            [
                "convert",
                "--source",
                "llava-critic-pairwise",
                "--input",
                str(pairs),
                "--task",
                "sft-r1",
                "--out",
                str(self.data / "sft-r1-model-pairs"),
                "--keep-order",
                "--overwrite",
            ],
            "convert_model_pairs",
        )
        summary = json.loads((self.data / "sft-r1-model-pairs" / "summary.json").read_text())
        return {"pairs": summary["rows_written"]}

    def stage_critic_dpo(self) -> dict[str, Any]:
        """Critic-DPO from the starting policy, with the trained critic and with a coin-flip judge, side by side."""
        p = self.plan
        common = [
            "--config",
            str(RECIPES / "critic_dpo_policy.yaml"),
            "--model_name_or_path",
            str(self.policy_dir / "start"),
            "--dataset_name",
            str(self.questions / "train.jsonl"),
            "--rounds",
            str(p.dpo_rounds),
            "--limit",
            str(p.dpo_questions),
            "--seed",
            str(p.seed),
        ]
        runs = {
            "critic_dpo": [*common, "--critic_model", str(self.out / "final"), *p.unreadable_ok()],
            "critic_dpo_random": [*common, "--critic_class", RANDOM_JUDGE],
        }
        # The reduced plan is a smoke run: its few questions may give a round no preference pair to train on
        # (every answer ranked equal). Said in the report, the start policy standing in; the full plan stops.
        failed = self.runner.run_parallel(
            [
                (["train", "critic-dpo", *args, "--output_dir", str(self.out / "runs" / name)], f"train_{name}")
                for name, args in runs.items()
            ],
            check=p.name == "full",
        )
        validation = PolicyScorer(self.questions / "val.jsonl", self.out / "eval")
        test = PolicyScorer(self.questions / "test.jsonl", self.out / "eval")
        result: dict[str, Any] = {}
        for name in runs:
            if f"train_{name}" in failed:
                export(self.policy_dir / "start", self.policy_dir / name)
                result[name] = {
                    **NOT_LEARNED,
                    "too_short": failed[f"train_{name}"].removeprefix("rl-critic train: error: "),
                }
                self.say(f"  {name}: too short to learn in the reduced plan ({result[name]['too_short'][:160]})")
                continue
            rounds = [self.out / "runs" / name / f"round_{m}" for m in range(1, p.dpo_rounds + 1)]
            summaries = [json.loads((r / "summary.json").read_text()) for r in rounds]
            # The round kept is chosen on validation, as GRPO checkpoints are (measured: a third round at lr 1e-3
            # can undo the first two, 99.0% -> 76.5%); held-out accuracy after every round is only reported.
            val_curve = [validation(r / "model", f"{name}/{r.name}_val") for r in rounds]
            chosen = max(range(len(rounds)), key=lambda k: (val_curve[k], -k))  # earlier on ties
            export(rounds[chosen] / "model", self.policy_dir / name)
            curve = [test(r / "model", f"{name}/{r.name}") for r in rounds]
            result[name] = {
                "rounds": summaries,
                "validation_by_round": val_curve,
                "chosen_round": chosen + 1,
                "test_by_round": curve,
                "judgments": sum(s["judgments"] for s in summaries),
                "preferences": sum(s["preferences"] for s in summaries),
            }
            self.say(f"  {name}: held-out accuracy by round {', '.join(f'{100 * a:.1f}%' for a in curve)}")
        return {"runs": result}

    def stage_policy_grpo(self) -> dict[str, Any]:
        """GRPO from the starting policy: the critic as reward, and the rule reward as the upper bound; each with
        dynamic sampling (as the recipes run it) and without it (the control: same seed, same plan), validated
        every `POLICY_GRPO_EVERY` steps, so steps and completions to `POLICY_GRPO_TARGET` can be compared."""
        p = self.plan
        runs = {}
        for name, recipe in (("critic_grpo", "grpo_policy_critic.yaml"), ("rule_grpo", "grpo_policy_rule.yaml")):
            for control in (False, True):
                runs[name + ("_control" if control else "")] = [
                    "--config",
                    str(RECIPES / recipe),
                    "--model_name_or_path",
                    str(self.policy_dir / "start"),
                    "--dataset_name",
                    str(self.questions / "train.jsonl"),
                    "--max_steps",
                    str(p.policy_grpo_steps),
                    "--save_steps",
                    str(POLICY_GRPO_EVERY),
                    "--logging_steps",
                    str(POLICY_GRPO_EVERY),
                    "--dynamic_sampling",
                    "false" if control else "true",
                    "--seed",
                    str(p.seed),
                ]
                if name == "critic_grpo":
                    runs[name + ("_control" if control else "")] += [
                        "--critic_model",
                        str(self.out / "final"),
                        *p.unreadable_ok(),
                    ]
        scorer = PolicyScorer(self.questions / "val.jsonl", self.out / "eval")
        run = self._watch("grpo", runs, p.policy_grpo_steps, scorer, stop=None, label="policy_grpo")
        result = {"validation": run["validation"], "train_seconds": run["train_seconds"], "steps": run["steps"]}
        for name in runs:
            curve = {int(step): accuracy for step, accuracy in run["validation"][name].items()}
            chosen = max(curve, key=lambda step: (curve[step], -step))  # best on validation, earlier on ties
            if not name.endswith("_control"):  # the controls are only measured against
                export(self.out / "runs" / "policy_grpo" / name / f"checkpoint-{chosen}", self.policy_dir / name)
            result[name] = {"chosen_step": chosen, **self._grpo_critic_numbers(name), **self._to_target(name, curve)}
        return result

    def _to_target(self, name: str, curve: dict[int, float]) -> dict[str, Any]:
        """Optimizer steps, completions generated and critic judgments until validation first reached
        `POLICY_GRPO_TARGET` (None where it never did), from the run's own running totals (`cost/*`)."""
        reached = [step for step in sorted(curve) if curve[step] >= POLICY_GRPO_TARGET]
        if not reached:
            return {"steps_to_target": None, "completions_to_target": None, "judgments_to_target": None}
        last = checkpoints(self.out / "runs" / "policy_grpo" / name)[-1]
        history = json.loads((last / "trainer_state.json").read_text())["log_history"]
        logged = {entry["step"]: entry for entry in history if "cost/completions_generated" in entry}
        at = logged.get(reached[0], {})
        return {
            "steps_to_target": reached[0],
            "completions_to_target": at.get("cost/completions_generated"),
            "judgments_to_target": at.get("cost/critic_judgments"),
        }

    def _grpo_critic_numbers(self, name: str) -> dict[str, Any]:
        """What the critic reward cost and how often its favourite was right, from the trainer's log."""
        last = checkpoints(self.out / "runs" / "policy_grpo" / name)[-1]
        history = json.loads((last / "trainer_state.json").read_text())["log_history"]
        logged = [h for h in history if "critic_judge/judgments" in h]
        steps = step_of(last)
        if not logged:
            return {"steps": steps}
        mean = lambda key: sum(h.get(key, 0.0) for h in logged) / len(logged)  # noqa: E731
        probed = [
            h["critic_probe/master_key_win_rate_max"] for h in history if "critic_probe/master_key_win_rate_max" in h
        ]
        return {
            "steps": steps,
            "judgments": logged[-1].get("cost/critic_judgments", 0),  # every judgment made, dropped groups' too
            "favourite_right_when_mixed": mean("critic_judge/favourite_right_when_mixed"),
            # The reward-hacking alarm (`critique/hack_alarm.py`): the master-key probe's worst key, and alarms raised
            "master_key_win_rate_max": max(probed, default=None),
            "hacking_alarms": int(max((h.get("critic_probe/alarms", 0) for h in logged), default=0)),
        }

    def stage_policy_eval(self) -> dict[str, Any]:
        """Greedy accuracy of every policy (and of the critic itself answering) on the held-out questions."""
        models = {name: self.policy_dir / name for name in POLICIES} | {"critic (final)": self.out / "final"}
        reports = {name: self.out / "eval" / "policy" / name.split(" ")[0] / "report.json" for name in models}
        test = str(self.questions / "test.jsonl")
        self.runner.run_parallel(
            [
                (
                    [
                        "eval",
                        "policy",
                        "--model",
                        str(model),
                        "--data",
                        test,
                        "--out",
                        str(reports[name]),
                        "--overwrite",
                        "--max-new-tokens",
                        str(ANSWER_TOKENS),
                        "--batch-size",
                        "50",
                    ],
                    f"eval_policy_{name.split(' ')[0]}",
                )
                for name, model in models.items()
            ]
        )
        accuracy = {name: json.loads(reports[name].read_text())["first"] for name in models}
        return {"accuracy": accuracy, "questions": json.loads(reports["start"].read_text())["questions"]}
