"""Iterative DPO with critic rewards (LLaVA-Critic section 4.3): the critic replaces human preference labels.

    rl-critic critic-dpo --config recipes/tiny/critic_dpo.yaml [--field value ...]
    accelerate launch --config_file recipes/accelerate/<cfg>.yaml -m rl_critic.critic_dpo --config RECIPE.yaml

Each round: the policy samples K answers per question (temperature 0.7, top-p 0.9); the critic judges all
K(K-1) ordered pairs; r_i = sum_{k!=i} a_ki - sum_{l!=i} a_il; the best and worst answer become
(chosen, rejected); TRL's DPOTrainer trains the policy on them; the next round samples from the result.
Questions whose r_i are all equal carry no preference and are skipped (and counted).

`output_dir/round_<m>/` holds `candidates.jsonl`, `judgments.jsonl`, `preferences/` (the DPO dataset, with
the r_i), `model/` (the trained policy) and `summary.json`, written last: a killed run resumes after the
last round that has one.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from trl import DPOConfig, DPOTrainer, get_peft_config

from rl_critic.best_of_n import Problem
from rl_critic.errors import UserError
from rl_critic.generation import SamplingSettings, generate_counted
from rl_critic.judge import (
    Judge,
    PairRequest,
    judgment_record,
    preference_scores,
    relative_from_scores,
    relative_score,
)
from rl_critic.modeling import ModelArguments, load_model_and_processor
from rl_critic.prompts import user_prompt
from rl_critic.training import TrainScriptArguments, cpu_safe, parse_recipe, train_and_save


@dataclass
class CriticDPOArguments(TrainScriptArguments):
    dataset_name: str | None = field(
        default=None, metadata={"help": "Questions: JSONL rows {id, image(s), question} or a dataset folder."}
    )
    critic_model: str | None = field(
        default=None, metadata={"help": "The critic (a model folder / hub id / tiny name); default: the policy."}
    )
    critic_judge: str | None = field(
        default=None,
        metadata={"help": "Instead of a critic model: dotted path to a Judge-like class (rule-based or API judges)."},
    )
    num_candidates: int = field(default=5, metadata={"help": "K answers sampled per question (LLaVA-Critic: 5)."})
    rounds: int = field(default=3, metadata={"help": "M rounds of sample -> judge -> DPO (LLaVA-Critic: 3)."})
    sample_temperature: float = field(default=0.7, metadata={"help": "Candidate sampling temperature."})
    sample_top_p: float = field(default=0.9, metadata={"help": "Candidate nucleus sampling."})
    sample_max_new_tokens: int = field(default=512, metadata={"help": "Tokens per candidate."})
    judge_max_new_tokens: int = field(default=512, metadata={"help": "Tokens per judgment (greedy)."})
    generation_batch_size: int = field(default=8, metadata={"help": "Prompts per generate call."})
    relative_score: str = field(
        default="preference",
        metadata={"help": "a_ij from a pairwise verdict (+1/0/-1) or from two scores (s_j - s_i) / 9.",
                  "choices": ["preference", "score"]},
    )  # fmt: skip


def best_and_worst(scores: list[float]) -> tuple[int, int] | None:
    """(chosen, rejected) indices: the first maximum and the first minimum; None when all are equal."""
    if not scores or max(scores) == min(scores):
        return None
    return scores.index(max(scores)), scores.index(min(scores))


def _load_judge(args: CriticDPOArguments, model_args: ModelArguments, batch: int):
    if args.critic_judge:
        from rewards import import_object

        try:
            return import_object(args.critic_judge)()
        except (ImportError, AttributeError, ValueError) as err:
            raise UserError(f"cannot import critic_judge {args.critic_judge!r}: {err}") from err
    critic_args = ModelArguments(model_name_or_path=args.critic_model or model_args.model_name_or_path,
                                 dtype=model_args.dtype, min_pixels=model_args.min_pixels,
                                 max_pixels=model_args.max_pixels)  # fmt: skip
    critic, processor = load_model_and_processor(critic_args)
    return Judge(critic, processor, SamplingSettings(max_new_tokens=args.judge_max_new_tokens), batch_size=batch)


def _questions(args: CriticDPOArguments, model_args: ModelArguments) -> list[tuple[str, Problem]]:
    from rl_critic.questions import read_rows, to_problem

    questions, errors = [], []
    for row, error, base in read_rows(args.dataset_name, args.max_train_samples):
        try:
            if error:
                raise UserError(error)
            questions.append((str(row.get("id", len(questions))), to_problem(row, base, model_args.min_pixels,
                                                                             model_args.max_pixels)[0]))  # fmt: skip
        except UserError as err:
            errors.append(f"{row.get('id', '?')}: {err}")
    if errors:
        print(f"critic-dpo: {len(errors)} question(s) unusable, e.g. {errors[0]}")
    if not questions:
        raise UserError(f"no usable question in {args.dataset_name}")
    return questions


def run_round(round_dir: Path, policy_name: str, questions, judge, args, model_args, dpo_args) -> dict[str, Any]:
    """One round: sample, judge, build preferences, train; returns its summary (written last)."""
    from datasets import Dataset, Features, Image, List, Value

    policy_args = ModelArguments(**{**asdict(model_args), "model_name_or_path": policy_name})
    policy, processor = load_model_and_processor(policy_args, trust_remote_code=dpo_args.trust_remote_code)
    problems = [problem for _, problem in questions]
    sampling = SamplingSettings(max_new_tokens=args.sample_max_new_tokens, do_sample=True,
                                temperature=args.sample_temperature, top_p=args.sample_top_p,
                                num_return_sequences=args.num_candidates)  # fmt: skip
    conversations = [user_prompt(p.question, len(p.images)) for p in problems]
    sampled = generate_counted(policy, processor, conversations, [p.images for p in problems], sampling,
                               args.generation_batch_size)  # fmt: skip
    for problem, outputs in zip(problems, sampled):
        problem.candidates = [text for text, _ in outputs]
    k = args.num_candidates
    pairs = [(q, i, j) for q in range(len(problems)) for i in range(k) for j in range(k) if i != j]
    requests = [PairRequest(problems[q].question, problems[q].candidates[i], problems[q].candidates[j],
                            problems[q].images) for q, i, j in pairs]  # fmt: skip
    if args.relative_score == "score":
        judgments, to_relative, kind = judge.score_pairs(requests), relative_from_scores, "scores"
    else:
        judgments, to_relative, kind = judge.compare(requests), relative_score, "pair"
    relative: list[dict[tuple[int, int], float]] = [{} for _ in problems]
    with open(round_dir / "judgments.jsonl", "w", encoding="utf-8") as handle:
        for (q, i, j), judgment in zip(pairs, judgments):
            relative[q][(i, j)] = to_relative(judgment)
            record = {"id": questions[q][0], **judgment_record(kind, (i, j), judgment), "a_ij": relative[q][(i, j)]}
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    rows, skipped = [], 0
    with open(round_dir / "candidates.jsonl", "w", encoding="utf-8") as handle:
        for (qid, problem), a in zip(questions, relative):
            r = preference_scores(k, a)
            handle.write(json.dumps({"id": qid, "question": problem.question, "candidates": problem.candidates,
                                     "r": r}, ensure_ascii=False) + "\n")  # fmt: skip
            chosen_rejected = best_and_worst(r)
            if chosen_rejected is None:
                skipped += 1
                continue
            best, worst = chosen_rejected
            rows.append({
                "id": qid, "prompt": user_prompt(problem.question, len(problem.images)),
                "chosen": [{"role": "assistant", "content": [{"type": "text", "text": problem.candidates[best]}]}],
                "rejected": [{"role": "assistant", "content": [{"type": "text", "text": problem.candidates[worst]}]}],
                "images": problem.images, "r": r, "r_chosen": r[best], "r_rejected": r[worst],
            })  # fmt: skip
    summary = {"round": round_dir.name, "policy": policy_name, "questions": len(problems),
               "judgments": len(pairs), "preferences": len(rows), "skipped_all_equal": skipped}  # fmt: skip
    text = Value("string")
    messages = List({"role": text, "content": List({"type": text, "text": text})})
    features = Features({"id": text, "prompt": messages, "chosen": messages, "rejected": messages,
                         "images": List(Image()), "r": List(Value("float64")), "r_chosen": Value("float64"),
                         "r_rejected": Value("float64")})  # fmt: skip
    columns = {name: [row[name] for row in rows] for name in features}  # from_list([]) would lose the columns
    Dataset.from_dict(columns, features=features).save_to_disk(str(round_dir / "preferences"))
    model_dir = round_dir / "model"
    if not rows:  # nothing to learn from: the policy carries over unchanged
        policy.save_pretrained(model_dir)
        processor.save_pretrained(model_dir)
        return summary
    dpo_args.output_dir = str(round_dir / "checkpoints")
    preferences = Dataset.load_from_disk(str(round_dir / "preferences"))
    trainer = DPOTrainer(model=policy, args=dpo_args, train_dataset=preferences, processing_class=processor,
                         peft_config=get_peft_config(model_args))  # fmt: skip
    train_and_save(trainer, f"critic-dpo {round_dir.name}", len(rows))
    model = trainer.model.merge_and_unload() if hasattr(trainer.model, "merge_and_unload") else trainer.model
    model.save_pretrained(model_dir)  # a full model, so the next round loads it like any checkpoint
    processor.save_pretrained(model_dir)
    shutil.rmtree(round_dir / "checkpoints", ignore_errors=True)
    losses = [e["loss"] for e in trainer.state.log_history if "loss" in e]
    summary["train_loss"] = losses[-1] if losses else None
    return summary


def main(argv: list[str] | None = None) -> int:
    args, dpo_args, model_args = parse_recipe(
        (CriticDPOArguments, DPOConfig, ModelArguments), "rl-critic critic-dpo", sys.argv[1:] if argv is None else argv
    )
    cpu_safe(dpo_args)
    if not args.dataset_name:
        raise UserError("no questions: set dataset_name in the recipe or pass --dataset_name")
    root = Path(dpo_args.output_dir)
    questions = _questions(args, model_args)
    judge = _load_judge(args, model_args, args.generation_batch_size)
    policy_name = model_args.model_name_or_path
    for m in range(1, args.rounds + 1):
        round_dir = root / f"round_{m}"
        if (round_dir / "summary.json").exists():  # finished before: resume after it
            policy_name = str(round_dir / "model")
            print(f"critic-dpo: round {m} already done, skipping")
            continue
        shutil.rmtree(round_dir, ignore_errors=True)  # an unfinished round starts over
        round_dir.mkdir(parents=True)
        start = time.perf_counter()
        summary = run_round(round_dir, policy_name, questions, judge, args, model_args, dpo_args)
        summary["seconds"] = round(time.perf_counter() - start, 2)
        (round_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        print(f"critic-dpo round {m}: {summary['preferences']} preference pairs from {summary['judgments']} "
              f"judgments, {summary['skipped_all_equal']} questions skipped (all r_i equal), "
              f"{summary['seconds']:.1f} s")  # fmt: skip
        policy_name = str(round_dir / "model")
    print(f"critic-dpo: final policy -> {policy_name}")
    return 0


if __name__ == "__main__":
    from rl_critic.cli import run_module

    sys.exit(run_module("critic-dpo", main))
