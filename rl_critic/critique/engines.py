"""Where generation runs: in-process `generate` (`hf`), vLLM's offline `LLM` (`vllm`), or any
OpenAI-compatible server (`openai`).

Sampling a policy and judging with a critic are both "conversations with images in, texts out", so every
command and the `critic_judge` reward talk to an `Engine`: one method, `generate_counted`, with the
semantics of `rl_critic.critique.generation.generate_counted` (per conversation, `num_return_sequences`
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
from dataclasses import dataclass
from typing import Protocol

from PIL import Image

from data_converters.errors import UserError
from rl_critic.critique.generation import SamplingSettings, TooLong, generate_counted

ENGINES = ("hf", "vllm", "openai")
# How a server is reached, not what it computes: a run resumed against the same model on another port, with
# another key or concurrency, is the same run (left out of `journal.run_settings` fingerprints).
TRANSPORT_FIELDS = tuple(
    prefix + name
    for prefix in ("", "critic_")
    for name in ("base_url", "api_key_env", "max_concurrency", "request_timeout", "max_retries")
)


class Engine(Protocol):
    """Anything that generates for batches of (conversation, images)."""

    def generate_counted(
        self,
        conversations: Sequence[list[dict]],
        images: Sequence[Sequence[Image.Image]] | None = None,
        settings: SamplingSettings | None = None,
        batch_size: int = 8,
        progress: str | None = None,
        skip_too_long: bool = False,
    ) -> list[list[tuple[str, int]] | TooLong]: ...


@dataclass
class HFEngine:
    """Batched `model.generate` in this process (the default engine)."""

    model: object
    processor: object

    def generate_counted(
        self, conversations, images=None, settings=None, batch_size=8, progress=None, skip_too_long=False
    ):
        return generate_counted(
            self.model, self.processor, conversations, images, settings, batch_size, progress, skip_too_long
        )


@dataclass
class EngineSettings:
    """How to reach a model, whichever engine runs it: the fields `--engine`, `--base_url`, ... of the
    sampled model and `--critic_engine`, `--critic_base_url`, ... of the judge read into one value."""

    engine: str = "hf"
    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    max_concurrency: int = 8
    request_timeout: float = 300.0
    max_retries: int = 3
    flags: str = ""  # how the user named these fields: "" (`--base_url`) or "critic_" (`--critic_base_url`)

    def __post_init__(self) -> None:
        f = self.flags
        if self.engine not in ENGINES:
            raise UserError(f"{f}engine must be one of {', '.join(ENGINES)}, not {self.engine!r}")
        if self.engine == "openai" and not self.base_url:
            raise UserError(f"engine openai needs a base URL (e.g. --{f}base_url http://127.0.0.1:8000/v1)")
        if self.engine != "openai" and self.base_url:
            raise UserError(
                f"a base URL is for engine openai ({f}engine is {self.engine!r}): pass --{f}engine openai too"
            )
        if self.max_concurrency < 1 or self.max_retries < 0 or self.request_timeout <= 0:
            raise UserError(f"{f}max_concurrency must be >= 1, {f}max_retries >= 0 and {f}request_timeout > 0")


def policy_engine_settings(model_args) -> EngineSettings:
    """The sampled model's `EngineSettings`, from `InferenceModelArguments` (`hf` for model fields without
    engine fields: training commands sample in-process, from the model they train)."""
    return EngineSettings(
        engine=getattr(model_args, "engine", "hf"),
        base_url=getattr(model_args, "base_url", None),
        api_key_env=getattr(model_args, "api_key_env", "OPENAI_API_KEY"),
        max_concurrency=getattr(model_args, "max_concurrency", 8),
        request_timeout=getattr(model_args, "request_timeout", 300.0),
        max_retries=getattr(model_args, "max_retries", 3),
    )


def critic_engine_settings(critic_args, policy: EngineSettings | None = None) -> EngineSettings:
    """The judge's `EngineSettings`, from `CriticArguments`; an unset `critic_engine` / `critic_base_url` is
    the policy's (a self-critic runs where the policy runs), else `hf`."""
    policy = policy or EngineSettings()
    engine = critic_args.critic_engine or policy.engine
    base_url = critic_args.critic_base_url or (policy.base_url if engine == policy.engine else None)
    return EngineSettings(
        engine=engine,
        base_url=base_url,
        api_key_env=critic_args.critic_api_key_env,
        max_concurrency=critic_args.critic_max_concurrency,
        request_timeout=critic_args.critic_request_timeout,
        max_retries=critic_args.critic_max_retries,
        flags="critic_",
    )


def load_engine(settings: EngineSettings, model_args, trust_remote_code: bool | None = None) -> Engine:
    """The engine that runs `model_args.model_name_or_path` as `settings` say (loading it for `hf` and
    `vllm`; for `openai`, only a client: the name is the served model's)."""
    if settings.engine == "openai":
        from rl_critic.critique.served import OpenAIEngine

        return OpenAIEngine.connect(settings, model_args.model_name_or_path)
    if settings.engine == "vllm":
        from rl_critic.critique.vllm_engine import VLLMEngine

        return VLLMEngine.load(model_args, trust_remote_code=trust_remote_code)
    from rl_critic.models.loader import load_model_and_processor

    return HFEngine(*load_model_and_processor(model_args, trust_remote_code=trust_remote_code))
