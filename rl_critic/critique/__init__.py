"""Using a critic (generation itself is `rl_critic.generation`): the judge (`judge`, `judgments`), LLaVA-Critic's
r_i aggregation (`aggregation`), the judging schedules (`schedules`) behind both best-of-N (`strategies`) and
the critic as a GRPO reward (`reward`), question input (`questions`, `problem`), and the one sample -> judge
layer every user of a critic calls (`pipeline`). `read_verdict` / `read_score` (`verdicts`) read any critic's
judgment."""

from rl_critic.critique.verdicts import read_score, read_verdict

__all__ = ["read_score", "read_verdict"]
