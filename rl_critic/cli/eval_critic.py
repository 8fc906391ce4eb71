"""`rl-critic eval critic`: a critic's verdicts on converted benchmark data against the human labels.

Reads the `eval` output of `rl-critic convert` (any benchmark source); writes `report.json`, `report.md`
and `report.judgments.jsonl` beside each other (named after `--out`). Judged rows are kept in
`.OUT.journal.jsonl` a chunk at a time; the same command after a kill goes on from there.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from data_converters.image_urls import image_urls_field
from rl_critic.cli.dispatch import docstring_summary
from rl_critic.cli.eval import EvalArguments, sampling_settings, write_reports
from rl_critic.ground.errors import UserError
from rl_critic.models.loader import InferenceModelArguments
from rl_critic.script.parsing import parse


@dataclass
class EvalCriticArguments(EvalArguments):
    swap: bool = field(default=False, metadata={"help": "Also judge every pair in the other order."})
    blank_image: bool = field(default=False, metadata={"help": "Replace every image by a blank one."})
    image_urls: str = image_urls_field()
    chunk: int = field(
        default=64,
        metadata={
            "help": "Rows judged together (images read per chunk); a killed run goes on after the last whole chunk."
        },
    )
    prompt: str = field(
        default="row",
        metadata={
            "help": "Judge with each row's converted prompt or the default judge layout.",
            "choices": ["row", "default"],
        },
    )
    probes: str | None = field(
        default=None,
        metadata={
            "help": "Robustness probes after the plain evaluation: `all` or a comma list of position, length, "
            "master_key, injection, image, stability (report.json `probes`; docs/evaluation.md)."
        },
    )
    probe_samples: int = field(
        default=4, metadata={"help": "Judgments of each pair for the stability probe (sampled at temperature > 0)."}
    )
    unreadable_ok: bool = field(
        default=False,
        metadata={
            "help": "Go on when the first batch of judgments holds no readable verdict (by default the run stops "
            "there with the likely cause: answers cut at max_new_tokens, an untrained critic, the wrong --prompt)."
        },
    )
    critic_class: str | None = field(
        default=None,
        metadata={
            "help": "A judge by dotted path instead of a model (`pkg.module.Class`, built with no arguments; "
            "`compare(requests)`, and `score(requests)` for pointwise rows): a rule-based or API judge, evaluated "
            "as a model is. No model loads."
        },
    )


ARGUMENTS = (EvalCriticArguments, InferenceModelArguments)


def command_judge(engine, settings, args: EvalCriticArguments):
    """A judge as this command asks it: its own flags named in the unreadable-verdict advice, and a row too long
    for the critic a reported row (one 10 MB response), not a failed evaluation."""
    from rl_critic.critique.judge import Judge

    judge = Judge(engine, settings, args.batch_size)
    judge.skip_too_long = True
    judge.unreadable_ok, judge.unreadable_option = args.unreadable_ok, "--unreadable_ok true"
    judge.readability.flag = "--max_new_tokens"
    return judge


def main(argv: list[str]) -> int:
    args, model_args = parse(ARGUMENTS, "rl-critic eval critic", argv, docstring_summary(__doc__))
    from rl_critic.evaluation.report import check_report_paths, report_paths

    check_report_paths(args.out, (args.data,), args.overwrite)  # before the model loads, not after the work
    from rl_critic.evaluation.probes import probe_names

    try:
        probes = probe_names(args.probes) if args.probes else []
    except ValueError as err:
        raise UserError(f"--probes: {err}") from err
    if args.probe_samples < 2 and "stability" in probes:
        raise UserError("--probe_samples must be at least 2 for the stability probe")
    from transformers import set_seed

    from data_converters.images import ImageFolder
    from data_converters.io import load_input
    from rl_critic.critique.critic import CriticArguments, build_judge, unreadable_line
    from rl_critic.critique.journal import Journal, run_settings
    from rl_critic.critique.judge import Judge
    from rl_critic.evaluation.critic import RowMedia, critic_report, judge_chunks
    from rl_critic.generation.engines import load_engine
    from rl_critic.generation.settings import policy_engine_settings
    from rl_critic.models.media import MediaBudget

    set_seed(args.seed)
    dataset, base = load_input(args.data)  # images undecoded: each row's are read (and may fail) on their own
    if "solution" not in dataset.column_names or "responses" not in dataset.column_names:
        raise UserError(f"{args.data} is not converted eval data (run `rl-critic convert --task eval` first)")
    if args.limit is not None:
        dataset = dataset.select(range(min(args.limit, len(dataset))))
    media_columns = [c for c in ("image", "images", "video") if c in dataset.column_names]
    labels = dataset.remove_columns(media_columns)  # for the report
    journal = Journal(report_paths(args.out)[0], run_settings(args, model_args, source=args.data))
    journal.check(args.chunk)  # a clash with another run or other settings is found before the model loads
    # how rows' pictures and videos are read: a budget that cannot work is refused before the model loads
    media = RowMedia(MediaBudget.of(model_args), ImageFolder(base, None, args.image_urls), args.blank_image)
    if args.critic_class:  # a judge of the user's own: the report names it where it names a model
        judge = build_judge(CriticArguments(critic_class=args.critic_class), None, args.batch_size)
        model_args.model_name_or_path = args.critic_class
    else:
        engine = load_engine(policy_engine_settings(model_args), model_args)
        judge = command_judge(engine, sampling_settings(args), args)
    options = {"swap": args.swap, "own_prompt": args.prompt == "row"}
    entries = journal.fill(
        args.chunk,
        lambda done: judge_chunks(dataset, judge, args.chunk, args.seed, done, media=media, **options),
        "row(s)",
    )
    report, records = critic_report(list(labels), entries, blank_image=args.blank_image, **options)
    if "pairwise" not in report and "pointwise" not in report:  # a report of nothing is no success
        journal.remove()
        reasons = [
            f"{report[key]['rows']} {what}, e.g. {report[key]['first']}"
            for key, what in (("skipped_too_long", "too long for the critic"), ("errors", "could not be judged"))
            if key in report
        ]
        raise UserError(f"no row of {args.data} was judged ({'; '.join(reasons) or 'none to judge'}): nothing measured")
    if probes:
        from rl_critic.evaluation.probes import probe_pairs, probe_points, run_point_probes, run_probes

        sampler = judge
        if "stability" in probes and isinstance(judge, Judge) and args.temperature == 0:  # greedy never varies
            sampler = command_judge(judge.engine, replace(sampling_settings(args), do_sample=True), args)
        rows = list(dataset)

        def pictures_of(row: dict) -> list:
            if row.get("video") not in (None, []):  # left out, as an unreadable row is: the probes alter pictures only
                raise UserError("the probes read pictures only so far")
            return media.load(row).images

        pairs, points = probe_pairs(rows, pictures_of), probe_points(rows, pictures_of)
        print(f"probing {len(pairs)} pairs and {len(points)} scored responses: {', '.join(probes)}")
        report["probes"] = run_probes(pairs, judge, probes, args.probe_samples, sampler)
        report["probes"] |= run_point_probes(points, judge, probes)
    if "skipped_too_long" in report:
        skipped = report["skipped_too_long"]
        print(f"skipped {skipped['rows']} row(s) left out of every metric, e.g. {skipped['first']}")
    if "errors" in report:
        errors = report["errors"]
        print(f"{errors['rows']} row(s) could not be judged, left out of every metric, e.g. {errors['first']}")
    written = write_reports(args, model_args, report, records, "Critic")
    journal.remove()
    unreadable = unreadable_line(judge, "verdicts")
    if unreadable:
        print(unreadable)
    return written
