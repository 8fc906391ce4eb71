"""Tiny models whose files are laid out like a hub checkpoint's: `rl-critic tiny-model --like <hub id>`.

The plain `tiny` models use the project's own chat template, token ids and processor settings. A user's
first command runs on `Qwen/Qwen2.5-VL-7B-Instruct` or `llava-hf/llava-onevision-qwen2-7b-ov-hf`, whose
files differ in exactly the places code breaks: special tokens at ids above 151,000 in a 152k vocabulary,
untied embeddings, a generation config with two end-of-sequence ids and sampling defaults, right padding,
a chat template without `{% generation %}` (Qwen) or with it around the text only (OneVision), pixel
bounds of 12.8 MP, 384 px SigLIP tiles with 729 tokens each and 36 anyres grids. These builders keep every
such value of the hub files and shrink only widths and depths, as TRL's CI does with its tiny models
generated from the real hub configs, but offline.

Where each value comes from (hub files cannot be downloaded here; public copies were read instead):
- Qwen2.5-VL-7B-Instruct `config.json`: the copy in modelscope/DiffSynth-Studio
  `diffsynth/models/qwen_image_text_encoder.py` (Qwen-Image's text encoder is this model) and a second
  public loader that embeds the same file: token ids 151643-151656, vocab 152064, untied
  embeddings, mrope_section [16, 24, 24] for head_dim 128, vision depth 32 with full attention in blocks
  7/15/23/31, window 112, patch 14, merge 2, temporal patch 2, tokens_per_second 2.
- its `preprocessor_config.json` (min_pixels 3136, max_pixels 12845056, CLIP mean/std): the copy in a
  public reward-model evaluation script's `check_preprocessor_config`.
- its `generation_config.json` (eos [151645, 151643], pad 151643, do_sample, top_k 1, top_p 0.001,
  temperature 0.1, repetition_penalty 1.05): a fine-tune's "carried unchanged" copy (Teklia DAI).
- its chat template: TRL's `trl/chat_templates/qwen2_5_vl.jinja`, read from the installed package (TRL
  keeps the hub originals byte for byte to recognise them).
- llava-onevision-qwen2-7b-ov-hf: transformers' `convert_llava_onevision_weights_to_hf.py` (the script
  that wrote the llava-hf checkpoints, huggingface/transformers@01080c6: chat template, SigLIP 384/14 with
  26 layers and no head, `full` features, 729 tokens per tile, `<image>`/`<video>` added after the Qwen2
  vocabulary and the embeddings padded to a multiple of 64 = 152128); the 36 `image_grid_pinpoints`, the
  preprocessor (0.5 mean/std, 384x384, resample 3, do_pad) and the generation config (bos 151643, eos
  151645) from a public conversion script that copies them from that checkpoint (LLaVAShield to HF).
"""

from __future__ import annotations

import importlib.resources

import torch

from rl_critic.models.chat_template import ONEVISION_CHAT_TEMPLATE
from rl_critic.models.tiny.tokenizer import train_bpe

QWEN_7B = "Qwen/Qwen2.5-VL-7B-Instruct"
ONEVISION_7B = "llava-hf/llava-onevision-qwen2-7b-ov-hf"
LIKE_PREFIX = "tiny-like-"
# Bump when these builders change, so cached copies are rebuilt.
HUB_LIKE_FORMAT = 1

QWEN2_VOCAB = 151643  # regular BPE entries of every Qwen2 / Qwen2.5 tokenizer; specials start here
QWEN2_5_VL_ADDED = [  # (token, special) in id order from 151643 (Qwen2.5-VL tokenizer.json)
    ("<|endoftext|>", True),
    ("<|im_start|>", True),
    ("<|im_end|>", True),
    ("<|object_ref_start|>", True),
    ("<|object_ref_end|>", True),
    ("<|box_start|>", True),
    ("<|box_end|>", True),
    ("<|quad_start|>", True),
    ("<|quad_end|>", True),
    ("<|vision_start|>", True),
    ("<|vision_end|>", True),
    ("<|vision_pad|>", True),
    ("<|image_pad|>", True),
    ("<|video_pad|>", True),
    ("<tool_call>", False),
    ("</tool_call>", False),
    ("<|fim_prefix|>", False),
    ("<|fim_middle|>", False),
    ("<|fim_suffix|>", False),
    ("<|fim_pad|>", False),
    ("<|repo_name|>", False),
    ("<|file_sep|>", False),
]
ONEVISION_ADDED = [
    ("<|endoftext|>", True),
    ("<|im_start|>", True),
    ("<|im_end|>", True),
    ("<image>", True),
    ("<video>", True),
]
ONEVISION_GRID = [[h, w] for h in range(384, 2305, 384) for w in range(384, 2305, 384)]
CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]
# The tiny widths: multiples of 64 (bitsandbytes' CPU kernels), head_dim 32 so M-RoPE sections scale by 1/4.
HIDDEN, INTERMEDIATE, LAYERS, HEADS, KV_HEADS = 64, 128, 2, 2, 1


def hub_like_ids() -> tuple[str, ...]:
    return (QWEN_7B, ONEVISION_7B)


def like_name(hub_id: str) -> str:
    """`Qwen/Qwen2.5-VL-7B-Instruct` -> `tiny-like-qwen2.5-vl-7b-instruct` (the `--model` name)."""
    return LIKE_PREFIX + hub_id.split("/")[-1].lower()


def parse_like(name: str) -> str | None:
    """The hub id a `--like` value or a `tiny-like-...` model name stands for; None if neither."""
    for hub_id in hub_like_ids():
        if name.lower() in (hub_id.lower(), like_name(hub_id)):
            return hub_id
    return None


def build_hub_tokenizer(added: list[tuple[str, bool]], vocab_size: int = 1024):
    """A Qwen2 tokenizer with the hub's special tokens at the hub's ids.

    The BPE learned on the built-in corpus fills the first ids; unreachable placeholder entries fill the
    rest of the 151,643 regular ids, so the added tokens land where Qwen puts them.
    """
    from tokenizers import AddedToken
    from transformers import Qwen2Tokenizer

    vocab, merges = train_bpe(vocab_size)
    for index in range(len(vocab), QWEN2_VOCAB):
        vocab[f"<|rl_critic_unused_{index}|>"] = index
    tokenizer = Qwen2Tokenizer(
        vocab=vocab,
        merges=merges,
        unk_token=None,
        bos_token=None,
        eos_token=None,
        pad_token=None,
        errors="replace",
        model_max_length=131072,
        padding_side="right",
        clean_up_tokenization_spaces=False,
    )
    for token, special in added:  # one at a time: ids follow the list order
        tokenizer.add_tokens([AddedToken(token, special=special, normalized=False)], special_tokens=special)
    tokenizer.eos_token, tokenizer.pad_token = "<|im_end|>", "<|endoftext|>"
    return tokenizer


def _qwen_template() -> str:
    return (importlib.resources.files("trl") / "chat_templates" / "qwen2_5_vl.jinja").read_text(encoding="utf-8")


def _build_qwen2_5_vl_7b():
    from transformers import (
        GenerationConfig,
        Qwen2_5_VLConfig,
        Qwen2_5_VLForConditionalGeneration,
        Qwen2_5_VLProcessor,
        Qwen2VLImageProcessor,
        Qwen2VLVideoProcessor,
    )

    tokenizer = build_hub_tokenizer(QWEN2_5_VL_ADDED)
    text = dict(
        vocab_size=152064,
        hidden_size=HIDDEN,
        intermediate_size=INTERMEDIATE,
        num_hidden_layers=LAYERS,
        num_attention_heads=HEADS,
        num_key_value_heads=KV_HEADS,
        max_position_embeddings=128000,
        max_window_layers=LAYERS,
        rms_norm_eps=1e-6,
        sliding_window=32768,
        use_sliding_window=False,
        hidden_act="silu",
        attention_dropout=0.0,
        bos_token_id=151643,
        eos_token_id=151645,
        rope_parameters={"rope_type": "default", "rope_theta": 1e6, "mrope_section": [4, 6, 6]},
    )
    vision = dict(
        depth=4,
        hidden_size=HIDDEN,
        intermediate_size=INTERMEDIATE,
        num_heads=HEADS,
        out_hidden_size=HIDDEN,
        fullatt_block_indexes=[1, 3],
        window_size=112,
        patch_size=14,
        spatial_merge_size=2,
        temporal_patch_size=2,
        tokens_per_second=2,
        in_channels=3,
        hidden_act="silu",
    )
    config = Qwen2_5_VLConfig(
        text_config=text,
        vision_config=vision,
        image_token_id=151655,
        video_token_id=151656,
        vision_start_token_id=151652,
        vision_end_token_id=151653,
        tie_word_embeddings=False,
    )
    model = Qwen2_5_VLForConditionalGeneration(config).to(torch.bfloat16)
    model.generation_config = GenerationConfig(
        bos_token_id=151643,
        pad_token_id=151643,
        eos_token_id=[151645, 151643],
        do_sample=True,
        repetition_penalty=1.05,
        temperature=0.1,
        top_p=0.001,
        top_k=1,
    )
    pixels = {"shortest_edge": 3136, "longest_edge": 12845056}
    image_processor = Qwen2VLImageProcessor(
        size=pixels, patch_size=14, temporal_patch_size=2, merge_size=2, image_mean=CLIP_MEAN, image_std=CLIP_STD
    )
    processor = Qwen2_5_VLProcessor(
        image_processor=image_processor,
        video_processor=Qwen2VLVideoProcessor(),
        tokenizer=tokenizer,
        chat_template=_qwen_template(),
    )
    return model, processor


def _build_llava_onevision_7b():
    from transformers import (
        GenerationConfig,
        LlavaOnevisionConfig,
        LlavaOnevisionForConditionalGeneration,
        LlavaOnevisionImageProcessor,
        LlavaOnevisionProcessor,
        LlavaOnevisionVideoProcessor,
    )

    tokenizer = build_hub_tokenizer(ONEVISION_ADDED)
    text = dict(
        model_type="qwen2",
        vocab_size=152128,
        hidden_size=HIDDEN,
        intermediate_size=INTERMEDIATE,
        num_hidden_layers=LAYERS,
        num_attention_heads=HEADS,
        num_key_value_heads=KV_HEADS,
        max_position_embeddings=32768,
        max_window_layers=LAYERS,
        rms_norm_eps=1e-6,
        sliding_window=131072,
        use_sliding_window=False,
        hidden_act="silu",
        rope_parameters={"rope_type": "default", "rope_theta": 1e6},
        bos_token_id=151643,
        eos_token_id=151645,
        tie_word_embeddings=False,
    )
    vision = dict(
        model_type="siglip_vision_model",
        hidden_size=HIDDEN,
        intermediate_size=INTERMEDIATE,
        num_hidden_layers=LAYERS,
        num_attention_heads=HEADS,
        image_size=384,
        patch_size=14,
        layer_norm_eps=1e-6,
        hidden_act="gelu_pytorch_tanh",
        vision_use_head=False,
    )
    config = LlavaOnevisionConfig(
        text_config=text,
        vision_config=vision,
        image_token_index=151646,
        video_token_index=151647,
        vision_feature_layer=-1,
        vision_feature_select_strategy="full",
        image_grid_pinpoints=ONEVISION_GRID,
        vision_aspect_ratio="anyres_max_9",
        projector_hidden_act="gelu",
        multimodal_projector_bias=True,
        image_seq_length=729,
        use_image_newline_parameter=True,
        tie_word_embeddings=False,
    )
    model = LlavaOnevisionForConditionalGeneration(config).to(torch.float16)
    model.generation_config = GenerationConfig(bos_token_id=151643, eos_token_id=151645)
    image_processor = LlavaOnevisionImageProcessor(
        size={"height": 384, "width": 384},
        image_grid_pinpoints=ONEVISION_GRID,
        image_mean=[0.5] * 3,
        image_std=[0.5] * 3,
        resample=3,
        do_pad=True,
        do_convert_rgb=True,
    )
    processor = LlavaOnevisionProcessor(
        image_processor=image_processor,
        video_processor=LlavaOnevisionVideoProcessor(),
        tokenizer=tokenizer,
        num_image_tokens=729,
        vision_feature_select_strategy="full",
        vision_aspect_ratio="anyres_max_9",
        chat_template=ONEVISION_CHAT_TEMPLATE,
    )
    return model, processor


def build_hub_like_model(hub_id: str, seed: int = 0):
    """(model, processor) laid out like `hub_id`'s checkpoint, randomly initialised, deterministic per seed."""
    resolved = parse_like(hub_id)
    if resolved is None:
        raise ValueError(f"no hub-like tiny model for {hub_id!r}; expected one of {', '.join(hub_like_ids())}")
    torch.manual_seed(seed)
    builder = _build_qwen2_5_vl_7b if resolved == QWEN_7B else _build_llava_onevision_7b
    model, processor = builder()
    return model.eval(), processor
