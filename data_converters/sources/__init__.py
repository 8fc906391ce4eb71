"""One module per data source; each exposes `SOURCES: dict[name, Source]`.

A source only reads: it turns one input row into `Judgment`s (or raises `ParseError` with the reason the
row is unusable). Column names follow the real datasets; aliases cover the spellings seen in mirrors.
"""

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


def all_sources() -> dict[str, Source]:
    """Every source, by CLI name (imported lazily so the CLI starts fast)."""
    from data_converters.sources import (
        llava_critic,
        mllm_judge,
        mm_rlhf_rewardbench,
        multimodal_rewardbench,
        preference,
        vl_rewardbench,
    )

    registry: dict[str, Source] = {}
    modules = (llava_critic, vl_rewardbench, multimodal_rewardbench, mm_rlhf_rewardbench, mllm_judge, preference)
    for module in modules:
        registry.update(module.SOURCES)
    return registry
