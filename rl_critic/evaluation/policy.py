"""Policy evaluation: answer accuracy of a policy's picks against reference answers, next to the baselines.

The picks come from the shared sample -> judge layer (`rl_critic.critique.pipeline.BestOfN`); with one
candidate per question this is plain accuracy, with N it is LLaVA-Critic-R1's test-time comparison.
"""

from __future__ import annotations

from typing import Any

from rl_critic.critique.strategies import selection_accuracies


def policy_report(records: list[dict[str, Any]], strategy: str, n: int) -> dict[str, Any]:
    """Accuracy of the pick (and of `first`, `majority`, the oracle) over the records that have an answer;
    unusable questions are listed under `errors`."""
    done = [r for r in records if "errors" not in r]
    errors = [{"id": r["id"], "error": "; ".join(r["errors"])} for r in records if "errors" in r]
    return {
        "questions": len(done),
        "n": n,
        "strategy": strategy,
        **selection_accuracies(done, strategy),
        "errors": errors,
    }
