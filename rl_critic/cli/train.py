"""`rl-critic train {sft,dpo,grpo,critic-dpo}`: train from a flat TRL recipe (`--config FILE`, `--field value`)."""

from __future__ import annotations

from rl_critic.cli.dispatch import dispatch

METHODS = {
    "sft": ("rl_critic.train.sft", "LLaVA-Critic: supervised fine-tuning on judge prompts and rationales"),
    "dpo": ("rl_critic.train.dpo", "DPO on preference pairs (`convert --task dpo`, RLAIF-V / VLFeedback style)"),
    "grpo": ("rl_critic.train.grpo", "LLaVA-Critic-R1: GRPO on verifiable preference targets"),
    "critic-dpo": ("rl_critic.train.critic_dpo", "LLaVA-Critic 4.3: iterative DPO, a critic judging the samples"),
}


def main(argv: list[str]) -> int:
    return dispatch(
        "rl-critic train",
        METHODS,
        argv,
        "method",
        "Multi-process: accelerate launch --config_file recipes/accelerate/<cfg>.yaml -m rl_critic.train.<method> "
        "--config RECIPE.yaml\n",
    )
