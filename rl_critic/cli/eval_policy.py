"""`rl-critic eval policy`: a policy's answers against reference answers, optionally through best-of-N, or scored by
a judge (a critic) on an open-ended benchmark.

Plain accuracy with one candidate per question; with `--n N`, the pick of a critic next to the
first sample, the majority vote and the oracle (LLaVA-Critic-R1's test-time comparison). With `--grading judge
--judge_mode reference`, LLaVA-Bench-in-the-Wild's measure: a judge scores the reference and the policy's answer
1-10 each, and the report gives the relative score per category (`rl_critic.evaluation.judged`); `--data` may be a
folder in that benchmark's published layout. Finished questions are kept in `.OUT.journal.jsonl` as they finish;
the same command after a kill goes on from there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from data_converters.image_urls import image_urls_field
from data_converters.images import images_root_field
from rl_critic.cli.dispatch import docstring_summary
from rl_critic.cli.eval import EvalArguments, sampling_settings, write_reports
from rl_critic.critique.critic import CriticArguments
from rl_critic.critique.strategies import STRATEGIES
from rl_critic.evaluation.judged import JUDGE_MODES
from rl_critic.ground.errors import UserError
from rl_critic.models.loader import InferenceModelArguments
from rl_critic.script.parsing import parse, renamed


@dataclass
class EvalPolicyArguments(EvalArguments):
    n: int = field(
        default=1, metadata={"help": "Candidates per question (best-of-n when > 1).", "aliases": renamed("best_of_n")}
    )
    strategy: str = field(default="knockout", metadata={"help": "Selection when n > 1.", "choices": STRATEGIES})
    chunk: int = field(default=8, metadata={"help": "Questions judged together per round."})
    images_root: str | None = images_root_field()
    image_urls: str = image_urls_field()
    grading: str = field(
        default="accuracy",
        metadata={
            "help": "accuracy: the answer against the reference (exact after normalisation); judge: a critic "
            "(--critic_model, --critic_class, --critic_engine) scores the open answer (--judge_mode).",
            "choices": ["accuracy", "judge"],
        },
    )
    judge_mode: str = field(
        default="reference",
        metadata={
            "help": "With --grading judge. reference: LLaVA-Bench-in-the-Wild's review, the reference answer and the "
            "policy's scored 1-10 in one judgment; the relative score 100 x policy / reference per category. score: "
            "MMHal-Bench's rating, 0-6 per answer with its prompt; the mean per question type, the hallucination "
            "rate (ratings under 3). pairwise: WildVision-Bench's judgment against --baseline's answers, both "
            "orders; the win rate with a bootstrap interval.",
            "choices": list(JUDGE_MODES),
        },
    )
    baseline: list[str] = field(
        default_factory=list,
        metadata={
            "help": "With --judge_mode pairwise: one or more baselines' answers (WildVision-Bench's model answers "
            "JSONL: question_id, output, model), each judged against the policy's in both orders; the report ranks "
            "them all (Bradley-Terry, Elo scale)."
        },
    )
    agree_with: str | None = field(
        default=None,
        metadata={
            "help": "With --grading judge: another judge's reviews of the same answers (LLaVA's review JSONL, "
            "MMHal-Bench's saved GPT-4 answers, or an earlier report.judgments.jsonl); the report adds Pearson's r "
            "and Kendall's tau between the two judges' scores of the policy's answers."
        },
    )


ARGUMENTS = (EvalPolicyArguments, CriticArguments, InferenceModelArguments)


def main(argv: list[str]) -> int:
    args, critic_args, model_args = parse(ARGUMENTS, "rl-critic eval policy", argv, docstring_summary(__doc__))
    from rl_critic.evaluation.report import check_report_paths, report_paths

    check_report_paths(args.out, (args.data,), args.overwrite)  # before the model loads, not after the work
    from transformers import set_seed

    from rl_critic.critique.journal import Journal, run_settings
    from rl_critic.critique.pipeline import answer_all
    from rl_critic.critique.questions import has_reference, read_rows
    from rl_critic.evaluation.policy import policy_report
    from rl_critic.generation.settings import SamplingSettings

    set_seed(args.seed)
    judged = args.grading == "judge"
    if judged and args.n != 1:
        raise UserError("--grading judge scores one answer per question: leave --n at 1")
    if judged and args.judge_mode == "pairwise":  # the baseline is read now, not after the answering
        if not args.baseline:
            raise UserError("--judge_mode pairwise judges against a baseline's answers: pass --baseline FILE.jsonl")
        from rl_critic.evaluation.judged import read_baselines

        read_baselines(args.baseline)
    if args.agree_with:  # a wrong file is found now, not after the answering
        if not judged:
            raise UserError("--agree_with compares two judges' scores: it needs --grading judge")
        from rl_critic.evaluation.judged import other_judge_scores

        other_judge_scores(args.agree_with)
    rows = _benchmark_rows(args) or read_rows(args.data, args.limit, args.images_root, args.image_urls)
    if not (judged and args.judge_mode == "pairwise") and not any(has_reference(row) for row in rows):
        raise UserError(
            f"no row of {args.data} has a reference answer (`answer`), and `eval policy` measures "
            "accuracy against it: the report would be empty (`best-of-n` samples and picks without "
            "one)"
        )
    journal = Journal(report_paths(args.out)[0], run_settings(args, critic_args, model_args, source=args.data))
    journal.check(args.chunk)  # a clash with another run or other settings is found before the model loads
    sampling = (
        sampling_settings(args)
        if args.n == 1
        else SamplingSettings(
            max_new_tokens=args.max_new_tokens,
            do_sample=True,
            temperature=args.temperature or 1.0,
            top_p=args.top_p if args.temperature else 0.99,
            num_return_sequences=args.n,
        )
    )
    records, judge = answer_all(
        rows,
        journal,
        model_args,
        critic_args,
        sampling,
        args.strategy,
        args.chunk,
        args.seed,
        f"answering {len(rows)} questions",
        batch_size=args.batch_size,
    )
    if judged:
        return _judge_answers(args, critic_args, model_args, rows, records, journal)
    report = policy_report(records, args.strategy, args.n)
    if not report["questions"]:
        journal.remove()
        raise UserError(f"no usable question in {args.data}")
    written = write_reports(args, model_args, report, [r for r in records if "errors" not in r], "Policy")
    journal.remove()
    say_unreadable(judge)
    return written


def say_unreadable(judge) -> None:
    from rl_critic.critique.critic import unreadable_line

    line = unreadable_line(judge)
    if line:
        print(line)


def _benchmark_rows(args: EvalPolicyArguments) -> list | None:
    """The question rows of a benchmark in a published layout (LLaVA-Bench-in-the-Wild, MMHal-Bench), else None."""
    from data_converters.images import ImageFolder
    from data_converters.parsing import ParseError
    from rl_critic.critique.questions import Row
    from rl_critic.evaluation.judged import is_llava_bench, is_mmhal, read_llava_bench, read_mmhal, read_wildvision

    reader = read_llava_bench if is_llava_bench(args.data) else read_mmhal if is_mmhal(args.data) else None
    if reader is None and args.grading == "judge" and args.judge_mode == "pairwise":
        reader = read_wildvision
    if reader is None:
        return None
    base = args.data if Path(args.data).is_dir() else str(Path(args.data).parent)
    try:
        folder = ImageFolder.of_input(base, args.images_root, args.image_urls)
    except ParseError as err:
        raise UserError(str(err)) from err
    found = reader(args.data)
    if found is None:  # not in the layout after all (`read_wildvision` looks inside)
        return None
    rows = [Row(data, folder) for data in found]
    return rows[: args.limit] if args.limit is not None else rows


def _judge_answers(args, critic_args, model_args, rows, records, journal) -> int:
    """`--grading judge`: the judge reviews every answer (`rl_critic.evaluation.judged`), then the report."""
    from functools import partial

    from rl_critic.critique.critic import build_judge
    from rl_critic.critique.journal import Journal, run_settings
    from rl_critic.evaluation.judged import (
        item_agreement,
        judged,
        other_judge_scores,
        pairwise_report,
        read_baselines,
        reference_report,
        review_requests,
        score_report,
    )
    from rl_critic.evaluation.report import report_paths
    from rl_critic.models.media import MediaBudget

    mode = args.judge_mode
    baselines = read_baselines(args.baseline) if mode == "pairwise" else None
    requests, reviews = review_requests(rows, records, MediaBudget.of(model_args), mode, baselines)
    if not requests:
        journal.remove()
        against = "a baseline answer" if mode == "pairwise" else "a reference answer"
        raise UserError(f"no question of {args.data} was answered with {against} to judge against")
    pending = [review for review in reviews if "error" not in review]  # one per question's requests, in order
    # the reviews are journaled beside the answers (a second file: each journal claims its own output)
    review_journal = Journal(report_paths(args.out)[2], run_settings(args, critic_args, model_args, source=args.data))
    review_journal.check(args.chunk)

    judges = []  # the one the reviews were asked of (none when every review was journaled before)

    def review_chunks(done: int):
        judge = build_judge(critic_args, model_args, args.batch_size)
        judges.append(judge)
        if hasattr(judge, "skip_too_long"):
            judge.skip_too_long = True
        method = {"score": "score", "pairwise": "compare"}.get(mode, "score_pairs")
        ask = getattr(judge, method, None)
        if ask is None:
            raise UserError(
                f"the judge {type(judge).__name__} has no `{method}` method, which --judge_mode {mode} asks"
            )
        for start in range(done, len(requests), args.chunk):
            chunk = requests[start : start + args.chunk]
            answers = iter(ask([request for asked in chunk for request in asked]))
            grouped = [[next(answers) for _ in asked] for asked in chunk]
            yield from map(partial(judged, mode=mode), pending[start : start + args.chunk], grouped)

    done = iter(review_journal.fill(args.chunk, review_chunks, "review(s)"))
    reviews = [review if "error" in review else next(done) for review in reviews]
    scored = [review for review in reviews if "error" not in review]
    report = {
        "grading": "judge",
        "judge_mode": args.judge_mode,
        "judge": critic_args.critic_class or critic_args.critic_model or model_args.model_name_or_path,
        "questions": len(scored),
        **({"baselines": list(baselines)} if mode == "pairwise" else {}),
        "scores": (
            pairwise_report(scored, policy=model_args.model_name_or_path)
            if mode == "pairwise"
            else {"score": score_report}.get(mode, reference_report)(scored)
        ),
        "errors": [{"id": review["id"], "error": review["error"]} for review in reviews if "error" in review],
    }
    if args.agree_with:
        other = other_judge_scores(args.agree_with)
        report["agreement"] = {
            "with": args.agree_with,
            **item_agreement(scored, other, policy=model_args.model_name_or_path),
        }
    written = write_reports(args, model_args, report, reviews, "Judged policy")
    if mode == "pairwise" and report["scores"]["ranking"]:
        from rl_critic.evaluation.report import ranking_figure

        figure = report_paths(args.out)[0].with_suffix(".ranking.png")
        title = f"{model_args.model_name_or_path} against {len(baselines)} baseline(s), judged by {report['judge']}"
        print(f"-> {ranking_figure(report['scores']['ranking'], figure, title)}")
    review_journal.remove()
    journal.remove()
    for judge in judges:
        say_unreadable(judge)
    return written
