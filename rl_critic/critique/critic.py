"""The critic: which model (or judge class) judges, and how it decodes.

One set of fields for every place a critic judges: `best-of-n`, `eval policy`, `train critic-dpo` and the
`critic_judge` GRPO reward (which adds how a group is scheduled, `CriticRewardArguments`). Every field starts
with `critic_`, so it never collides with the fields of the model being sampled (`max_new_tokens`,
`temperature`, `batch_size` are the policy's). The critic loads with the same model options as the policy
(dtype, attention, quantisation); only the name, and `critic_dtype` where given, differ.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from data_converters.prompts import PAIRWISE_INSTRUCTION
from rl_critic.critique.judge import Judge
from rl_critic.generation.engines import Engine, load_engine
from rl_critic.generation.settings import ENGINES, SamplingSettings, critic_engine_settings, policy_engine_settings
from rl_critic.ground.errors import UserError
from rl_critic.script.parsing import renamed

POLICY = "policy"  # critic_model value in GRPO: judge with the policy being trained


@dataclass
class CriticArguments:
    """Which critic judges and how it decodes (see the module docstring)."""

    _argument_group_name = "critic (the judge)"

    critic_model: str | None = field(
        default=None,
        metadata={
            "help": "The critic: `tiny`, a checkpoint folder or a hub id, loaded with the same model options as "
            "the policy. Default: the policy itself (self-critique; in GRPO, a frozen copy of its starting "
            "checkpoint, and `policy` judges with the policy being trained).",
            "aliases": ["--critic"],
        },
    )
    critic_class: str | None = field(
        default=None,
        metadata={
            "help": "Instead of a critic model: dotted path to a judge class with a `compare(requests)` method "
            "(a rule-based or API judge).",
            "aliases": renamed("critic_judge"),
        },
    )
    critic_max_new_tokens: int = field(
        default=512, metadata={"help": "Tokens per judgment.", "aliases": renamed("judge_max_new_tokens")}
    )
    critic_temperature: float = field(
        default=0.0,
        metadata={"help": "0 = greedy judging, else sampled.", "aliases": renamed("judge_temperature")},
    )
    critic_instruction: str | None = field(
        default=None,
        metadata={
            "help": "Pairwise judge instruction (default: LLaVA-Critic's); use the one the critic was trained "
            "with, e.g. make-synthetic --layout short's.",
            "aliases": renamed("judge_instruction"),
        },
    )
    critic_batch_size: int | None = field(
        default=None,
        metadata={"help": "Judgments per generate call (default: the command's batch_size; GRPO reward: 16)."},
    )
    critic_unreadable_ok: bool = field(
        default=False,
        metadata={
            "help": "Go on when the critic's first batch of judgments holds no readable verdict (by default the "
            "run stops there with the likely cause: answers cut at critic_max_new_tokens, an untrained critic, "
            "another instruction than the one it was trained with)."
        },
    )
    critic_dtype: str | None = field(
        default=None,
        metadata={"help": "The critic's dtype (default: the policy's `dtype`; GRPO reward on a GPU: bfloat16)."},
    )
    critic_engine: str | None = field(
        default=None,
        metadata={
            "help": "Where the critic runs: `hf` (in-process generate), `vllm` (vLLM in-process) or `openai` (an "
            "OpenAI-compatible server at --critic_base_url; --critic_model is its served name). Default: where "
            "the policy runs (`hf` in training).",
            "choices": list(ENGINES),
        },
    )
    critic_base_url: str | None = field(
        default=None,
        metadata={"help": "The critic server's API root, e.g. http://127.0.0.1:8000/v1 (engine openai)."},
    )
    critic_api_key_env: str = field(
        default="OPENAI_API_KEY",
        metadata={"help": "Environment variable holding the critic server's API key (never logged)."},
    )
    critic_max_concurrency: int = field(default=8, metadata={"help": "Requests in flight to the critic server."})
    critic_request_timeout: float = field(default=300.0, metadata={"help": "Seconds per critic request."})
    critic_max_retries: int = field(
        default=3,
        metadata={"help": "Retries (exponential backoff) of a critic request on connection errors, 429 and 5xx."},
    )

    def sampling(self) -> SamplingSettings:
        """How the critic decodes a judgment."""
        return SamplingSettings(
            max_new_tokens=self.critic_max_new_tokens,
            do_sample=self.critic_temperature > 0,
            temperature=self.critic_temperature or 1.0,
        )


def build_judge(
    args: CriticArguments,
    model_args,
    batch_size: int,
    policy: Engine | None = None,
    trust_remote_code: bool | None = None,
):
    """The judge `args` describe. The critic runs on the engine of `critic_engine_settings` (loaded with
    `model_args`, its name and `critic_dtype` changed); when it is the policy itself, on the policy's engine,
    and the `policy` engine is given, that engine judges (self-critique, one model loaded).
    `batch_size` is used unless `critic_batch_size` is set."""
    if args.critic_class:
        from rewards import import_object

        try:
            return import_object(args.critic_class)()
        except (ImportError, AttributeError, ValueError, TypeError) as err:
            raise UserError(f"cannot import critic_class {args.critic_class!r}: {err}") from err
    policy_settings = policy_engine_settings(model_args)
    settings = critic_engine_settings(args, policy_settings)
    name = args.critic_model or model_args.model_name_or_path
    if policy is not None and name == model_args.model_name_or_path and settings == policy_settings:
        engine = policy
    else:
        critic_model_args = replace(model_args, model_name_or_path=name, dtype=args.critic_dtype or model_args.dtype)
        engine = load_engine(settings, critic_model_args, trust_remote_code=trust_remote_code)
    instruction = args.critic_instruction or PAIRWISE_INSTRUCTION
    judge = Judge(engine, args.sampling(), args.critic_batch_size or batch_size, instruction=instruction)
    judge.unreadable_ok = args.critic_unreadable_ok
    return judge


def unreadable_line(judge, what: str = "critic verdicts") -> str | None:
    """The one line a run ends with when most of `judge`'s verdicts could not be read (a `Judge`; a judge class
    of the user's own keeps no count)."""
    readability = getattr(judge, "readability", None)
    return readability.summary_line(what) if readability is not None else None
