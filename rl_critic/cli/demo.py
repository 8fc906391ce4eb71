"""`rl-critic demo`: critic data -> SFT warm start -> GRPO -> evaluation -> self-critique, on a CPU in minutes.

Builds a tiny Qwen2.5-VL, trains it as a critic on synthetic LLaVA-Critic-113k-style data with the public
commands (`make-synthetic`, `convert`, `train`, `eval`, `best-of-n`), and writes `<out>/REPORT.md` with the
held-out accuracy after each stage, `reward_curve.png`, the best-of-N table and the wall time per stage.
Re-running skips finished stages (`--force` starts over).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from rl_critic.cli.dispatch import docstring_summary
from rl_critic.demo.plan import HARD_NEGATIVES
from rl_critic.ground.errors import UserError
from rl_critic.script.parsing import parse


@dataclass
class DemoArguments:
    out: str = field(default="demo_out", metadata={"help": "Output folder."})
    minutes: float = field(
        default=12.0,
        metadata={
            "help": "Picks the plan: the full one from 8 minutes up, a reduced one below. Stages run fixed steps, so "
            "a seed gives the same numbers on any machine; the time is only estimated."
        },
    )
    seed: int = field(default=0, metadata={"help": "Seed of data, model and training."})
    hard_negatives: float = field(
        default=HARD_NEGATIVES,
        metadata={
            "help": "Share of the critic pairs replayed while the critic gets its answers back, and of its GRPO "
            "prompts, that add a master-key or cut-off twin (`convert --hard_negatives`); 0 trains the critic "
            "without them (the control of docs/demo.md)."
        },
    )
    force: bool = field(default=False, metadata={"help": "Re-run every stage, even finished ones."})
    quiet: bool = field(default=False, metadata={"help": "No progress bars (the stage lines only)."})


ARGUMENTS = (DemoArguments,)


def main(argv: list[str]) -> int:
    (args,) = parse(ARGUMENTS, "rl-critic demo", argv, docstring_summary(__doc__))
    from rl_critic.demo.pipeline import Demo
    from rl_critic.demo.plan import DemoPlan
    from rl_critic.demo.report import write_report

    try:
        plan = DemoPlan.for_minutes(args.minutes, args.seed, args.hard_negatives)
    except ValueError as err:
        raise UserError(str(err)) from err
    out = Path(args.out).expanduser().resolve()
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {args.out} is a file; the demo writes a folder (pick a new path)")
    print(
        f"demo: the {plan.name} plan, seed {plan.seed}, about {plan.estimated_minutes():g} min on 2 idle CPU cores "
        "(the numbers depend on the plan and the seed, not on the machine's speed)"
    )
    start = time.perf_counter()
    results = Demo(out, plan, force=args.force, progress=not args.quiet).run()
    # A skipped stage counts with the time it took when it ran, so the total is the demo's, not this call's.
    wall = sum(r["seconds"] for r in results.values())
    peak_mb = max(r.get("peak_rss_mb", 0) for r in results.values())
    date = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    table = write_report(out, plan, results, wall, peak_mb, date)
    print(f"\n{table}\n\nreport: {out / 'REPORT.md'} (this call: {time.perf_counter() - start:.0f} s)")
    return 0
