"""A real byte-level BPE tokenizer, trained in-process, in the Qwen2 style.

Why not ship a tokenizer file: the project must build its models with no network and without
vendoring third-party vocabularies. `tokenizers` trains a BPE on the built-in corpus in well under a
second; the result is loaded into transformers' own `Qwen2Tokenizer` class so it saves, reloads and
behaves (pre-tokenisation regex, byte-level decoding) exactly like the real Qwen tokenizer.

`<think>` and `</think>` are added as *ordinary* tokens: TRL decodes completions with
`skip_special_tokens=True`, so special think tokens would vanish before the reward functions saw them.
"""

from __future__ import annotations

import json

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import Qwen2Tokenizer

from rl_critic.models.tiny.corpus import corpus_lines

# The Qwen2 pre-tokenisation split (the same regex transformers' Qwen2Tokenizer uses), so the merges we
# learn are the merges that tokenizer will apply.
_QWEN2_SPLIT = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|"""
    r"""\s*[\r\n]+|\s+(?!\S)|\s+"""
)

ENDOFTEXT = "<|endoftext|>"
IM_START = "<|im_start|>"
IM_END = "<|im_end|>"
THINK_TOKENS = ["<think>", "</think>"]

# Special tokens per model family, in the order the real tokenizers list them.
FAMILY_SPECIAL_TOKENS = {
    "qwen2_5_vl": [
        ENDOFTEXT,
        IM_START,
        IM_END,
        "<|vision_start|>",
        "<|vision_end|>",
        "<|image_pad|>",
        "<|video_pad|>",
    ],
    "llava_onevision": [ENDOFTEXT, IM_START, IM_END, "<image>", "<video>"],
}


def train_bpe(vocab_size: int) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """Train a byte-level BPE on the built-in corpus; returns (vocab, merges) without special tokens."""
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(_QWEN2_SPLIT), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(corpus_lines(), trainer=trainer)
    vocab = bpe.get_vocab()
    # `tokenizers` exposes the learned merges only through the serialised model.
    merges = [tuple(pair) for pair in json.loads(bpe.to_str())["model"]["merges"]]
    return vocab, merges


def build_tokenizer(family: str, vocab_size: int = 1024) -> Qwen2Tokenizer:
    """Build the tiny tokenizer for one model family (`qwen2_5_vl` or `llava_onevision`)."""
    if family not in FAMILY_SPECIAL_TOKENS:
        raise ValueError(f"unknown model family {family!r}; expected one of {sorted(FAMILY_SPECIAL_TOKENS)}")
    vocab, merges = train_bpe(vocab_size)
    tokenizer = Qwen2Tokenizer(
        vocab=vocab,
        merges=merges,
        unk_token=None,
        eos_token=IM_END,
        pad_token=ENDOFTEXT,
        model_max_length=32768,
        # Left padding: batched generation and GRPO need it (right padding silently corrupts M-RoPE
        # positions); SFT/DPO collators set their own padding regardless.
        padding_side="left",
        clean_up_tokenization_spaces=False,
    )
    specials = [tok for tok in FAMILY_SPECIAL_TOKENS[family] if tok not in (IM_END, ENDOFTEXT)]
    tokenizer.add_tokens([AddedToken(tok, special=True, normalized=False) for tok in specials], special_tokens=True)
    tokenizer.add_tokens([AddedToken(tok, special=False, normalized=False) for tok in THINK_TOKENS])
    return tokenizer
