"""`rl-critic best-of-n`: sample N answers per question, let a critic pick the best (self-critique).

    rl-critic best-of-n --model M [--critic C] --input questions.jsonl --n 8 --strategy knockout --out results.jsonl

Input: JSONL rows `{"id", "image": path or [paths] (relative to the file), "question", "answer"?}`, or a
dataset folder / parquet file with those columns. `--critic` defaults to `--model` (self-critique, as in
LLaVA-Critic-R1). Output: one JSON object per question (`id`, `candidates`, `judgments`, `pick`, `picked`,
`answer`, `num_judgments`, `generated_tokens`); rows that cannot be used carry an `errors` list instead
and the run goes on. With reference answers, a table compares the pick with `first`, `majority` and the
oracle (any candidate right).
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from rl_critic.best_of_n import STRATEGIES
from rl_critic.cli import CliParser
from rl_critic.errors import UserError


def make_parser() -> CliParser:
    parser = CliParser(prog="rl-critic best-of-n", description=__doc__.splitlines()[0].split(": ", 1)[1])
    add = parser.add_argument
    add("--model", default="tiny", help="policy that answers (default: tiny)")
    add("--critic", help="critic that judges (default: the --model itself: self-critique)")
    add("--input", required=True, help="questions: JSONL file, or dataset folder / parquet file")
    add("--out", required=True, help="results JSONL file")
    add("--n", type=int, default=8, help="candidates per question (default: 8)")
    add("--strategy", choices=STRATEGIES, default="knockout", help="how to pick (default: knockout)")
    add("--both-orders", action="store_true", help="knockout: judge each pair in both orders (cancels position bias)")
    add("--temperature", type=float, default=1.0, help="candidate sampling temperature (default: 1.0)")
    add("--top-p", type=float, default=0.99, help="candidate nucleus sampling (default: 0.99)")
    add("--max-new-tokens", type=int, default=512, help="tokens per candidate (default: 512)")
    add("--judge-max-new-tokens", type=int, default=512, help="tokens per judgment (default: 512)")
    add(
        "--judge-instruction",
        help="pairwise judge instruction (default: LLaVA-Critic's); use the one the critic "
        "was trained with, e.g. make-synthetic --layout short's",
    )
    add("--judge-temperature", type=float, default=0.0, help="0 = greedy judging (default), else sampled")
    add("--batch-size", type=int, default=8, help="prompts per generate call (default: 8)")
    add("--chunk", type=int, default=8, help="questions judged together per round (default: 8)")
    add("--limit", type=int, help="only the first N questions")
    add("--seed", type=int, default=0, help="sampling seed (default: 0)")
    add("--min-pixels", type=int, help="image-token budget, lower bound")
    add("--max-pixels", type=int, help="image-token budget, upper bound")
    add("--dtype", default="float32", choices=["auto", "bfloat16", "float16", "float32"], help="model dtype")
    add("--trust-remote-code", action="store_true", help="allow model code from the checkpoint")
    return parser


def main(argv: list[str]) -> int:
    args = make_parser().parse_args(argv)
    if args.n < 1:
        raise UserError("--n must be at least 1")
    from tqdm import tqdm
    from transformers import set_seed

    from rl_critic.best_of_n import select
    from rl_critic.files import staged_file
    from rl_critic.generation import SamplingSettings, generate_counted
    from rl_critic.judge import Judge
    from rl_critic.modeling import ModelArguments, load_model_and_processor
    from rl_critic.prompts import PAIRWISE_INSTRUCTION, user_prompt
    from rl_critic.questions import read_rows, to_problem

    set_seed(args.seed)

    def load(name: str):
        model_args = ModelArguments(model_name_or_path=name, dtype=args.dtype, min_pixels=args.min_pixels,
                                    max_pixels=args.max_pixels)  # fmt: skip
        return load_model_and_processor(model_args, trust_remote_code=args.trust_remote_code)

    needs_critic = args.strategy in ("knockout", "round_robin", "pointwise")
    policy, policy_processor = load(args.model)
    critic, critic_processor = (
        (policy, policy_processor) if not args.critic or args.critic == args.model else load(args.critic)
    )
    judge = Judge(critic, critic_processor, SamplingSettings(
        max_new_tokens=args.judge_max_new_tokens, do_sample=args.judge_temperature > 0,
        temperature=args.judge_temperature or 1.0), batch_size=args.batch_size,
        instruction=args.judge_instruction or PAIRWISE_INSTRUCTION) if needs_critic else None  # fmt: skip
    sampling = SamplingSettings(max_new_tokens=args.max_new_tokens, do_sample=True, temperature=args.temperature,
                                top_p=args.top_p, num_return_sequences=args.n)  # fmt: skip

    start, done, failed, records = time.perf_counter(), 0, 0, []
    rows = list(read_rows(args.input, args.limit))
    with staged_file(args.out) as handle, tqdm(total=len(rows), desc=f"best-of-{args.n} {args.strategy}") as bar:
        for offset in range(0, len(rows), args.chunk):
            problems, kept = [], []
            for row, error, base in rows[offset : offset + args.chunk]:
                try:
                    if error:
                        raise UserError(error)
                    problem, answer = to_problem(row, base, args.min_pixels, args.max_pixels)
                    problems.append(problem)
                    kept.append((row, answer))
                except UserError as err:
                    failed += 1
                    handle.write(json.dumps({"id": str(row.get("id", "")), "errors": [str(err)]}) + "\n")
            conversations = [user_prompt(p.question, len(p.images)) for p in problems]
            sampled = generate_counted(policy, policy_processor, conversations, [p.images for p in problems],
                                       sampling, args.batch_size)  # fmt: skip
            for problem, outputs in zip(problems, sampled):
                problem.candidates = [text for text, _ in outputs]
            for problem, outputs, selection, (row, answer) in zip(
                problems, sampled, select(args.strategy, problems, judge, args.both_orders), kept
            ):
                record = {
                    "id": str(row.get("id", "")), "question": problem.question, "candidates": problem.candidates,
                    "judgments": selection.judgments, "pick": selection.pick,
                    "picked": problem.candidates[selection.pick], "answer": answer,
                    "num_judgments": len(selection.judgments),
                    "generated_tokens": sum(tokens for _, tokens in outputs) + selection.judge_tokens,
                }  # fmt: skip
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
                records.append(record)
                done += 1
            bar.update(len(rows[offset : offset + args.chunk]))
    seconds = time.perf_counter() - start
    print(f"best-of-{args.n} ({args.strategy}): {done} questions, {failed} with errors, "
          f"{sum(r['num_judgments'] for r in records)} judgments, "
          f"{sum(r['generated_tokens'] for r in records)} generated tokens, {seconds:.1f} s -> {args.out}")  # fmt: skip
    print(accuracy_table(records, args.strategy))
    if done == 0:
        print("rl-critic best-of-n: error: no question could be processed", file=sys.stderr)
        return 1
    return 0


def accuracy_table(records: list[dict[str, Any]], strategy: str) -> str:
    """Accuracy of the pick against `first`, `majority` and the oracle, on rows with a reference answer."""
    from rl_critic.best_of_n import selection_accuracies

    accuracies = selection_accuracies(records, strategy)
    if not accuracies:
        return "(no reference answers: no accuracy table)"
    count = accuracies.pop("questions")
    lines = [f"{'selection':<22} {'accuracy':>9}  ({count} questions with answers)"]
    lines += [f"{name:<22} {100 * value:>8.1f}%" for name, value in accuracies.items()]
    return "\n".join(lines)
