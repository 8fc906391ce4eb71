"""Shared fixtures: an isolated tiny-model cache (built once per session), offline hub, test images."""

from __future__ import annotations

import os

import pytest
from PIL import Image, ImageDraw

from rl_critic.script.noise import warning_filter_lines


def pytest_configure(config):
    """The library warnings our commands route to a log (`rl_critic.script.noise`) stay out of the test summary
    too (it listed 89 `gradient_checkpointing is deprecated` a run)."""
    for line in warning_filter_lines():
        config.addinivalue_line("filterwarnings", line)


os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"


@pytest.fixture(scope="session", autouse=True)
def tiny_cache(tmp_path_factory):
    """Point the tiny-model cache at a fresh folder, so the suite also tests building from nothing."""
    root = tmp_path_factory.mktemp("rl-critic-cache")
    old = os.environ.get("RL_CRITIC_CACHE")
    os.environ["RL_CRITIC_CACHE"] = str(root)
    yield root
    if old is None:
        os.environ.pop("RL_CRITIC_CACHE", None)
    else:
        os.environ["RL_CRITIC_CACHE"] = old


@pytest.fixture(scope="session")
def tiny_dirs(tiny_cache):
    """arch -> cached folder of the tiny model of that arch."""
    from rl_critic.models.tiny import ensure_tiny_model

    return {arch: ensure_tiny_model(arch) for arch in ("qwen2_5_vl", "llava_onevision")}


def shape_image(width: int = 56, height: int = 56, colour=(220, 30, 30)) -> Image.Image:
    """A white image with one filled circle: a real picture, not a constant tensor."""
    image = Image.new("RGB", (width, height), "white")
    ImageDraw.Draw(image).ellipse((width // 4, height // 4, 3 * width // 4, 3 * height // 4), fill=colour)
    return image


@pytest.fixture
def red_image() -> Image.Image:
    return shape_image()
