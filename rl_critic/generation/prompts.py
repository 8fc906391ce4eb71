"""The checks every prompt passes before an engine generates for it: too long for the context (in characters,
never tokenized, then in tokens), and its encoding with the pictures and videos that go with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rl_critic.models.chat_template import conversation_characters, render_chat
from rl_critic.models.media import Media, video_metadata


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


def screen_prompts(processor, conversations, media: list[Media], positions: int | None, max_new_tokens: int, device):
    """(too long: index -> `TooLong`, the indices that fit, their encoded batch or None): prompts over the
    context less `max_new_tokens`, by length in characters first (`over_length`, never tokenized), then in
    tokens (`over_context`); the rest encoded once more without them when any was cut."""
    too_long = over_length(conversations, positions, max_new_tokens)
    kept = [i for i in range(len(conversations)) if i not in too_long]
    inputs = None
    if kept:
        inputs = encode_prompts(processor, [conversations[i] for i in kept], [media[i] for i in kept], device)
        over = over_context(inputs, positions, max_new_tokens)
        too_long |= {kept[j]: result for j, result in over.items()}
        if over:
            kept = [i for i in kept if i not in too_long]
            inputs = (
                encode_prompts(processor, [conversations[i] for i in kept], [media[i] for i in kept], device)
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


def encode_prompts(processor, conversations: list[list[dict]], media: list[Media], device):
    """The processor's batch for `conversations`: each one's pictures in order (a list per conversation), and the
    videos of all of them in order, as frames already sampled at their `fps` (the processor samples none)."""
    texts = [render_chat(processor, conversation) for conversation in conversations]
    kwargs = {}
    if any(shown.images for shown in media):
        kwargs["images"] = [shown.images for shown in media]
    videos = [video for shown in media for video in shown.videos]
    if videos:
        kwargs["videos"] = [video.frames for video in videos]
        kwargs |= video_metadata(videos)
    return processor(text=texts, padding=True, return_tensors="pt", **kwargs).to(device)


def over_context(inputs, positions: int | None, max_new_tokens: int) -> dict[int, TooLong]:
    """Rows of an encoded batch whose prompt leaves no room for `max_new_tokens` in the context."""
    if not positions:
        return {}
    lengths = inputs["attention_mask"].sum(dim=1).tolist()
    return {i: TooLong(n, positions, max_new_tokens) for i, n in enumerate(lengths) if n + max_new_tokens > positions}
