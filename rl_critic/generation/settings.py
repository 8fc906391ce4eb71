"""What to sample (`SamplingSettings`) and where it runs (`EngineSettings`: the `--engine` / `--critic_engine`
fields read into one value), shared by every engine.
"""

from __future__ import annotations

from dataclasses import dataclass

from rl_critic.ground.errors import UserError


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


ENGINES = ("hf", "vllm", "openai")

# How a server is reached, not what it computes: a run resumed against the same model on another port, with
# another key or concurrency, is the same run (left out of `journal.run_settings` fingerprints).
TRANSPORT_FIELDS = tuple(
    prefix + name
    for prefix in ("", "critic_")
    for name in ("base_url", "api_key_env", "max_concurrency", "request_timeout", "max_retries")
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
