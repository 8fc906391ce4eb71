"""The files an evaluation leaves: `report.json`, a readable `report.md` beside it, and `report.judgments.jsonl`.

All three are named after `--out`, so two evaluations into one folder never overwrite each other's files, and
`--out report.md` cannot put the markdown over the JSON.
"""

from __future__ import annotations

import json
import os
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from data_converters.io import finite, json_line
from rl_critic.ground.files import check_output_file, staged_file, staged_path


def markdown(report: dict[str, Any], title: str) -> str:
    """A readable report.md: every number of the JSON report, one table per section."""
    lines = [f"# {title}", ""]

    def table(section: dict[str, Any], prefix: str = "") -> None:
        for key, value in section.items():
            if isinstance(value, dict):
                table(value, f"{prefix}{key} / ")
            else:
                shown = f"{value:.4f}" if isinstance(value, float) else str(value)
                lines.append(f"| {prefix}{key} | {shown} |")

    lines += ["| metric | value |", "|---|---|"]
    table({key: value for key, value in report.items() if key != "probes"})
    if report.get("probes"):  # one table of every probe and variant (`rl_critic.evaluation.probes`)
        from rl_critic.evaluation.probes import probe_table

        lines += ["", "## Robustness probes", "", *probe_table(report["probes"])]
    return "\n".join(lines) + "\n"


def report_paths(out: str | Path) -> tuple[Path, Path, Path]:
    """(report JSON, markdown, judgments) for `--out`: `x.json` / `x.md` / `x` all give `x.json`, `x.md` and
    `x.judgments.jsonl`."""
    out = Path(out)
    base = out.with_suffix("") if out.suffix in (".json", ".md") else out
    return (
        base.with_name(base.name + ".json"),
        base.with_name(base.name + ".md"),
        base.with_name(base.name + ".judgments.jsonl"),
    )


def check_report_paths(out: str | Path, inputs: tuple[str | Path | None, ...] = (), overwrite: bool = False) -> None:
    """Refuse, before any work, an `--out` whose report files cannot be written, exist (unless `overwrite`) or
    would replace one of the command's `inputs` (`check_output_file`)."""
    check_output_file(out, inputs)
    for path in report_paths(out):
        check_output_file(path, inputs, overwrite)


def write_report(out: str | Path, report: dict[str, Any], records: list[dict[str, Any]], title: str) -> str:
    """Write the three files, all or none: each is staged and they are renamed into place only once all three
    are written (judgments first, so a report never lacks them); returns the markdown, for printing."""
    json_path, markdown_path, judgments_path = report_paths(out)
    text = markdown(report, title)
    with ExitStack() as renames:  # closed in reverse: judgments, markdown, then the JSON
        json_file, markdown_file, judgments_file = (
            renames.enter_context(staged_file(path)) for path in (json_path, markdown_path, judgments_path)
        )
        judgments_file.writelines(json_line(record) for record in records)
        markdown_file.write(text)
        json_file.write(json.dumps(finite(report), indent=2, ensure_ascii=False, allow_nan=False) + "\n")
        for handle in (judgments_file, markdown_file, json_file):  # a full disk fails here, before any rename
            handle.flush()
            os.fsync(handle.fileno())
    return text


def ranking_figure(ranking: list[dict[str, Any]], path: Path, title: str) -> Path:
    """A horizontal chart of a Bradley-Terry ranking (`rating`, 95% `interval` per model), strongest on top."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 0.6 * len(ranking) + 1.2))
    labels = [entry["model"] for entry in reversed(ranking)]
    ratings = [entry["rating"] for entry in reversed(ranking)]
    low = [entry["rating"] - entry["interval"][0] for entry in reversed(ranking)]
    high = [entry["interval"][1] - entry["rating"] for entry in reversed(ranking)]
    axis.errorbar(ratings, range(len(labels)), xerr=[low, high], fmt="o", capsize=4)
    axis.set_yticks(range(len(labels)), labels)
    axis.set_xlabel("Bradley-Terry rating (Elo scale), 95% bootstrap interval")
    axis.set_title(title)
    figure.tight_layout()
    with staged_path(path) as temporary:
        figure.savefig(temporary, format="png", dpi=120)
    plt.close(figure)
    return path
