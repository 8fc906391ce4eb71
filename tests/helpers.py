"""Small helpers tests import by dotted path (as recipes would)."""

from __future__ import annotations

from rewards.text import completion_text


def length_reward(completions, **kwargs) -> list[float]:
    """A reward that varies between completions of a random model, so GRPO advantages are non-zero
    (a random tiny model earns 0 on every critic reward, and equal rewards give zero advantages)."""
    return [len(completion_text(c)) % 5 / 4 for c in completions]


class LengthJudge:
    """A rule-based judge (the `critic_judge` hook): the longer response is better. Content-dependent, so
    critic-DPO gets real preferences from a tiny random policy, whose own critic would never box a verdict."""

    def compare(self, requests):
        from rl_critic.critique.judgments import PairJudgment

        verdicts = [
            "1" if len(r.first) > len(r.second) else "2" if len(r.second) > len(r.first) else "tie" for r in requests
        ]
        return [PairJudgment(raw=f"\\boxed{{{v}}}", verdict=v, tokens=0) for v in verdicts]


class TooLongFor:
    """`judge`, except that every judgment of `question` comes back as `TooLong` (a prompt over the critic's
    context, as a `Judge` with `skip_too_long` returns it)."""

    def __init__(self, judge, question: str) -> None:
        self.judge, self.question = judge, question

    def _cut(self, requests, judged):
        from rl_critic.critique.generation import TooLong

        return [TooLong(5000, 4096, 512) if r.question == self.question else j for r, j in zip(requests, judged)]

    def compare(self, requests):
        return self._cut(requests, self.judge.compare(requests))

    def score(self, requests):
        return self._cut(requests, self.judge.score(requests))


def run_script(module, argv: list[str]) -> int:
    """A TRL-style training script as `python -m` runs it: `main(*parsed args)` of `make_parser()`'s parse."""
    from rl_critic.script.parsing import parse_args

    return module.main(*parse_args(module.make_parser(), argv))
