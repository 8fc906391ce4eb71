"""The demo's stages, in order, each made only of public `rl-critic` commands.

data -> base model -> untrained eval -> SFT warm start -> GRPO -> blank-image ablation -> self-critique.
A finished stage leaves `stages/<name>.json`; a re-run skips it (and everything before it) unless
`--force`, and re-runs every stage after the first one that ran.

Model selection never looks at the reported numbers: checkpoints are scored on a separate validation
split (seed+2) while training runs, the held-out test split (seed+1) is only used for the table. The
warm start ends at the first checkpoint that has clearly begun to match images to responses
(`sft_stop_at` on validation, twice in a row): on a model trained from scratch, GRPO helps from there
and not from a critic still at chance (measured: GRPO from a warm start at chance collapsed, the
model stopped closing its turn and the format reward fell to 0).
"""

from __future__ import annotations

import json
import resource
import shutil
import time
import warnings
from pathlib import Path
from typing import Any

from data_converters.errors import UserError
from data_converters.files import staged_file
from data_converters.synthetic import SHORT_INSTRUCTION
from rl_critic.demo.plan import DemoPlan
from rl_critic.demo.runner import Runner

STAGES = ("data", "base", "untrained", "sft", "grpo", "blank", "best_of_n")
RECIPES = Path(__file__).resolve().parents[2] / "recipes" / "demo"
TRAINING_ONLY_FILES = ("optimizer.pt", "scheduler.pt", "rng_state*", "trainer_state.json", "training_args.bin")
EVAL_TOKENS = "64"  # the trained rationale is ~40 tokens; an untrained model is cut here


class Demo:
    def __init__(self, out: Path, plan: DemoPlan, force: bool = False, echo: bool = True, say=print) -> None:
        self.out, self.plan, self.force, self.say = out, plan, force, say
        self.data = out / "data"
        self.runner = Runner(out, echo=echo)
        self.results: dict[str, Any] = {}
        self._validation_rows = None  # the validation split, read once for every checkpoint

    # --- orchestration -------------------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        if not RECIPES.is_dir():
            raise UserError(f"{RECIPES} not found: the demo runs from a clone of rl-critic (pip install -e .)")
        self._check_plan()
        rerun = self.force
        for number, name in enumerate(STAGES, start=1):
            marker = self.out / "stages" / f"{name}.json"
            if marker.exists() and not rerun:
                self.results[name] = json.loads(marker.read_text())
                self.say(
                    f"[{number}/{len(STAGES)}] {name}: done before ({self.results[name]['seconds']:.0f} s), skipped"
                )
                continue
            rerun = True
            self.say(f"[{number}/{len(STAGES)}] {name} ...")
            start = time.perf_counter()
            result = getattr(self, f"stage_{name}")()
            result["seconds"] = round(time.perf_counter() - start, 1)
            # Largest resident set of any command so far (Linux reports kB): the demo's memory high-water mark.
            result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)
            self.results[name] = result
            with staged_file(marker) as handle:
                json.dump(result, handle, indent=2)
            self.say(f"[{number}/{len(STAGES)}] {name}: {result['seconds']:.0f} s")
        return self.results

    def _check_plan(self) -> None:
        plan_file = self.out / "plan.json"
        if plan_file.exists() and not self.force and json.loads(plan_file.read_text()) != self.plan.as_dict():
            raise UserError(f"{self.out} was made with other settings (see plan.json): pass --force or another --out")
        if self.force and self.out.exists():
            for name in ("stages", "logs", "commands.sh"):
                path = self.out / name
                shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
        self.out.mkdir(parents=True, exist_ok=True)
        with staged_file(plan_file) as handle:
            json.dump(self.plan.as_dict(), handle, indent=2)

    # --- stages --------------------------------------------------------------------------------------------

    def stage_data(self) -> dict[str, Any]:
        """Synthetic critic data in the 113k schema (train / validation / test / questions on different seeds)."""
        p, d = self.plan, self.data
        common = ["--kind", "pairwise", "--questions", "colour", "--max-shapes", "1", "--layout", "short"]
        splits = {"train": (p.train_rows, 0), "test": (p.test_rows, 1), "val": (p.val_rows, 2),
                  "questions": (p.question_rows, 3), "policy": (p.policy_rows, 4)}  # fmt: skip
        for split, (rows, offset) in splits.items():
            self.runner.run(["make-synthetic", "--n", str(rows), "--seed", str(p.seed + offset), "--tie-rate", "0",
                             "--out", str(d / f"{split}.parquet"), *common], f"data_{split}")  # fmt: skip
        conversions = [("train", "sft-r1"), ("train", "grpo"), ("policy", "sft-policy"), ("val", "eval"),
                       ("test", "eval"), ("questions", "eval")]  # fmt: skip
        for split, task in conversions:
            folder = d / (task if split in ("train", "policy") else split)
            self.runner.run(["convert", "--source", "llava-critic-pairwise", "--input", str(d / f"{split}.parquet"),
                             "--task", task, "--out", str(folder), "--keep-order", "--overwrite"],
                            f"convert_{split}_{task}")  # fmt: skip
        return {"rows": {split: rows for split, (rows, _) in splits.items()}, "questions": self._write_questions()}

    def _write_questions(self) -> int:
        """Self-critique questions (image + question + reference answer) from the `questions` split."""
        import datasets

        from data_converters.io import load_any

        datasets.disable_progress_bars()  # a 48-row read needs no bar between the stage lines
        folder = self.data / "questions_jsonl"
        (folder / "images").mkdir(parents=True, exist_ok=True)
        rows = load_any(str(self.data / "questions"))
        with staged_file(folder / "questions.jsonl") as handle:
            for row in rows:
                image = f"images/{row['id']}.png"
                row["image"].save(folder / image)
                answer = row["responses"][int(row["solution"]) - 1]
                record = {"id": row["id"], "image": image, "question": row["question"], "answer": answer}
                handle.write(json.dumps(record) + "\n")
        return len(rows)

    def stage_base(self) -> dict[str, Any]:
        base = ["tiny-model", "--size", "tiny", "--seed", str(self.plan.seed), "--out", str(self.out / "base")]
        self.runner.run(base, "base_model")
        return {"model": "base"}

    def stage_untrained(self) -> dict[str, Any]:
        return {"test": self._eval(self.out / "base", "test", "untrained")}

    def stage_sft(self) -> dict[str, Any]:
        p = self.plan
        args = ["--config", str(RECIPES / "sft_critic.yaml"), "--model_name_or_path", str(self.out / "base"),
                "--dataset_name", str(self.data / "sft-r1"), "--extra_datasets", str(self.data / "sft-policy"),
                "--max_steps", str(p.sft_max_steps), "--save_steps", str(p.sft_save_steps)]  # fmt: skip
        # When the critic starts to match images to responses is a matter of luck (seed); racing seeds and
        # keeping the first to get there makes the demo far less likely to end with a critic still at chance.
        seeds = [p.seed + 1000 * k for k in range(p.sft_runs)]
        runs = {f"seed-{seed}": [*args, "--seed", str(seed)] for seed in seeds}
        run = self._train_watched("sft", runs, p.sft_seconds, p.sft_stop_at)
        self._export(run["checkpoint"], self.out / "sft")
        return {**run, "test": self._eval(self.out / "sft", "test", "sft")}

    def stage_grpo(self) -> dict[str, Any]:
        p = self.plan
        args = ["--config", str(RECIPES / "grpo_critic.yaml"), "--model_name_or_path", str(self.out / "sft"),
                "--dataset_name", str(self.data / "grpo"), "--max_steps", str(p.grpo_max_steps),
                "--save_steps", str(p.grpo_save_steps), "--seed", str(p.seed)]  # fmt: skip
        run = self._train_watched("grpo", {"grpo": args}, p.grpo_seconds, stop_at=None)
        self._export(run["checkpoint"], self.out / "final")
        state = Path(run["last_checkpoint"]) / "trainer_state.json"
        shutil.copyfile(state, self.out / "runs" / "grpo" / "log_history.json")
        return {**run, "test": self._eval(self.out / "final", "test", "final")}

    def stage_blank(self) -> dict[str, Any]:
        return {"test": self._eval(self.out / "final", "test", "final_blank_image", ["--blank-image"])}

    def stage_best_of_n(self) -> dict[str, Any]:
        from rl_critic.critique.strategies import selection_accuracies

        results = self.out / "best_of_n" / "knockout.jsonl"
        self.runner.run(["best-of-n", "--model", str(self.out / "final"),
                         "--input", str(self.data / "questions_jsonl" / "questions.jsonl"), "--out", str(results),
                         "--n", str(self.plan.best_of_n), "--strategy", "knockout", "--temperature", "1.0",
                         "--max-new-tokens", "16", "--judge-max-new-tokens", EVAL_TOKENS,
                         "--judge-instruction", SHORT_INSTRUCTION, "--batch-size", "32", "--chunk", "16",
                         "--seed", str(self.plan.seed)], "best_of_n")  # fmt: skip
        records = [json.loads(line) for line in results.read_text().splitlines() if line.strip()]
        return {"n": self.plan.best_of_n, "accuracies": selection_accuracies(records, "knockout"),
                "judgments": sum(r.get("num_judgments", 0) for r in records)}  # fmt: skip

    # --- helpers -------------------------------------------------------------------------------------------

    def _eval(self, model: Path | str, split: str, name: str, extra: list[str] = ()) -> dict[str, Any]:
        """`rl-critic eval critic` on a converted split; returns the numbers the report needs."""
        report = self.out / "eval" / name / "report.json"
        self.runner.run(["eval", "critic", "--model", str(model), "--data", str(self.data / split), "--out",
                         str(report), "--max-new-tokens", EVAL_TOKENS, "--batch-size", "50", *extra],
                        f"eval_{name}")  # fmt: skip
        pairwise = json.loads(report.read_text())["pairwise"]
        return {"accuracy": pairwise["accuracy_with_ties_strict"], "parse_failure_rate": pairwise["parse_failure_rate"],
                "n": pairwise["n"]}  # fmt: skip

    def _validate(self, checkpoint: Path, name: str) -> float:
        """Validation accuracy of a checkpoint, scored inside this process on one thread: a fresh
        `rl-critic eval critic` per checkpoint spends most of its ~10 s importing torch, while the warm
        start's jump from chance to ~90% can take as little as 20 s. Same code path as that command
        (`Judge` + `eval_critic`); the report is written beside the others."""
        import torch
        import transformers

        from data_converters.io import load_any
        from rl_critic.critique.generation import SamplingSettings
        from rl_critic.critique.judge import Judge
        from rl_critic.evaluation.critic import eval_critic
        from rl_critic.models.loader import ModelArguments, load_model_and_processor

        torch.set_num_threads(1)  # the training runs keep the other threads busy
        transformers.utils.logging.disable_progress_bar()  # no "Loading weights" bar between the stage lines
        # A checkpoint's tokenizer config carries SFT's max_length; batched generation pads without truncating.
        warnings.filterwarnings("ignore", message=".max_length. is ignored when .padding.=.True.")
        if self._validation_rows is None:
            self._validation_rows = load_any(str(self.data / "val"))
        model, processor = load_model_and_processor(ModelArguments(model_name_or_path=str(checkpoint)))
        judge = Judge(model, processor, SamplingSettings(max_new_tokens=int(EVAL_TOKENS)), batch_size=50)
        report, _ = eval_critic(self._validation_rows, judge)
        with staged_file(self.out / "eval" / name / "report.json") as handle:
            json.dump({"model": str(checkpoint), "data": str(self.data / "val"), **report}, handle, indent=2)
        return report["pairwise"]["accuracy_with_ties_strict"]

    def _train_watched(
        self, method: str, runs: dict[str, list[str]], seconds: float, stop_at: float | None
    ) -> dict[str, Any]:
        """Train each run in the background (one thread each) while scoring new checkpoints on validation;
        stop every run at `stop_at` (any run), at the time budget, or when all reach max_steps.
        Returns the chosen checkpoint (the threshold one, else the best) and the validation curves."""
        root = self.out / "runs" / method
        if root.exists():
            shutil.rmtree(root)
        dirs = {name: root if len(runs) == 1 else root / name for name in runs}
        processes = {name: self.runner.start(["train", method, *args, "--output_dir", str(dirs[name])],
                                             f"train_{method}" + ("" if len(runs) == 1 else f"_{name}"),
                                             echo=self.runner.echo and index == 0, threads=1)
                     for index, (name, args) in enumerate(runs.items())}  # fmt: skip
        start, history, stopped, hit = time.monotonic(), {name: {} for name in runs}, "max_steps", None
        try:
            while hit is None:
                if time.monotonic() - start > seconds and any(p.running() for p in processes.values()):
                    stopped = "time budget"
                    for process in processes.values():
                        process.stop()
                # The newest checkpoint of each run not scored yet (older ones are skipped when scoring lags).
                pending = [(name, cs[-1]) for name, cs in ((n, _checkpoints(d)) for n, d in dirs.items())
                           if cs and _step(cs[-1]) not in history[name]]  # fmt: skip
                if not pending:
                    if not any(p.running() for p in processes.values()):
                        break
                    time.sleep(1)
                    continue
                for name, checkpoint in pending:
                    step = _step(checkpoint)
                    label = f"{method}_val/{name}-step-{step}" if len(runs) > 1 else f"{method}_val/step-{step}"
                    accuracy = self._validate(checkpoint, label)
                    history[name][step] = accuracy
                    who = f"{method} {name}" if len(runs) > 1 else method
                    self.say(f"  {who} step {step}: validation accuracy {accuracy:.3f}")
                    # Twice in a row: one 100-row reading of a half-trained critic can reach the threshold by luck.
                    previous = [a for s, a in history[name].items() if s < step]
                    if stop_at is not None and accuracy >= stop_at and previous and previous[-1] >= stop_at:
                        stopped, hit = "validation threshold", (name, step)
                        break
        except BaseException:  # interrupted or failed: no training run may outlive the demo
            for process in processes.values():
                process.stop()
            raise
        train_seconds = round(time.monotonic() - start, 1)
        for process in processes.values():
            if process.running():
                process.stop()
            else:  # raises, with the log's last line, if training failed on its own
                process.wait(check=stopped == "max_steps")
        scored = [(accuracy, step, name) for name, steps in history.items() for step, accuracy in steps.items()]
        if not scored:
            raise UserError(f"{method} saved no checkpoint within {seconds:.0f} s: give the demo more --minutes")
        if hit:
            name, chosen = hit
        else:  # the best on validation, the later step on ties
            _, chosen, name = max(scored)
        checkpoints = _checkpoints(dirs[name])
        return {
            "stopped": stopped,
            "train_seconds": train_seconds,
            "runs": len(runs),
            "chosen_run": name,
            "chosen_step": chosen,
            "checkpoint": str(dirs[name] / f"checkpoint-{chosen}"),
            "last_checkpoint": str(checkpoints[-1]),
            "validation": {n: {str(s): a for s, a in sorted(steps.items())} for n, steps in history.items()},
        }

    def _export(self, checkpoint: str, target: Path) -> None:
        """Copy a checkpoint's model files (no optimizer state) to a folder every command can load."""
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(checkpoint, target, ignore=shutil.ignore_patterns(*TRAINING_ONLY_FILES))


def _checkpoints(run_dir: Path) -> list[Path]:
    """Finished checkpoints (the trainer writes trainer_state.json last), oldest first."""
    done = [c for c in run_dir.glob("checkpoint-*") if (c / "trainer_state.json").exists()]
    return sorted(done, key=_step)


def _step(checkpoint: Path) -> int:
    return int(checkpoint.name.rsplit("-", 1)[1])
