"""Batched generation for vision-language chats, through the model's own processor and chat template.

Self-critique, critic-DPO sampling and evaluation all need "many (images, messages) in, texts out".
Doing it in batches with left padding (not one `generate` call per prompt) is what makes them
affordable; decoding skips special tokens exactly as TRL does, so `<think>` tags (ordinary tokens)
survive and reward functions see the same text at train and test time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image

from data_converters.errors import UserError
from rl_critic.models.chat_template import conversation_characters, render_chat


@dataclass
class TooLong:
    """A prompt that does not fit the model's context with room for `max_new_tokens` (not generated: a
    10 MB response would otherwise ask for terabytes of attention mask)."""

    tokens: int
    positions: int
    max_new_tokens: int
    reason: str | None = None  # a served model's own words, when it refused the prompt (sizes then unknown)
    characters: int | None = None  # refused by its length in characters, before tokenizing (`over_length`)

    def __str__(self) -> str:
        if self.reason:
            return f"prompt refused by the server: {self.reason}"
        if self.characters is not None:
            return (
                f"prompt too long: {self.characters:,} characters, more than the model's {self.positions:,} "
                "positions can hold in any tokenization (not tokenized)"
            )
        return (
            f"prompt too long: {self.tokens:,} tokens, over the limit of {self.positions - self.max_new_tokens:,}"
            f" (the model's {self.positions:,} positions - max_new_tokens {self.max_new_tokens})"
        )


# No tokenizer packs more characters than this into one token of real text (about 4 in prose; long runs of
# spaces or `=` in code reach a few dozen on large vocabularies). A prompt longer than the context's positions
# times this cannot fit, and is refused before the tokenizer sees it: one 200 MB question took 9 GB to tokenize.
MAX_CHARACTERS_PER_TOKEN = 100


def model_positions(model) -> int | None:
    """The context length of the model's language part (`max_position_embeddings`), None if unknown."""
    config = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    return getattr(config, "max_position_embeddings", None)


@dataclass
class SamplingSettings:
    """What `generate` varies; the defaults are greedy decoding."""

    max_new_tokens: int = 256
    do_sample: bool = False
    temperature: float = 1.0
    top_p: float = 1.0
    num_return_sequences: int = 1

    def __post_init__(self) -> None:
        if self.do_sample and self.temperature <= 0:
            raise UserError(f"sampling needs a temperature above 0 (got {self.temperature})")
        if self.num_return_sequences > 1 and not self.do_sample:
            raise UserError(
                f"{self.num_return_sequences} completions need sampling (greedy decoding gives the same one "
                "every time): turn sampling on (--do_sample true)"
            )


def generate(
    model,
    processor,
    conversations: Sequence[list[dict]],
    images: Sequence[Sequence[Image.Image]] | None = None,
    settings: SamplingSettings | None = None,
    batch_size: int = 8,
) -> list[list[str]]:
    """Generate for each conversation; returns `num_return_sequences` texts per conversation.

    `images[i]` are the images of conversation i, in the order of its image parts.
    """
    counted = generate_counted(model, processor, conversations, images, settings, batch_size)
    return [[text for text, _ in outputs] for outputs in counted]


def generate_counted(
    model,
    processor,
    conversations: Sequence[list[dict]],
    images: Sequence[Sequence[Image.Image]] | None = None,
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
    images = image_lists(conversations, images)
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
        batch = conversations[start : start + batch_size]
        batch_images = images[start : start + batch_size]
        too_long, kept, inputs = screen_prompts(
            processor, batch, batch_images, positions, settings.max_new_tokens, model.device
        )
        if too_long and not skip_too_long:
            raise UserError(str(next(iter(too_long.values()))))
        results = dict(zip(kept, _generate_batch(model, tokenizer, inputs, settings))) if kept else {}
        outputs.extend(too_long[i] if i in too_long else results[i] for i in range(len(batch)))
    return outputs


def screen_prompts(processor, conversations, images, positions: int | None, max_new_tokens: int, device):
    """(too long: index -> `TooLong`, the indices that fit, their encoded batch or None): prompts over the
    context less `max_new_tokens`, by length in characters first (`over_length`, never tokenized), then in
    tokens (`over_context`); the rest encoded once more without them when any was cut."""
    too_long = over_length(conversations, positions, max_new_tokens)
    kept = [i for i in range(len(conversations)) if i not in too_long]
    inputs = None
    if kept:
        inputs = encode_prompts(processor, [conversations[i] for i in kept], [images[i] for i in kept], device)
        over = over_context(inputs, positions, max_new_tokens)
        too_long |= {kept[j]: result for j, result in over.items()}
        if over:
            kept = [i for i in kept if i not in too_long]
            inputs = (
                encode_prompts(processor, [conversations[i] for i in kept], [images[i] for i in kept], device)
                if kept
                else None
            )
    return too_long, kept, inputs


def over_length(conversations: Sequence[list[dict]], positions: int | None, max_new_tokens: int) -> dict[int, TooLong]:
    """Conversations whose text is too long for the context whatever the tokenizer (`MAX_CHARACTERS_PER_TOKEN`)."""
    if not positions:
        return {}
    limit = positions * MAX_CHARACTERS_PER_TOKEN
    too_long = {}
    for index, conversation in enumerate(conversations):
        characters = conversation_characters(conversation)
        if characters > limit:
            too_long[index] = TooLong(0, positions, max_new_tokens, characters=characters)
    return too_long


def image_lists(
    conversations: Sequence[list[dict]], images: Sequence[Sequence[Image.Image]] | None
) -> list[list[Image.Image]]:
    """One list of images per conversation (none given: no images), as every engine takes them."""
    if images is None:
        return [[] for _ in conversations]
    if len(images) != len(conversations):
        raise ValueError(f"{len(conversations)} conversations but {len(images)} image lists")
    return [list(imgs) for imgs in images]


def encode_prompts(processor, conversations: list[list[dict]], images: list[list[Image.Image]], device):
    texts = [render_chat(processor, conversation) for conversation in conversations]
    kwargs = {"images": images} if any(images) else {}
    return processor(text=texts, padding=True, return_tensors="pt", **kwargs).to(device)


def over_context(inputs, positions: int | None, max_new_tokens: int) -> dict[int, TooLong]:
    """Rows of an encoded batch whose prompt leaves no room for `max_new_tokens` in the context."""
    if not positions:
        return {}
    lengths = inputs["attention_mask"].sum(dim=1).tolist()
    return {i: TooLong(n, positions, max_new_tokens) for i, n in enumerate(lengths) if n + max_new_tokens > positions}


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
