"""`rl-critic best-of-n`: sample N answers per question, let a critic pick the best (self-critique).

    rl-critic best-of-n --model M [--critic C] --input questions.jsonl --n 8 --strategy knockout --out results.jsonl

Input: JSONL rows `{"id", "image": path or [paths] (relative to the file), "question", "answer"?}`, or a
dataset folder / parquet file with those columns. `--critic` defaults to `--model` (self-critique, as in
LLaVA-Critic-R1); both load with the same model options (dtype, attention, quantisation, ...). Output: one
JSON object per question (`id`, `candidates`, `judgments`, `pick`, `picked`, `answer`, `num_judgments`,
`generated_tokens`); rows that cannot be used (unreadable image, question over the model's context less
`--max_new_tokens`) carry an `errors` list instead and the run goes on. With reference answers, a table
compares the pick with `first`, `majority` and the oracle (any candidate right). Finished questions are kept
in `.OUT.journal.jsonl` as they finish: run the same command again after a kill and it goes on from there.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from data_converters.image_urls import image_urls_field
from data_converters.images import images_root_field
from rl_critic.cli.dispatch import docstring_summary
from rl_critic.critique.critic import CriticArguments, unreadable_line
from rl_critic.critique.strategies import STRATEGIES
from rl_critic.ground.errors import UserError
from rl_critic.models.loader import InferenceModelArguments
from rl_critic.script.parsing import parse


@dataclass
class BestOfNArguments:
    input: str = field(metadata={"help": "Questions: JSONL file, or dataset folder / parquet file."})
    out: str = field(metadata={"help": "Results JSONL file."})
    n: int = field(default=8, metadata={"help": "Candidates per question."})
    strategy: str = field(default="knockout", metadata={"help": "How to pick.", "choices": list(STRATEGIES)})
    both_orders: bool = field(
        default=False, metadata={"help": "knockout: judge each pair in both orders (cancels position bias)."}
    )
    temperature: float = field(default=1.0, metadata={"help": "Candidate sampling temperature."})
    top_p: float = field(default=0.99, metadata={"help": "Candidate nucleus sampling."})
    max_new_tokens: int = field(default=512, metadata={"help": "Tokens per candidate."})
    batch_size: int = field(default=8, metadata={"help": "Prompts per generate call."})
    chunk: int = field(default=8, metadata={"help": "Questions judged together per round."})
    limit: int | None = field(default=None, metadata={"help": "Only the first N questions."})
    seed: int = field(default=0, metadata={"help": "Sampling seed."})
    images_root: str | None = images_root_field()
    image_urls: str = image_urls_field()
    overwrite: bool = field(default=False, metadata={"help": "Replace --out if it exists."})


ARGUMENTS = (BestOfNArguments, CriticArguments, InferenceModelArguments)


def main(argv: list[str]) -> int:
    args, critic_args, model_args = parse(ARGUMENTS, "rl-critic best-of-n", argv, docstring_summary(__doc__))
    from rl_critic.ground.files import check_output_file

    check_output_file(args.out, [args.input], args.overwrite)  # before the model loads, not after the work
    from transformers import set_seed

    from data_converters.io import json_line
    from rl_critic.critique.journal import Journal, run_settings
    from rl_critic.critique.pipeline import answer_all
    from rl_critic.critique.questions import read_rows
    from rl_critic.generation.settings import SamplingSettings
    from rl_critic.ground.files import staged_file

    set_seed(args.seed)
    rows = read_rows(args.input, args.limit, args.images_root, args.image_urls)
    journal = Journal(args.out, run_settings(args, critic_args, model_args, source=args.input))
    journal.check(args.chunk)  # a clash with another run or other settings is found before the model loads
    sampling = SamplingSettings(
        max_new_tokens=args.max_new_tokens,
        do_sample=True,
        temperature=args.temperature,
        top_p=args.top_p,
        num_return_sequences=args.n,
    )
    start = time.perf_counter()
    records, judge = answer_all(
        rows,
        journal,
        model_args,
        critic_args,
        sampling,
        args.strategy,
        args.chunk,
        args.seed,
        f"best-of-{args.n} {args.strategy}",
        both_orders=args.both_orders,
        batch_size=args.batch_size,
    )
    done = [r for r in records if "errors" not in r]
    if not done:  # nothing worth keeping or resuming: no --out, no journal
        journal.remove()
        first = str(records[0].get("errors"))[:300] if records else "no questions"
        raise UserError(f"no question could be processed ({len(records)} with errors; first: {first})")
    with staged_file(args.out) as handle:
        handle.writelines(json_line(record) for record in records)
    journal.remove()
    seconds = time.perf_counter() - start
    print(
        f"best-of-{args.n} ({args.strategy}): {len(done)} questions, {len(records) - len(done)} with errors, "
        f"{sum(r['num_judgments'] for r in done)} judgments, "
        f"{sum(r['generated_tokens'] for r in done)} generated tokens, {seconds:.1f} s -> {args.out}"
    )
    print(accuracy_table(done, args.strategy))
    unreadable = unreadable_line(judge)
    if unreadable:
        print(unreadable)
    return 0


def accuracy_table(records: list[dict[str, Any]], strategy: str) -> str:
    """Accuracy of the pick against `first`, `majority` and the oracle, on rows with a reference answer."""
    from rl_critic.critique.strategies import selection_accuracies

    accuracies = selection_accuracies(records, strategy)
    if not accuracies:
        return "(no reference answers: no accuracy table)"
    count = accuracies.pop("questions")
    lines = [f"{'selection':<22} {'accuracy':>9}  ({count} questions with answers)"]
    lines += [f"{name:<22} {100 * value:>8.1f}%" for name, value in accuracies.items()]
    return "\n".join(lines)
