"""Where generation runs: in-process `generate` (`hf`), vLLM's offline `LLM` (`vllm`), or any
OpenAI-compatible server (`openai`).

Sampling a policy and judging with a critic are both "conversations with images in, texts out", so every
command and the `critic_judge` reward talk to an `Engine`: one method, `generate_counted`, with the
semantics of `rl_critic.generation.hf.generate_counted` (per conversation, `num_return_sequences`
(text, tokens generated) pairs, or a `TooLong` in place of a prompt the model cannot take when
`skip_too_long`). The engines differ only in where the tokens come from; prompts, images (already
bounded to the pixel budget when loaded) and the way verdicts are read stay the same, so with greedy
decoding the three give the same records.

`--engine` / `--base_url` choose it for the model a command samples from, `--critic_engine` /
`--critic_base_url` for the judge. With `openai` the model name is the server's name for it and nothing is
loaded locally. The vLLM and served engines live in their own modules (`vllm_engine`, `served`), imported
only when chosen, so `hf` never needs either package.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from PIL import Image

from rl_critic.generation.hf import HFEngine
from rl_critic.generation.prompts import TooLong
from rl_critic.generation.settings import EngineSettings, SamplingSettings
from rl_critic.models.media import Media


class Engine(Protocol):
    """Anything that generates for batches of (conversation, media): `media[i]` is what conversation i shows."""

    def generate_counted(
        self,
        conversations: Sequence[list[dict]],
        media: Sequence[Media | Sequence[Image.Image]] | None = None,
        settings: SamplingSettings | None = None,
        batch_size: int = 8,
        progress: str | None = None,
        skip_too_long: bool = False,
    ) -> list[list[tuple[str, int]] | TooLong]: ...


def load_engine(settings: EngineSettings, model_args, trust_remote_code: bool | None = None) -> Engine:
    """The engine that runs `model_args.model_name_or_path` as `settings` say (loading it for `hf` and
    `vllm`; for `openai`, only a client: the name is the served model's)."""
    if settings.engine == "openai":
        from rl_critic.generation.served import OpenAIEngine

        return OpenAIEngine.connect(settings, model_args.model_name_or_path)
    if settings.engine == "vllm":
        from rl_critic.generation.vllm_engine import VLLMEngine

        return VLLMEngine.load(model_args, trust_remote_code=trust_remote_code)
    from rl_critic.models.loader import load_model_and_processor

    return HFEngine(*load_model_and_processor(model_args, trust_remote_code=trust_remote_code))
