"""`rl-critic make-pairs`: critic data from a policy's own answers, in the exact LLaVA-Critic-113k schema.

    rl-critic make-pairs --model POLICY --input questions.jsonl --out pairs.parquet [--n 4] [--pairs_per_question 1]

The policy samples `--n` answers per question; each is labelled right or wrong against the question's
reference `answer`, and (right, wrong) pairs become pairwise judge rows in the 113k layouts (instructions,
first/second, 1/2, A/B markers) with a rationale that checks each answer against the reference. A question
none of whose samples is right pairs the reference answer with a wrong sample; one with no wrong sample,
no reference or not exactly one image gives no row (counted). Then convert it like the real data:
`rl-critic convert --source llava-critic-pairwise --input pairs.parquet --task sft-r1 --keep-order ...`
(the order is already random).
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from data_converters.image_urls import image_urls_field
from data_converters.images import images_root_field
from data_converters.layouts import LAYOUTS
from rl_critic.cli.dispatch import docstring_summary
from rl_critic.ground.errors import UserError
from rl_critic.models.loader import InferenceModelArguments
from rl_critic.script.parsing import parse


@dataclass
class MakePairsArguments:
    input: str = field(
        metadata={
            "help": "Questions with reference answers: JSONL {id, image, question, answer}, "
            "or a dataset folder / parquet file with those columns."
        }
    )
    out: str = field(metadata={"help": "Output .parquet file (113k pairwise schema)."})
    n: int = field(default=4, metadata={"help": "Answers sampled per question."})
    pairs_per_question: int = field(default=1, metadata={"help": "At most this many (right, wrong) pairs a question."})
    temperature: float = field(default=1.0, metadata={"help": "Sampling temperature (wrong answers need diversity)."})
    top_p: float = field(default=1.0, metadata={"help": "Nucleus sampling."})
    max_new_tokens: int = field(default=64, metadata={"help": "Tokens per answer."})
    layout: str = field(
        default="mixed", metadata={"help": "Judge prompt layouts (as make-synthetic).", "choices": list(LAYOUTS)}
    )
    batch_size: int = field(default=32, metadata={"help": "Prompts per generate call."})
    chunk: int = field(default=64, metadata={"help": "Questions loaded and sampled together."})
    limit: int | None = field(default=None, metadata={"help": "Only the first N questions."})
    seed: int = field(default=0, metadata={"help": "Sampling and layout seed."})
    images_root: str | None = images_root_field()
    image_urls: str = image_urls_field()
    overwrite: bool = field(default=False, metadata={"help": "Replace --out if it exists."})


ARGUMENTS = (MakePairsArguments, InferenceModelArguments)


def main(argv: list[str]) -> int:
    args, model_args = parse(ARGUMENTS, "rl-critic make-pairs", argv, docstring_summary(__doc__))
    from data_converters.io import datasets_bars
    from rl_critic.ground.files import private_temp_dir, staged_path

    if args.n < 2:
        raise UserError("--n must be at least 2 (a pair needs two answers)")
    if not args.out.endswith(".parquet"):
        raise UserError("--out must be a .parquet file")
    from datasets import Dataset

    from data_converters.columns import VIDEO_COLUMN, VIDEO_FPS_COLUMN
    from data_converters.layouts import features
    from rl_critic.critique.journal import Journal, run_settings
    from rl_critic.critique.model_pairs import question_pairs, sample_answers
    from rl_critic.critique.questions import load_question, read_rows
    from rl_critic.generation.engines import load_engine
    from rl_critic.generation.settings import SamplingSettings, policy_engine_settings
    from rl_critic.ground.files import check_output_file
    from rl_critic.models.media import MediaBudget

    check_output_file(args.out, [args.input], args.overwrite)
    rows = read_rows(args.input, args.limit, args.images_root, args.image_urls)
    if not rows:
        raise UserError(f"no question in {args.input}")
    journal = Journal(args.out, run_settings(args, model_args, source=args.input))
    journal.check(args.chunk)  # a clash with another run or other settings is found before the model loads
    engine = load_engine(policy_engine_settings(model_args), model_args)
    sampling = SamplingSettings(
        max_new_tokens=args.max_new_tokens,
        do_sample=True,
        temperature=args.temperature,
        top_p=args.top_p,
        num_return_sequences=args.n,
    )
    # The sampled answers (the hours of work) are journaled a chunk at a time; pairs are cheap and made after.
    answers = journal.fill(
        args.chunk,
        lambda done: sample_answers(rows, engine, sampling, args.batch_size, args.chunk, args.seed, done),
        "question(s)",
    )
    rng, counts, made = random.Random(args.seed), Counter(), [0]
    example = next((f"{r['id']}: {r['reason']}" for r in answers if r.get("reason")), None)  # an unusable one

    # pictures at their stored size, videos sampled as the model saw them: written into the rows
    budget = MediaBudget(None, None, model_args.video_fps, model_args.video_max_frames, model_args.video_max_pixels)
    with_video = any(isinstance(row.data, dict) and row.data.get(VIDEO_COLUMN) is not None for row in rows)
    no_video = {VIDEO_COLUMN: [], VIDEO_FPS_COLUMN: None} if with_video else {}

    def pairs():
        for row, record in zip(rows, answers):
            if "error" in record:  # reported with the others, the run goes on
                counts[record["error"]] += 1
                continue
            question = load_question(row, budget)
            question.problem.candidates = record["candidates"]
            for pair in question_pairs(question, args.pairs_per_question, rng, args.layout, counts):
                made[0] += 1
                yield {**no_video, **pair}

    out = Path(args.out)
    try:  # a private cache: no reuse of an older run's rows
        with staged_path(out) as partial, private_temp_dir("pairs") as cache_dir, datasets_bars(False):
            dataset = Dataset.from_generator(pairs, features=features(with_video), cache_dir=cache_dir)
            dataset.to_parquet(str(partial))
            written = len(dataset)
            del dataset
    except ValueError:  # datasets refuses a generator that yields nothing
        if made[0]:
            raise
        journal.remove()  # after the staging is gone, so a folder the run made goes too
        why = f"; e.g. {example}" if example else ""
        raise UserError(f"no pair made: {dict(counts) or 'no usable question'} (nothing written){why}") from None
    journal.remove()
    right, wrong = counts.pop("samples right", 0), counts.pop("samples wrong", 0)
    print(
        f"make-pairs: {written} pairs from {len(rows)} questions; samples right: {right}/{right + wrong} "
        f"({100 * right / max(right + wrong, 1):.1f}%) -> {out}"
    )
    if example:
        print(f"  unusable questions, e.g. {example}")
    for reason, count in sorted(counts.items()):
        print(f"  {reason}: {count}")
    return 0
