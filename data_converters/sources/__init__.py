"""One module per data source; each exposes `SOURCES: dict[name, Source]` (`source.Source`), and `all_sources`
is the one registry of them (the CLI's `--source` choices are its names).

A source only reads: it turns one input row into `Judgment`s (or raises `ParseError` with the reason the
row is unusable). Column names follow the real datasets; aliases cover the spellings seen in mirrors.
"""

from __future__ import annotations

from data_converters.sources.source import Source


def all_sources() -> dict[str, Source]:
    """Every source, by CLI name (the modules load on the first call: only `convert` pays for them)."""
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
