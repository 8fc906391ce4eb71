"""`rl-critic eval {critic,policy}`: measure a critic against human labels, or a policy against answers.

    rl-critic eval critic --model M --data DIR --out report.json [--swap] [--blank-image]
    rl-critic eval policy --model M --data questions.jsonl --out report.json [--best-of-n 8 --strategy knockout]

`eval critic` reads the `eval` output of `rl-critic convert` (any benchmark source) and writes
`report.json`, `report.md` and `judgments.jsonl` (every judgment) beside each other.
"""

from __future__ import annotations

import json
from pathlib import Path

from rl_critic.best_of_n import STRATEGIES
from rl_critic.cli import CliParser
from rl_critic.errors import UserError


def make_parser() -> CliParser:
    parser = CliParser(prog="rl-critic eval", description=__doc__.splitlines()[0].split(": ", 1)[1])
    sub = parser.add_subparsers(dest="target", required=True, parser_class=CliParser)
    for name, help_text in (("critic", "a critic on converted benchmark data"), ("policy", "a policy on questions")):
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--model", default="tiny", help="the model to evaluate (default: tiny)")
        p.add_argument("--data", required=True, help="critic: `rl-critic convert --task eval` folder; policy: JSONL")
        p.add_argument("--out", required=True, help="report .json (report.md and judgments.jsonl go beside it)")
        p.add_argument("--limit", type=int, help="only the first N rows")
        p.add_argument("--batch-size", type=int, default=8, help="prompts per generate call (default: 8)")
        p.add_argument("--max-new-tokens", type=int, default=512, help="tokens per generation (default: 512)")
        p.add_argument("--temperature", type=float, default=0.0, help="0 = greedy (default)")
        p.add_argument("--top-p", type=float, default=1.0, help="nucleus sampling when --temperature > 0")
        p.add_argument("--min-pixels", type=int, help="image-token budget, lower bound")
        p.add_argument("--max-pixels", type=int, help="image-token budget, upper bound")
        p.add_argument("--dtype", default="float32", choices=["auto", "bfloat16", "float16", "float32"])
        p.add_argument("--seed", type=int, default=0)
        if name == "critic":
            p.add_argument("--swap", action="store_true", help="also judge every pair in the other order")
            p.add_argument("--blank-image", action="store_true", help="replace every image by a blank one")
            p.add_argument(
                "--prompt",
                choices=["row", "default"],
                default="row",
                help="judge with each row's converted prompt (default) or the default judge layout",
            )
        else:
            p.add_argument("--best-of-n", type=int, default=1, help="candidates per question (default: 1)")
            p.add_argument("--strategy", choices=STRATEGIES, default="knockout", help="selection with --best-of-n")
            p.add_argument("--critic", help="judge for --best-of-n (default: the model itself)")
    return parser


def main(argv: list[str]) -> int:
    args = make_parser().parse_args(argv)
    from transformers import set_seed

    from rl_critic.evaluate import eval_critic, eval_policy, markdown
    from rl_critic.files import staged_file
    from rl_critic.generation import SamplingSettings, generate
    from rl_critic.judge import Judge
    from rl_critic.modeling import ModelArguments, load_model_and_processor

    set_seed(args.seed)
    settings = SamplingSettings(max_new_tokens=args.max_new_tokens, do_sample=args.temperature > 0,
                                temperature=args.temperature or 1.0, top_p=args.top_p)  # fmt: skip

    def load(name: str):
        model_args = ModelArguments(model_name_or_path=name, dtype=args.dtype, min_pixels=args.min_pixels,
                                    max_pixels=args.max_pixels)  # fmt: skip
        return load_model_and_processor(model_args)

    out = Path(args.out)
    if args.target == "critic":
        from data_converters.io import load_any

        dataset = load_any(args.data)
        if "solution" not in dataset.column_names or "responses" not in dataset.column_names:
            raise UserError(f"{args.data} is not converted eval data (run `rl-critic convert --task eval` first)")
        if args.limit is not None:
            dataset = dataset.select(range(min(args.limit, len(dataset))))
        model, processor = load(args.model)
        judge = Judge(model, processor, settings, args.batch_size)
        judge.progress = f"judging {len(dataset)} rows"
        report, records = eval_critic(dataset, judge, swap=args.swap, blank_image=args.blank_image,
                                      own_prompt=args.prompt == "row")  # fmt: skip
        title = f"Critic evaluation: {args.model} on {args.data}"
    else:
        from rl_critic.questions import read_rows, to_problem

        problems, answers, errors = [], [], []
        for row, error, base in read_rows(args.data, args.limit):
            try:
                if error:
                    raise UserError(error)
                problem, answer = to_problem(row, base, args.min_pixels, args.max_pixels)
                problems.append(problem)
                answers.append(answer)
            except UserError as err:
                errors.append({"id": str(row.get("id", "")), "error": str(err)})
        if not problems:
            raise UserError(f"no usable question in {args.data}")
        model, processor = load(args.model)
        from rl_critic.prompts import user_prompt

        sampling = settings if args.best_of_n == 1 else SamplingSettings(
            max_new_tokens=args.max_new_tokens, do_sample=True, temperature=args.temperature or 1.0,
            top_p=args.top_p if args.temperature else 0.99, num_return_sequences=args.best_of_n)  # fmt: skip
        conversations = [user_prompt(p.question, len(p.images)) for p in problems]
        candidates = generate(model, processor, conversations, [p.images for p in problems], sampling, args.batch_size)
        judge = None
        if args.best_of_n > 1 and args.strategy in ("knockout", "round_robin", "pointwise"):
            critic, critic_processor = (model, processor) if not args.critic else load(args.critic)
            judge = Judge(
                critic, critic_processor, SamplingSettings(max_new_tokens=args.max_new_tokens), args.batch_size
            )
        report, records = eval_policy(problems, answers, candidates, args.strategy, judge)
        report["errors"] = errors
        title = f"Policy evaluation: {args.model} on {args.data}"
    report = {"model": args.model, "data": args.data, **report}
    with staged_file(out) as handle:
        handle.write(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    with staged_file(out.with_suffix(".md")) as handle:
        handle.write(markdown(report, title))
    with staged_file(out.parent / "judgments.jsonl") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    print(markdown(report, title))
    print(f"-> {out}, {out.with_suffix('.md')}, {out.parent / 'judgments.jsonl'}")
    return 0
