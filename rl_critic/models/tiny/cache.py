"""Names like `tiny` resolve to a tiny model built once into a local cache folder.

Every command accepts `--model tiny` (or `tiny-llava_onevision`, `tiny-qwen2_5_vl-small`, and the hub-like
`tiny-like-qwen2.5-vl-7b-instruct` / `tiny-like-llava-onevision-qwen2-7b-ov-hf`). The
first use builds the model into `$RL_CRITIC_CACHE` (default `~/.cache/rl-critic`); later uses load the
folder like any checkpoint. A file lock makes concurrent first uses (two DDP ranks, parallel tests) build
it once, and the build goes to a temporary folder renamed into place, so a killed build never leaves a
half-written model behind.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from filelock import FileLock

from rl_critic.ground.files import staged_folder, umask
from rl_critic.models.tiny.hub_like import HUB_LIKE_FORMAT, build_hub_like_model, hub_like_ids, like_name, parse_like
from rl_critic.models.tiny.models import ARCHS, SIZES, TINY_MODEL_FORMAT, build_tiny_model

MARKER = "rl_critic_tiny.json"


def cache_root() -> Path:
    """The folder tiny models are cached in: `$RL_CRITIC_CACHE`, else `~/.cache/rl-critic`."""
    return Path(os.environ.get("RL_CRITIC_CACHE") or Path.home() / ".cache" / "rl-critic").expanduser()


def parse_tiny_name(name: str) -> tuple[str, str] | None:
    """`tiny` / `tiny-<arch>` / `tiny-<arch>-<size>` -> (arch, size); anything else -> None."""
    if name == "tiny":
        return "qwen2_5_vl", "tiny"
    if not name.startswith("tiny-"):
        return None
    rest = name[len("tiny-") :]
    for arch in ARCHS:
        if rest == arch:
            return arch, "tiny"
        for size in SIZES:
            if rest == f"{arch}-{size}":
                return arch, size
    return None


def tiny_model_names() -> list[str]:
    """Every name `parse_tiny_name` and `parse_like` accept, for help texts and error messages."""
    plain = [f"tiny-{arch}" + ("" if size == "tiny" else f"-{size}") for arch in ARCHS for size in SIZES]
    return ["tiny", *plain, *(like_name(hub_id) for hub_id in hub_like_ids())]


def save_tiny_model(
    out_dir: str | os.PathLike, arch: str = "qwen2_5_vl", size: str = "tiny", seed: int = 0, like: str | None = None
) -> Path:
    """Build a tiny model (or, with `like`, one laid out as that hub checkpoint) and save model + processor
    to `out_dir` (replaced atomically)."""
    out = Path(out_dir).expanduser().resolve()
    if like is not None:
        model, processor = build_hub_like_model(like, seed)
        marker = {"like": parse_like(like), "seed": seed, "format": HUB_LIKE_FORMAT}
    else:
        model, processor = build_tiny_model(arch, size, seed)
        marker = {"arch": arch, "size": size, "seed": seed, "format": TINY_MODEL_FORMAT}
    with staged_folder(out) as staging:
        _save_model_on_any_rank(model, staging)
        processor.save_pretrained(staging)
        (staging / MARKER).write_text(json.dumps(marker, indent=2) + "\n")
    return out


def _save_model_on_any_rank(model, folder: Path) -> None:
    """What `save_pretrained` writes for a small model, without its rank gating.

    Under `accelerate launch` / torchrun, `save_pretrained` writes weights on global rank 0 only; the
    first rank to need a tiny model may be another one (they build under a lock), and it would leave a
    folder without weights. Config, generation config and one safetensors file are all a tiny model has.
    """
    from safetensors.torch import save_file

    model.config.architectures = [type(model).__name__]  # save_pretrained records it; TRL's ref model needs it
    model.config.dtype = next(model.parameters()).dtype  # as save_pretrained records it (hub-like: bf16 / fp16)
    model.config.save_pretrained(folder)
    model.generation_config.save_pretrained(folder)
    weights = folder / "model.safetensors"
    save_file(_state_without_tied_copies(model), str(weights), metadata={"format": "pt"})
    weights.chmod(0o666 & ~umask())  # safetensors writes 0600


def _state_without_tied_copies(model) -> dict:
    """The weights as `save_pretrained` names them: a tied `lm_head.weight` is left out and the shared table
    kept as the embedding (`...embed_tokens.weight`). safetensors' `save_model` keeps the other name, which
    transformers reloads but vLLM does not (it leaves its embedding uninitialised and generates other text)."""
    tied = getattr(model.config, "tie_word_embeddings", False)
    dropped = set(getattr(model, "_tied_weights_keys", None) or {}) if tied else set()
    return {name: tensor.contiguous() for name, tensor in model.state_dict().items() if name not in dropped}


def _is_current(folder: Path, expected: dict) -> bool:
    """Built by this version, and its weights readable (a truncated file, e.g. a full disk, means rebuild)."""
    from safetensors import safe_open

    try:
        marker = json.loads((folder / MARKER).read_text())
        with safe_open(str(folder / "model.safetensors"), "pt") as weights:
            weights.keys()
    except Exception:  # OSError, ValueError, SafetensorError: not usable, build it again
        return False
    return all(marker.get(key) == value for key, value in expected.items())


def ensure_tiny_model(arch: str = "qwen2_5_vl", size: str = "tiny", like: str | None = None) -> Path:
    """Return the cached folder of a tiny model (or a hub-like one), building it first if missing or outdated."""
    if like is not None:
        like = parse_like(like)
        folder = cache_root() / like_name(like)
        expected = {"like": like, "format": HUB_LIKE_FORMAT}
    else:
        folder = cache_root() / (f"tiny-{arch}" + ("" if size == "tiny" else f"-{size}"))
        expected = {"arch": arch, "size": size, "format": TINY_MODEL_FORMAT}
    if _is_current(folder, expected):
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder) + ".lock"):
        if not _is_current(folder, expected):
            save_tiny_model(folder, arch, size, like=like)
    return folder
