"""The tiny offline models: build, save, reload offline, forward, generate, tokenizer and template."""

from __future__ import annotations

import json

import pytest
import torch
from transformers import AutoModelForImageTextToText, AutoProcessor

from rl_critic.models.tiny import build_tiny_model, ensure_tiny_model, parse_tiny_name, tiny_model_names
from rl_critic.models.tiny.cache import MARKER
from rl_critic.models.tiny.hub_like import parse_like
from tests.conftest import shape_image

ARCHS = ["qwen2_5_vl", "llava_onevision"]


def _chat(processor, text: str, num_images: int = 1) -> str:
    content = [{"type": "image"}] * num_images + [{"type": "text", "text": text}]
    return processor.apply_chat_template(
        [{"role": "user", "content": content}], add_generation_prompt=True, tokenize=False
    )


@pytest.mark.parametrize("arch", ARCHS)
def test_cached_folder_is_a_complete_small_checkpoint(tiny_dirs, arch):
    folder = tiny_dirs[arch]
    names = {p.name for p in folder.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "chat_template.jinja", MARKER} <= names
    assert not any(name.endswith((".bin", ".pkl", ".pt")) for name in names), "weights must be safetensors"
    size_mb = sum(p.stat().st_size for p in folder.iterdir()) / 1e6
    assert size_mb < 5, size_mb
    assert json.loads((folder / "config.json").read_text())["model_type"] == arch


@pytest.mark.parametrize("arch", ARCHS)
def test_reloads_offline_with_auto_classes_and_runs_forward(tiny_dirs, arch, red_image):
    model = AutoModelForImageTextToText.from_pretrained(tiny_dirs[arch])
    processor = AutoProcessor.from_pretrained(tiny_dirs[arch])
    assert model.config.model_type == arch
    assert processor.tokenizer.padding_side == "left"
    inputs = processor(text=[_chat(processor, "What colour is the circle?")], images=[red_image], return_tensors="pt")
    with torch.no_grad():
        logits = model(**inputs).logits
    assert logits.shape[:2] == inputs["input_ids"].shape
    assert logits.shape[-1] == model.config.get_text_config().vocab_size
    assert torch.isfinite(logits).all()


@pytest.mark.parametrize(
    ("arch", "sizes", "expected_per_image"),
    [
        # Qwen2.5-VL: one token per 28x28 px; the tiny processor keeps 56..112 px squares.
        ("qwen2_5_vl", [(56, 56)], [4]),
        ("qwen2_5_vl", [(112, 112)], [16]),
        ("qwen2_5_vl", [(224, 224)], [16]),  # capped by max_pixels = 112*112
        ("qwen2_5_vl", [(56, 56), (112, 112)], [4, 16]),
        # LLaVA-OneVision: 16 base tokens + 16 tile tokens + 4 newline tokens for one image,
        # no tiling with several images (16 + 1 newline each).
        ("llava_onevision", [(56, 56)], [36]),
        ("llava_onevision", [(56, 56), (56, 56)], [17, 17]),
    ],
)
def test_image_placeholders_expand_to_the_right_token_count(tiny_dirs, arch, sizes, expected_per_image):
    processor = AutoProcessor.from_pretrained(tiny_dirs[arch])
    images = [shape_image(w, h) for w, h in sizes]
    text = _chat(processor, "Describe.", num_images=len(images))
    inputs = processor(text=[text], images=[images], return_tensors="pt")
    assert int((inputs["input_ids"] == processor.image_token_id).sum()) == sum(expected_per_image)


@pytest.mark.parametrize("arch", ARCHS)
def test_generate_on_a_real_image(tiny_dirs, arch, red_image):
    model = AutoModelForImageTextToText.from_pretrained(tiny_dirs[arch])
    processor = AutoProcessor.from_pretrained(tiny_dirs[arch])
    inputs = processor(text=[_chat(processor, "What is shown?")], images=[red_image], return_tensors="pt")
    out = model.generate(**inputs, max_new_tokens=6, do_sample=False)
    new_tokens = out[0, inputs["input_ids"].shape[1] :]
    assert 1 <= len(new_tokens) <= 6
    assert isinstance(processor.decode(new_tokens, skip_special_tokens=True), str)


@pytest.mark.parametrize("arch", ARCHS)
def test_tokenizer_keeps_think_tags_and_round_trips_any_text(tiny_dirs, arch):
    tokenizer = AutoProcessor.from_pretrained(tiny_dirs[arch]).tokenizer
    text = "<think>The circle is red, so response 1 is right.</think>\\boxed{1} 你好 — émoji 🎉\n\ttabs"
    ids = tokenizer(text, add_special_tokens=False).input_ids
    assert tokenizer.decode(ids, skip_special_tokens=True) == text  # think tags are not special
    assert "<think>" in tokenizer.convert_ids_to_tokens(ids)
    assert tokenizer.eos_token == "<|im_end|>" and tokenizer.pad_token == "<|endoftext|>"
    chat = tokenizer("<|im_start|>user\nhi<|im_end|>", add_special_tokens=False).input_ids
    assert tokenizer.decode(chat, skip_special_tokens=True) == "user\nhi"
    # Words of the critic prompts are single tokens, which keeps CPU sequences short.
    assert len(tokenizer(" response", add_special_tokens=False).input_ids) == 1


@pytest.mark.parametrize("arch", ARCHS)
def test_chat_template_masks_assistant_turn_including_end_of_turn(tiny_dirs, arch):
    from trl.chat_template_utils import has_generation_markers

    processor = AutoProcessor.from_pretrained(tiny_dirs[arch])
    tokenizer = processor.tokenizer
    assert has_generation_markers(processor.chat_template)
    messages = [
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Which is better?"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "<think>ok</think>\\boxed{1}"}]},
    ]
    out = tokenizer.apply_chat_template(
        messages, chat_template=processor.chat_template, return_assistant_tokens_mask=True, return_dict=True
    )
    masked = [tok for tok, m in zip(out["input_ids"], out["assistant_masks"]) if m]
    assert tokenizer.decode(masked) == "<think>ok</think>\\boxed{1}<|im_end|>"
    rendered = processor.apply_chat_template(messages, tokenize=False)
    image_part = "<|vision_start|><|image_pad|><|vision_end|>" if arch == "qwen2_5_vl" else "<image>\n"
    assert f"<|im_start|>user\n{image_part}Which is better?<|im_end|>\n" in rendered


def test_build_is_deterministic_per_seed():
    first, _ = build_tiny_model("qwen2_5_vl", seed=3)
    second, _ = build_tiny_model("qwen2_5_vl", seed=3)
    other, _ = build_tiny_model("qwen2_5_vl", seed=4)
    for (name, a), b in zip(first.state_dict().items(), second.state_dict().values()):
        assert torch.equal(a, b), name
    assert any(not torch.equal(a, c) for a, c in zip(first.parameters(), other.parameters()))


@pytest.mark.parametrize("size", ["tiny", "small", "demo"])
def test_sizes_have_the_advertised_parameter_counts(size):
    model, _ = build_tiny_model("qwen2_5_vl", size)
    params = sum(p.numel() for p in model.parameters())
    assert (2e5 < params < 1e6) if size in ("tiny", "demo") else (2e6 < params < 8e6), params


def test_the_demo_size_is_tiny_with_a_key_value_head_per_attention_head():
    tiny, _ = build_tiny_model("qwen2_5_vl", "tiny")
    demo, _ = build_tiny_model("qwen2_5_vl", "demo")
    text = demo.config.text_config
    assert (text.num_attention_heads, text.num_key_value_heads) == (4, 4)
    assert text.hidden_size == tiny.config.text_config.hidden_size
    assert sum(text.rope_parameters["mrope_section"]) == text.hidden_size // text.num_attention_heads // 2


def test_cache_builds_once_and_rebuilds_outdated(tiny_cache):
    folder = ensure_tiny_model("qwen2_5_vl", "tiny")
    stamp = (folder / "model.safetensors").stat().st_mtime_ns
    assert ensure_tiny_model("qwen2_5_vl", "tiny") == folder
    assert (folder / "model.safetensors").stat().st_mtime_ns == stamp  # reused, not rebuilt
    marker = json.loads((folder / MARKER).read_text())
    (folder / MARKER).write_text(json.dumps({**marker, "format": -1}))
    assert ensure_tiny_model("qwen2_5_vl", "tiny") == folder
    assert json.loads((folder / MARKER).read_text())["format"] == marker["format"]
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".tiny-")], "no staging folder left"


def test_tiny_names():
    assert parse_tiny_name("tiny") == ("qwen2_5_vl", "tiny")
    assert parse_tiny_name("tiny-llava_onevision") == ("llava_onevision", "tiny")
    assert parse_tiny_name("tiny-qwen2_5_vl-small") == ("qwen2_5_vl", "small")
    assert parse_tiny_name("tiny-gpt2") is None
    assert parse_tiny_name("Qwen/Qwen2.5-VL-7B-Instruct") is None
    assert all(parse_tiny_name(name) or parse_like(name) for name in tiny_model_names())
    assert parse_like("tiny-like-qwen2.5-vl-7b-instruct") == parse_like("Qwen/Qwen2.5-VL-7B-Instruct")
    assert parse_like("tiny-like-gpt2") is None
