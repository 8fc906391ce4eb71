"""`rl-critic critic-dpo`: iterative DPO with critic rewards, the same command as `rl-critic train critic-dpo`."""

from __future__ import annotations


def main(argv: list[str]) -> int:
    from rl_critic.train.critic_dpo import main as critic_dpo_main

    return critic_dpo_main(argv)
