"""Iterative DPO with critic rewards (LLaVA-Critic section 4.3): the critic replaces human preference labels.

    rl-critic train critic-dpo --config recipes/tiny/critic_dpo_policy.yaml [--field value ...]
    accelerate launch --config_file recipes/accelerate/<cfg>.yaml -m rl_critic.train.critic_dpo --config RECIPE.yaml

Each round: the policy samples K answers per question (temperature 0.7, top-p 0.9); the critic judges all
K(K-1) ordered pairs (round-robin best-of-K of the shared sample -> judge layer); r_i = sum_{k!=i} a_ki -
sum_{l!=i} a_il; the best and worst answer become (chosen, rejected); TRL's DPOTrainer trains the policy on
them; the next round samples from the result. Questions whose r_i are all equal carry no preference and
are skipped (and counted).

`output_dir/round_<m>/` holds `candidates.jsonl`, `judgments.jsonl`, `preferences/` (the DPO dataset, with
the r_i), `model/` (the trained policy) and `summary.json`, written last: a killed run resumes after the
last round that has one.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from transformers import set_seed
from trl import DPOConfig, get_peft_config

from data_converters import columns
from data_converters.image_urls import image_urls_field
from data_converters.images import images_root_field
from data_converters.io import datasets_bars
from data_converters.schema import preference
from rl_critic.critique.aggregation import best_and_worst
from rl_critic.critique.critic import CriticArguments, build_judge, unreadable_line
from rl_critic.critique.journal import run_settings, settings_changes
from rl_critic.critique.pipeline import BestOfN
from rl_critic.critique.questions import Question, load_usable_questions
from rl_critic.generation.hf import HFEngine
from rl_critic.generation.settings import SamplingSettings
from rl_critic.ground.errors import UserError
from rl_critic.models.loader import ModelArguments, load_model_and_processor
from rl_critic.models.media import MediaBudget
from rl_critic.script.parsing import dataclass_parser, renamed
from rl_critic.script.recipes import resolve_data
from rl_critic.train.common import claim_output_dir, prepare_run, train_and_save
from rl_critic.train.video_batches import VideoDPOTrainer


@dataclass
class CriticDPOArguments:
    dataset_name: str | None = field(
        default=None, metadata={"help": "Questions: JSONL rows {id, image(s), question} or a dataset folder."}
    )
    limit: int | None = field(
        default=None, metadata={"help": "Use only the first N questions.", "aliases": renamed("max_questions")}
    )
    images_root: str | None = images_root_field()
    image_urls: str = image_urls_field()
    n: int = field(
        default=5,
        metadata={"help": "K answers sampled per question (LLaVA-Critic: 5).", "aliases": renamed("num_candidates")},
    )
    rounds: int = field(default=3, metadata={"help": "M rounds of sample -> judge -> DPO (LLaVA-Critic: 3)."})
    temperature: float = field(
        default=0.7, metadata={"help": "Candidate sampling temperature.", "aliases": renamed("sample_temperature")}
    )
    top_p: float = field(
        default=0.9, metadata={"help": "Candidate nucleus sampling.", "aliases": renamed("sample_top_p")}
    )
    max_new_tokens: int = field(
        default=512, metadata={"help": "Tokens per candidate.", "aliases": renamed("sample_max_new_tokens")}
    )
    batch_size: int = field(
        default=8, metadata={"help": "Prompts per generate call.", "aliases": renamed("generation_batch_size")}
    )
    engine: str = field(
        default="hf",
        metadata={
            "help": "Where the policy samples each round: `hf` (in-process generate) or `vllm` (an engine on the "
            "round's policy, freed before it trains). Not `openai`: a server cannot follow weights trained here; "
            "the critic takes --critic_engine openai.",
            "choices": ["hf", "vllm"],
        },
    )
    relative_score: str = field(
        default="preference",
        metadata={
            "help": "a_ij from a pairwise verdict (+1/0/-1) or from two scores (s_j - s_i) / 9.",
            "choices": ["preference", "score"],
        },
    )


# what a recipe of this method may set
ARGUMENTS = (CriticDPOArguments, CriticArguments, DPOConfig, ModelArguments)


def _best_of_k(engine, judge, sampling: SamplingSettings, args: CriticDPOArguments) -> BestOfN:
    """K samples a question from the round's policy, judged round-robin (LLaVA-Critic's a_ij)."""
    return BestOfN(engine, judge, sampling, "round_robin", relative=args.relative_score, batch_size=args.batch_size)


def run_round(
    round_dir: Path,
    policy_name: str,
    questions: list[Question],
    judge,
    sampling: SamplingSettings,
    args: CriticDPOArguments,
    model_args: ModelArguments,
    dpo_args: DPOConfig,
    seed: int = 0,
) -> dict[str, Any]:
    """One round: sample, judge, build preferences, train; returns its summary (written last). Sampling starts
    from `seed`, set once the models are loaded (loading may draw random numbers the first time only): the same
    command samples the same answers on every run, and a resumed run redoes a round as an uninterrupted one does
    (unseeded, two runs of one command drew 44 and 32 judgments)."""
    from datasets import Dataset

    round_model = replace(model_args, model_name_or_path=policy_name)
    if args.engine == "vllm":  # sample first, free the engine, then load the policy that trains
        from rl_critic.generation.vllm_engine import VLLMEngine

        engine = VLLMEngine.load(round_model, trust_remote_code=dpo_args.trust_remote_code)
        set_seed(seed)
        records = _best_of_k(engine, judge, sampling, args).run(questions)
        engine.close()
        policy, processor = load_model_and_processor(round_model, trust_remote_code=dpo_args.trust_remote_code)
    else:
        policy, processor = load_model_and_processor(round_model, trust_remote_code=dpo_args.trust_remote_code)
        set_seed(seed)
        records = _best_of_k(HFEngine(policy, processor), judge, sampling, args).run(questions)
    round_dir.mkdir(parents=True)  # once judged: a run stopped by its critic leaves no empty round behind
    rows, skipped, unusable = [], 0, []
    with_video = any(question.problem is not None and question.problem.media.videos for question in questions)
    with (
        open(round_dir / "judgments.jsonl", "w", encoding="utf-8") as judgments,
        open(round_dir / "candidates.jsonl", "w", encoding="utf-8") as candidates,
    ):
        for question, record in zip(questions, records):
            if "errors" in record:  # e.g. a prompt over the context: kept in candidates.jsonl, counted, skipped
                candidates.write(json.dumps(record, ensure_ascii=False) + "\n")
                unusable.append(record["errors"][0])
                continue
            for judgment in record["judgments"]:
                judgments.write(json.dumps({"id": question.id, **judgment}, ensure_ascii=False) + "\n")
            r = record["scores"]
            line = {"id": question.id, "question": record["question"], "candidates": record["candidates"], "r": r}
            candidates.write(json.dumps(line, ensure_ascii=False) + "\n")
            chosen_rejected = best_and_worst(r)
            if chosen_rejected is None:
                skipped += 1
                continue
            best, worst = chosen_rejected
            problem = question.problem
            chosen, rejected = problem.candidates[best], problem.candidates[worst]
            pair = preference(problem.question, len(problem.images), chosen, rejected, len(problem.media.videos))
            row = {"id": question.id, **pair, "images": problem.images, "r": r, "r_chosen": r[best]}
            row["r_rejected"] = r[worst]
            if with_video:  # the clip the policy answered about, as it saw it
                video = problem.media.videos[0] if problem.media.videos else None
                row[columns.VIDEO_COLUMN] = video.frames if video else []
                row[columns.VIDEO_FPS_COLUMN] = video.fps if video else None
            rows.append(row)
    summary = {
        "round": round_dir.name,
        "policy": policy_name,
        "questions": len(questions),
        "judgments": sum(r.get("num_judgments", 0) for r in records),
        "preferences": len(rows),
        "skipped_all_equal": skipped,
    }
    if unusable:
        summary["skipped_errors"] = {"questions": len(unusable), "first": unusable[0]}
    features = columns.features(
        columns.CRITIC_DPO_COLUMNS, "images", **(columns.video_features() if with_video else {})
    )
    by_column = {name: [row[name] for row in rows] for name in features}  # from_list([]) would lose the columns
    with datasets_bars(False):
        Dataset.from_dict(by_column, features=features).save_to_disk(str(round_dir / "preferences"))
    model_dir = round_dir / "model"
    if not rows:  # nothing to learn from: said now, not reported later as a trained policy
        raise UserError(no_pairs_line(summary, records, round_dir))
    dpo_args.output_dir = str(round_dir / "checkpoints")
    with datasets_bars(False):
        preferences = Dataset.load_from_disk(str(round_dir / "preferences"))
    trainer = VideoDPOTrainer(
        model=policy,
        args=dpo_args,
        train_dataset=preferences,
        processing_class=processor,
        peft_config=get_peft_config(model_args),
    )
    train_and_save(trainer, f"critic-dpo {round_dir.name}", len(rows), save=False)
    model = trainer.model.merge_and_unload() if hasattr(trainer.model, "merge_and_unload") else trainer.model
    model.save_pretrained(model_dir)  # a full model, so the next round loads it like any checkpoint
    processor.save_pretrained(model_dir)
    shutil.rmtree(round_dir / "checkpoints", ignore_errors=True)
    losses = [e["loss"] for e in trainer.state.log_history if "loss" in e]
    summary["train_loss"] = losses[-1] if losses else None
    return summary


def no_pairs_line(summary: dict[str, Any], records: list[dict], round_dir: Path) -> str:
    """Why a round made no preference pair, and what to do: the critic's unreadable verdicts (parse failures)
    and the questions whose answers it ranked all equal."""
    judgments = [j for r in records if "errors" not in r for j in r["judgments"]]
    unread = sum(j.get("verdict", j.get("score")) is None for j in judgments)
    rate = unread / len(judgments) if judgments else 1.0
    return (
        f"critic-DPO {round_dir.name}: no preference pair from {summary['judgments']} judgments of "
        f"{summary['questions']} questions ({rate:.0%} of the critic's verdicts unreadable, "
        f"{summary['skipped_all_equal']} questions with every answer ranked equal"
        + (f", {summary['skipped_errors']['questions']} unusable" if "skipped_errors" in summary else "")
        + "): nothing to train on, stopped. Judge with a trained critic (critic_model: DIR), give it more "
        f"critic_max_new_tokens, or set critic_class; its answers: {round_dir / 'judgments.jsonl'}"
    )


DPO_SETTINGS = (
    "beta",
    "loss_type",
    "learning_rate",
    "num_train_epochs",
    "max_steps",
    "max_length",
    "seed",
    "per_device_train_batch_size",
    "gradient_accumulation_steps",
)
MODEL_SETTINGS = (
    "model_name_or_path",
    "model_revision",
    "min_pixels",
    "max_pixels",
    "use_peft",
    "lora_r",
    "lora_alpha",
    "load_in_4bit",
    "load_in_8bit",
)


def round_settings(
    args: CriticDPOArguments, critic_args: CriticArguments, dpo_args: DPOConfig, model_args: ModelArguments
) -> dict:
    """What a finished round was made with (`run_settings`: the fields and the questions' files), stored in its
    summary: a re-run with other settings must not resume from rounds the new settings would not have made.
    `rounds` is left out (raising it continues)."""
    return run_settings(
        args,
        {f"critic.{key}": value for key, value in asdict(critic_args).items()},
        {f"dpo.{key}": getattr(dpo_args, key, None) for key in DPO_SETTINGS},
        {f"model.{key}": getattr(model_args, key, None) for key in MODEL_SETTINGS},
        source=args.dataset_name,
        leave_out=("rounds",),
    )


def check_resumable(round_dir: Path, settings: dict) -> None:
    """A finished round may be reused only if it was made with the same settings (older rounds: no record)."""
    stored = json.loads((round_dir / "summary.json").read_text()).get("settings")
    changes = settings_changes(stored, settings) if stored is not None else ""
    if changes:
        raise UserError(
            f"{round_dir} was made with other settings ({changes}); use a new output_dir, or delete it to start over"
        )


def make_parser():
    """Flags and `--config FILE.yaml` -> the dataclasses of `ARGUMENTS`, in that order (TRL's script shape)."""
    return dataclass_parser(
        ARGUMENTS, "rl-critic train critic-dpo", "iterative DPO, a critic judging the policy's samples"
    )


def main(
    args: CriticDPOArguments, critic_args: CriticArguments, dpo_args: DPOConfig, model_args: ModelArguments
) -> int:
    prepare_run(dpo_args)
    if not args.dataset_name:
        raise UserError("no questions: set dataset_name in the recipe or pass --dataset_name")
    args.dataset_name = resolve_data(args.dataset_name)
    if args.n < 2:
        raise UserError("n must be at least 2 (a preference needs two answers)")
    sampling = SamplingSettings(  # a temperature of 0 is refused here, before any model loads
        max_new_tokens=args.max_new_tokens,
        do_sample=True,
        temperature=args.temperature,
        top_p=args.top_p,
        num_return_sequences=args.n,
    )
    root = Path(dpo_args.output_dir)
    questions = load_usable_questions(
        args.dataset_name,
        args.limit,
        MediaBudget.of(model_args),
        "critic-dpo",
        args.images_root,
        args.image_urls,
    )
    # The critic stays the round-1 policy (or `critic_model`) while the policy it judges moves on.
    judge = build_judge(critic_args, model_args, args.batch_size, trust_remote_code=dpo_args.trust_remote_code)
    policy_name = model_args.model_name_or_path
    settings = round_settings(args, critic_args, dpo_args, model_args)
    claim_output_dir(dpo_args.output_dir)
    for m in range(1, args.rounds + 1):
        round_dir = root / f"round_{m}"
        if (round_dir / "summary.json").exists():  # finished before: resume after it
            check_resumable(round_dir, settings)
            policy_name = str(round_dir / "model")
            print(f"critic-dpo: round {m} already done, skipping")
            continue
        shutil.rmtree(round_dir, ignore_errors=True)  # an unfinished round starts over
        start = time.perf_counter()
        summary = run_round(
            round_dir, policy_name, questions, judge, sampling, args, model_args, dpo_args, dpo_args.seed + m
        )
        summary["seconds"] = round(time.perf_counter() - start, 2)
        summary["settings"] = settings
        (round_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        print(
            f"critic-dpo round {m}: {summary['preferences']} preference pairs from {summary['judgments']} "
            f"judgments, {summary['skipped_all_equal']} questions skipped (all r_i equal), "
            f"{summary.get('skipped_errors', {}).get('questions', 0)} unusable, "
            f"{summary['seconds']:.1f} s"
        )
        policy_name = str(round_dir / "model")
    print(f"critic-dpo: final policy -> {policy_name}")
    unreadable = unreadable_line(judge)
    if unreadable:
        print(f"critic-dpo: {unreadable}")
    return 0


if __name__ == "__main__":
    from rl_critic.script.run import run_script

    sys.exit(run_script("train critic-dpo", make_parser, main))
