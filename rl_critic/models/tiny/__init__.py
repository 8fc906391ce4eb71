"""Tiny offline Qwen2.5-VL and LLaVA-OneVision models: the default model of every command and test."""

from rl_critic.models.tiny.cache import (
    cache_root,
    ensure_tiny_model,
    parse_tiny_name,
    save_tiny_model,
    tiny_model_names,
)
from rl_critic.models.tiny.models import ARCHS, SIZES, build_tiny_model

__all__ = [
    "ARCHS",
    "SIZES",
    "build_tiny_model",
    "cache_root",
    "ensure_tiny_model",
    "parse_tiny_name",
    "save_tiny_model",
    "tiny_model_names",
]
