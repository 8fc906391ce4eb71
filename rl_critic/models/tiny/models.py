"""Tiny, randomly initialised Qwen2.5-VL and LLaVA-OneVision models, built offline from a config.

Every test, benchmark and the demo run on these: nothing can be downloaded here, and a real 7B model
would not fit the CPU budget anyway. They are *real* instances of the transformers classes (same
modelling code, same processors, same chat-template mechanics), only small, so a code path that works
on them works unchanged on a hub checkpoint.

Sizes are multiples of 64 wherever a Linear layer takes the input, because bitsandbytes' CPU 4-bit
kernels refuse other widths (measured: a 32-wide vision layer fails the no-grad 4-bit forward);
`tiny` is ~0.4M parameters, `small` ~4M.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from rl_critic.models.tiny.chat_template import chat_template
from rl_critic.models.tiny.tokenizer import build_tokenizer

ARCHS = ("qwen2_5_vl", "llava_onevision")
SIZES = ("tiny", "small", "demo")
# Bump when the tiny models change so cached copies are rebuilt instead of silently reused.
TINY_MODEL_FORMAT = 4

# Qwen2.5-VL: 14 px patches merged 2x2, so one image token per 28x28 pixels. 56x56 -> 4 tokens;
# the max (112x112) caps an image at 16 tokens, which keeps CPU sequences short.
QWEN_MIN_PIXELS = 56 * 56
QWEN_MAX_PIXELS = 112 * 112
# LLaVA-OneVision: one 56x56 tile of 14 px patches -> 16 tokens per tile.
ONEVISION_TILE = 56


@dataclass(frozen=True)
class TinySpec:
    """Widths of one tiny model; head_dim = hidden / heads."""

    hidden: int
    layers: int
    heads: int
    kv_heads: int
    intermediate: int
    vision_hidden: int
    vision_layers: int
    vision_heads: int
    vision_intermediate: int


SPECS = {
    "tiny": TinySpec(64, 2, 2, 1, 128, 64, 2, 2, 128),  # head_dim 32: the least vLLM's CPU attention takes
    "small": TinySpec(256, 4, 4, 2, 512, 128, 4, 4, 256),
    # tiny's widths, 4 heads of 16 with a key/value head each: the demo's model. Its critic must tell apart two
    # colour words by the response marker before each, an attention circuit that formed within 2,000 steps on
    # about half the training seeds with tiny's 2 heads sharing one key/value head, and on every seed tried with
    # these (docs/demo.md). vLLM's CPU attention takes head_dim >= 32, so this one runs on the hf engine only.
    "demo": TinySpec(64, 2, 4, 4, 128, 64, 2, 2, 128),
}


def _mrope_section(head_dim: int) -> list[int]:
    """Split head_dim/2 rotary frequencies into (temporal, height, width) sections, as Qwen does."""
    half = head_dim // 2
    temporal = half // 4 if half >= 16 else half - 2 * (half * 3 // 8)
    spatial = (half - temporal) // 2
    return [temporal, spatial, half - temporal - spatial]


def _text_fields(spec: TinySpec, vocab_size: int, tokenizer) -> dict:
    return dict(
        vocab_size=vocab_size,
        hidden_size=spec.hidden,
        intermediate_size=spec.intermediate,
        num_hidden_layers=spec.layers,
        num_attention_heads=spec.heads,
        num_key_value_heads=spec.kv_heads,
        max_position_embeddings=4096,
        bos_token_id=tokenizer.convert_tokens_to_ids("<|endoftext|>"),
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )


def _padded_vocab(tokenizer) -> int:
    """Embedding rows for the tokenizer, rounded up to 64 as real checkpoints do."""
    return (len(tokenizer) + 63) // 64 * 64


def _build_qwen2_5_vl(spec: TinySpec):
    from transformers import (
        Qwen2_5_VLConfig,
        Qwen2_5_VLForConditionalGeneration,
        Qwen2_5_VLProcessor,
        Qwen2VLImageProcessor,
        Qwen2VLVideoProcessor,
    )

    tokenizer = build_tokenizer("qwen2_5_vl")
    head_dim = spec.hidden // spec.heads
    text = _text_fields(spec, _padded_vocab(tokenizer), tokenizer)
    text["rope_parameters"] = {"rope_type": "default", "rope_theta": 1e6, "mrope_section": _mrope_section(head_dim)}
    config = Qwen2_5_VLConfig(
        text_config=text,
        vision_config=dict(
            depth=spec.vision_layers,
            hidden_size=spec.vision_hidden,
            intermediate_size=spec.vision_intermediate,
            num_heads=spec.vision_heads,
            out_hidden_size=spec.hidden,
            window_size=112,
            fullatt_block_indexes=[spec.vision_layers - 1],
        ),
        image_token_id=tokenizer.convert_tokens_to_ids("<|image_pad|>"),
        video_token_id=tokenizer.convert_tokens_to_ids("<|video_pad|>"),
        vision_start_token_id=tokenizer.convert_tokens_to_ids("<|vision_start|>"),
        vision_end_token_id=tokenizer.convert_tokens_to_ids("<|vision_end|>"),
        tie_word_embeddings=True,
    )
    model = Qwen2_5_VLForConditionalGeneration(config)
    pixels = {"shortest_edge": QWEN_MIN_PIXELS, "longest_edge": QWEN_MAX_PIXELS}
    processor = Qwen2_5_VLProcessor(
        image_processor=Qwen2VLImageProcessor(size=pixels),
        video_processor=Qwen2VLVideoProcessor(size=pixels),
        tokenizer=tokenizer,
        chat_template=chat_template("qwen2_5_vl"),
    )
    return model, processor


def _build_llava_onevision(spec: TinySpec):
    from transformers import (
        LlavaOnevisionConfig,
        LlavaOnevisionForConditionalGeneration,
        LlavaOnevisionImageProcessor,
        LlavaOnevisionProcessor,
        LlavaOnevisionVideoProcessor,
    )

    tokenizer = build_tokenizer("llava_onevision")
    patch = 14
    tokens_per_tile = (ONEVISION_TILE // patch) ** 2
    config = LlavaOnevisionConfig(
        text_config={"model_type": "qwen2", **_text_fields(spec, _padded_vocab(tokenizer), tokenizer)},
        vision_config=dict(
            model_type="siglip_vision_model",
            hidden_size=spec.vision_hidden,
            intermediate_size=spec.vision_intermediate,
            num_hidden_layers=spec.vision_layers,
            num_attention_heads=spec.vision_heads,
            image_size=ONEVISION_TILE,
            patch_size=patch,
            vision_use_head=False,
        ),
        image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
        video_token_index=tokenizer.convert_tokens_to_ids("<video>"),
        vision_feature_select_strategy="full",
        vision_feature_layer=-1,
        image_grid_pinpoints=[[ONEVISION_TILE, ONEVISION_TILE]],
        vision_aspect_ratio="anyres_max_9",
        tie_word_embeddings=True,
    )
    model = LlavaOnevisionForConditionalGeneration(config)
    tile = {"height": ONEVISION_TILE, "width": ONEVISION_TILE}
    processor = LlavaOnevisionProcessor(
        image_processor=LlavaOnevisionImageProcessor(size=tile, image_grid_pinpoints=[[ONEVISION_TILE] * 2]),
        video_processor=LlavaOnevisionVideoProcessor(size=tile),
        tokenizer=tokenizer,
        num_image_tokens=tokens_per_tile,
        vision_feature_select_strategy="full",
        vision_aspect_ratio="anyres_max_9",
        chat_template=chat_template("llava_onevision"),
    )
    return model, processor


def build_tiny_model(arch: str = "qwen2_5_vl", size: str = "tiny", seed: int = 0):
    """Build a randomly initialised (model, processor) pair; deterministic for a given seed."""
    if arch not in ARCHS:
        raise ValueError(f"unknown arch {arch!r}; expected one of {', '.join(ARCHS)}")
    if size not in SIZES:
        raise ValueError(f"unknown size {size!r}; expected one of {', '.join(SIZES)}")
    torch.manual_seed(seed)
    builder = _build_qwen2_5_vl if arch == "qwen2_5_vl" else _build_llava_onevision
    model, processor = builder(SPECS[size])
    model.generation_config.eos_token_id = processor.tokenizer.eos_token_id
    model.generation_config.pad_token_id = processor.tokenizer.pad_token_id
    model.generation_config.do_sample = False
    return model.eval(), processor
