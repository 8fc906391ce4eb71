"""What a source is: the `Source` a module of `data_converters.sources` registers, and the column helpers
every source reads rows with (`column`: a field under any of its spellings; `row_id`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from data_converters.parsing import ParseError
from data_converters.schema import Judgment

Reader = Callable[[dict[str, Any], int, "str | None"], list[Judgment]]


@dataclass(frozen=True)
class Source:
    name: str
    read: Reader  # (row, index, base_dir of the input file) -> judgments
    hub_config: str | None = None  # the hub dataset config to read when the user names none
    multi_image: bool = False


def column(row: dict[str, Any], *names: str, required: bool = True) -> Any:
    """The first present, non-empty column among `names` (aliases of one field)."""
    for name in names:
        value = row.get(name)
        if value is not None and value != "":
            return value
    if required:
        raise ParseError(f"missing column {names[0]!r}")
    return None


def row_id(row: dict[str, Any], source: str, index: int, *names: str) -> str:
    value = column(row, *names, "id", "ID", required=False)
    return str(value) if value is not None else f"{source}-{index}"
