"""Batched generation for vision-language chats, through the model's own processor and chat template.

Self-critique, critic-DPO sampling and evaluation all need "many (media, messages) in, texts out".
Doing it in batches with left padding (not one `generate` call per prompt) is what makes them
affordable; decoding skips special tokens exactly as TRL does, so `<think>` tags (ordinary tokens)
survive and reward functions see the same text at train and test time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image

from rl_critic.generation.prompts import TooLong, model_positions, screen_prompts
from rl_critic.generation.settings import SamplingSettings
from rl_critic.ground.errors import UserError
from rl_critic.models.media import Media, media_lists


def generate(
    model,
    processor,
    conversations: Sequence[list[dict]],
    media: Sequence[Media | Sequence[Image.Image]] | None = None,
    settings: SamplingSettings | None = None,
    batch_size: int = 8,
) -> list[list[str]]:
    """Generate for each conversation; returns `num_return_sequences` texts per conversation.

    `media[i]` is what conversation i shows (its pictures and videos, in the order of its parts; a plain list of
    pictures will do).
    """
    counted = generate_counted(model, processor, conversations, media, settings, batch_size)
    return [[text for text, _ in outputs] for outputs in counted]


def generate_counted(
    model,
    processor,
    conversations: Sequence[list[dict]],
    media: Sequence[Media | Sequence[Image.Image]] | None = None,
    settings: SamplingSettings | None = None,
    batch_size: int = 8,
    progress: str | None = None,
    skip_too_long: bool = False,
) -> list[list[tuple[str, int]] | TooLong]:
    """`generate`, with the number of tokens each completion generated (up to and including its end token).

    `progress`: a description to show a progress bar over the batches (long evaluation runs).
    A prompt over the model's context (less `max_new_tokens`) is a `UserError`, or with `skip_too_long` a
    `TooLong` in its place while the others are generated."""
    settings = settings or SamplingSettings()
    media = media_lists(conversations, media)
    tokenizer = getattr(processor, "tokenizer", processor)
    if tokenizer.padding_side != "left":
        raise ValueError("batched generation needs a left-padding processor (load it with rl_critic.models.loader)")
    outputs: list[list[tuple[str, int]] | TooLong] = []
    starts = range(0, len(conversations), batch_size)
    if progress:
        from tqdm import tqdm

        starts = tqdm(starts, desc=progress, unit="batch")
    positions = model_positions(model)
    for start in starts:
        batch = range(start, min(start + batch_size, len(conversations)))
        done: dict[int, list[tuple[str, int]] | TooLong] = {}
        for rows in _same_video_shapes(batch, media):
            too_long, kept, inputs = screen_prompts(
                processor,
                [conversations[i] for i in rows],
                [media[i] for i in rows],
                positions,
                settings.max_new_tokens,
                model.device,
            )
            if too_long and not skip_too_long:
                raise UserError(str(next(iter(too_long.values()))))
            done |= {rows[i]: result for i, result in too_long.items()}
            if kept:
                done |= dict(zip((rows[i] for i in kept), _generate_batch(model, tokenizer, inputs, settings)))
        outputs.extend(done[i] for i in batch)
    return outputs


def _same_video_shapes(batch: range, media: list[Media]) -> list[list[int]]:
    """`batch` split where its videos differ in frame count or size: some processors (LLaVA-OneVision's) stack
    every video of a call into one tensor. Rows keep their order within each part; a batch without video, or
    with videos of one shape, stays whole (so image batches are encoded exactly as before)."""
    shapes = {i: tuple((len(v.frames), v.frames[0].size) for v in media[i].videos) for i in batch}
    if len({shape for shape in shapes.values() if shape}) <= 1:
        return [list(batch)]
    parts: dict[tuple, list[int]] = {}
    for i in batch:
        parts.setdefault(shapes[i], []).append(i)
    return list(parts.values())


def _generate_batch(model, tokenizer, inputs, settings: SamplingSettings) -> list[list[tuple[str, int]]]:
    """(text, tokens generated) for each `num_return_sequences` completion of every row of `inputs`."""
    import torch

    sample_kwargs = (
        {"do_sample": True, "temperature": settings.temperature, "top_p": settings.top_p}
        if settings.do_sample
        else {"do_sample": False, "temperature": None, "top_p": None, "top_k": None}
    )
    with torch.inference_mode():
        generated = model.generate(
            **inputs,
            max_new_tokens=settings.max_new_tokens,
            num_return_sequences=settings.num_return_sequences,
            pad_token_id=tokenizer.pad_token_id,
            **sample_kwargs,
        )
    completions = generated[:, inputs["input_ids"].shape[1] :]
    decoded = tokenizer.batch_decode(completions, skip_special_tokens=True)
    counts = _generated_lengths(completions, tokenizer.pad_token_id, model.generation_config.eos_token_id)
    n = settings.num_return_sequences
    return [list(zip(decoded[i * n : (i + 1) * n], counts[i * n : (i + 1) * n])) for i in range(len(decoded) // n)]


def _generated_lengths(completions, pad_token_id: int, eos_token_id) -> list[int]:
    """Tokens generated per row: up to and including the first end token, else the whole row."""
    eos_ids = set(eos_token_id if isinstance(eos_token_id, (list, tuple)) else [eos_token_id]) - {None}
    lengths = []
    for row in completions.tolist():
        length = len(row)
        for index, token in enumerate(row):
            if token in eos_ids or (token == pad_token_id and pad_token_id not in eos_ids):
                length = index + (token in eos_ids)
                break
        lengths.append(length)
    return lengths


@dataclass
class HFEngine:
    """Batched `model.generate` in this process (the default engine)."""

    model: object
    processor: object

    def generate_counted(
        self, conversations, media=None, settings=None, batch_size=8, progress=None, skip_too_long=False
    ):
        return generate_counted(
            self.model, self.processor, conversations, media, settings, batch_size, progress, skip_too_long
        )
