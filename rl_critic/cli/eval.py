"""`rl-critic eval {critic,policy}`: measure a critic against human labels, or a policy against answers.

    rl-critic eval critic --model M --data DIR --out report.json [--swap] [--blank_image]
    rl-critic eval policy --model M --data questions.jsonl --out report.json [--n 8 --strategy knockout]

`eval critic` reads the `eval` output of `rl-critic convert` (any benchmark source); both write
`report.json`, `report.md` and `report.judgments.jsonl` (every judgment) beside each other, named after --out.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rl_critic.cli.dispatch import dispatch

TARGETS = {
    "critic": ("rl_critic.cli.eval_critic", "a critic on converted benchmark data (`convert --task eval`)"),
    "policy": ("rl_critic.cli.eval_policy", "a policy on questions with reference answers"),
}


@dataclass
class EvalArguments:
    data: str = field(metadata={"help": "critic: `rl-critic convert --task eval` folder; policy: questions JSONL."})
    out: str = field(
        metadata={"help": "Report .json (report.md and report.judgments.jsonl go beside it, named after it)."}
    )
    limit: int | None = field(default=None, metadata={"help": "Only the first N rows."})
    batch_size: int = field(default=8, metadata={"help": "Prompts per generate call."})
    max_new_tokens: int = field(default=512, metadata={"help": "Tokens per generation."})
    temperature: float = field(default=0.0, metadata={"help": "0 = greedy."})
    top_p: float = field(default=1.0, metadata={"help": "Nucleus sampling when temperature > 0."})
    seed: int = field(default=0, metadata={"help": "Sampling seed."})
    overwrite: bool = field(default=False, metadata={"help": "Replace the reports if they exist."})


def main(argv: list[str]) -> int:
    return dispatch("rl-critic eval", TARGETS, argv, "target")


def sampling_settings(args: EvalArguments):
    from rl_critic.generation.settings import SamplingSettings

    return SamplingSettings(
        max_new_tokens=args.max_new_tokens,
        do_sample=args.temperature > 0,
        temperature=args.temperature or 1.0,
        top_p=args.top_p,
    )


def write_reports(args: EvalArguments, model_args, report: dict, records: list[dict], what: str) -> int:
    from rl_critic.evaluation.report import report_paths, write_report

    report = {"model": model_args.model_name_or_path, "data": args.data, **report}
    print(write_report(args.out, report, records, f"{what} evaluation: {model_args.model_name_or_path} on {args.data}"))
    print("-> " + ", ".join(str(path) for path in report_paths(args.out)))
    return 0
