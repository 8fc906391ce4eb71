"""The files an evaluation leaves: `report.json`, a readable `report.md` beside it, and `judgments.jsonl`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from data_converters.files import staged_file


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
    table(report)
    return "\n".join(lines) + "\n"


def write_report(out: str | Path, report: dict[str, Any], records: list[dict[str, Any]], title: str) -> str:
    """Write the three files (each atomically); returns the markdown, for printing."""
    out = Path(out)
    text = markdown(report, title)
    with staged_file(out) as handle:
        handle.write(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    with staged_file(out.with_suffix(".md")) as handle:
        handle.write(text)
    with staged_file(out.parent / "judgments.jsonl") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return text
