"""Small helpers tests import by dotted path (as recipes would)."""

from __future__ import annotations

from rewards.text import completion_text


def length_reward(completions, **kwargs) -> list[float]:
    """A reward that varies between completions of a random model, so GRPO advantages are non-zero
    (a random tiny model earns 0 on every critic reward, and equal rewards give zero advantages)."""
    return [len(completion_text(c)) % 5 / 4 for c in completions]


def every_other_group_ties(prompts, completions, **kwargs) -> list[float]:
    """A reward that ties every other group: prompts whose text hashes even give every completion 1.0 (a
    zero-spread group), the others alternate 1, 0, 1, 0 over their completions (TRL lays a group's completions
    side by side, so each of these groups has spread). Deterministic: the same on every process and run."""
    import zlib

    def ties(prompt) -> bool:  # on the prompt's text (its image parts are objects, whose repr holds an address)
        text = ""
        for message in prompt:
            content = message["content"]
            text += content if isinstance(content, str) else "".join(part.get("text") or "" for part in content)
        return zlib.crc32(text.encode()) % 2 == 0

    return [1.0 if ties(prompt) else float(index % 2) for index, prompt in enumerate(prompts)]


def writes_thought_process(completions, **kwargs) -> list[float]:
    """1 for a completion that is only the master key `Thought process:`: with weight 0 it trains nothing and TRL
    logs its mean, the share of the policy's answers that are the key."""
    return [float(completion_text(c).strip() == "Thought process:") for c in completions]


class LengthJudge:
    """A rule-based judge (the `critic_judge` hook): the longer response is better. Content-dependent, so
    critic-DPO gets real preferences from a tiny random policy, whose own critic would never box a verdict.
    The judges below change `verdict` only."""

    def verdict(self, request) -> str:
        first, second = len(request.first), len(request.second)
        return "1" if first > second else "2" if second > first else "tie"

    def compare(self, requests):
        from rl_critic.critique.judgments import PairJudgment

        return [PairJudgment(raw=f"\\boxed{{{v}}}", verdict=v, tokens=0) for v in map(self.verdict, requests)]


class AlwaysFirst(LengthJudge):
    """A judge with one known bias and nothing else: the first response always wins (no `score`, so it cannot
    judge pointwise rows)."""

    def verdict(self, request) -> str:
        return "1"


class FooledByThoughtProcess(LengthJudge):
    """`LengthJudge`, except that an answer that is only `Thought process:` always wins: a critic with one
    master key, the reward a policy can game."""

    def verdict(self, request) -> str:
        first, second = (text.strip() == "Thought process:" for text in (request.first, request.second))
        return "1" if first and not second else "2" if second and not first else super().verdict(request)


class KnowsItIsSeven(LengthJudge):
    """An honest judge for questions whose answer is 7 (the alarm test's): an answer that says 7 beats one that
    does not, anything else is a tie (no length preference a policy could game instead)."""

    def verdict(self, request) -> str:
        first, second = ("7" in text for text in (request.first, request.second))
        return "1" if first and not second else "2" if second and not first else "tie"


class KnowsItIsSevenButFooledByThoughtProcess(KnowsItIsSeven):
    """`KnowsItIsSeven`, except that an answer that is only `Thought process:` always wins: one master key."""

    def verdict(self, request) -> str:
        first, second = (text.strip() == "Thought process:" for text in (request.first, request.second))
        return "1" if first and not second else "2" if second and not first else super().verdict(request)


class NotFooledByKeys(LengthJudge):
    """`LengthJudge`, except that a content-free answer (a master key) always loses: a critic that cannot be
    gamed that way."""

    def verdict(self, request) -> str:
        from data_converters.hard_negatives import MASTER_KEYS

        keys = set(MASTER_KEYS.values())
        first, second = (text.strip() in keys for text in (request.first, request.second))
        return "2" if first and not second else "1" if second and not first else super().verdict(request)


class TiesEveryOtherQuestion(LengthJudge):
    """`LengthJudge`, except that it calls every pair a tie for questions whose text hashes even: their groups
    get one score for every completion (what dynamic sampling drops), the others are ranked by length."""

    def verdict(self, request) -> str:
        import zlib

        return "tie" if zlib.crc32(request.question.encode()) % 2 == 0 else super().verdict(request)


class TooLongFor:
    """`judge`, except that every judgment of `question` comes back as `TooLong` (a prompt over the critic's
    context, as a `Judge` with `skip_too_long` returns it)."""

    def __init__(self, judge, question: str) -> None:
        self.judge, self.question = judge, question

    def _cut(self, requests, judged):
        from rl_critic.generation.prompts import TooLong

        return [TooLong(5000, 4096, 512) if r.question == self.question else j for r, j in zip(requests, judged)]

    def compare(self, requests):
        return self._cut(requests, self.judge.compare(requests))

    def score(self, requests):
        return self._cut(requests, self.judge.score(requests))


def run_script(module, argv: list[str]) -> int:
    """A TRL-style training script as `python -m` runs it: `main(*parsed args)` of `make_parser()`'s parse."""
    from rl_critic.script.parsing import parse_args

    return module.main(*parse_args(module.make_parser(), argv))


class ReviewJudge:
    """A scripted LLaVA-Bench reviewer (`score_pairs`): the reference always 8, the answer (its length plus the
    question's) mod 10 plus 1,
    written on the review's first line as the benchmark asks; a question holding `UNREADABLE` gets a review without
    scores. Records every prompt it was asked, so a test can check the layout."""

    prompts: list[str] = []

    def score_pairs(self, requests):
        from rl_critic.critique.judgments import PairScores

        results = []
        for request in requests:
            ReviewJudge.prompts.append(request.prompt)
            if "UNREADABLE" in request.question:
                raw = "Both answers are fine.\nNo numbers here."
            else:
                raw = f"8 {(len(request.second) + len(request.question)) % 10 + 1}\nAssistant 1 is the reference."
            results.append(PairScores(raw=raw, scores=None, tokens=0))
        return results


class RatingJudge:
    """A scripted MMHal-Bench rater (`score`): an explanation, then `Rating: N` with N the length of the answer plus
    the question's, mod 7; a question holding `UNREADABLE` gets a review naming two ratings (unreadable)."""

    def score(self, requests):
        from rl_critic.critique.judgments import ScoreJudgment

        results = []
        for request in requests:
            assert request.prompt.startswith("Please act as an impartial and objective judge"), request.prompt[:80]
            if "UNREADABLE" in request.question:
                raw = "Hard to say. Rating: 2 or Rating: 5"
            else:
                rating = (len(request.response) + len(request.question)) % 7
                raw = f"The answer was compared with the image.\nRating: {rating}"
            results.append(ScoreJudgment(raw=raw, score=None, tokens=0))
        return results


class LengthLabelJudge:
    """A scripted WildVision-Bench judge (`compare`): the longer answer wins with an Arena-Hard label (`[[A>B]]`,
    `[[B>>A]]` when twice as long, `[[A=B]]` for equal lengths); a question holding `UNREADABLE` gets no label."""

    def compare(self, requests):
        from rl_critic.critique.judgments import PairJudgment

        results = []
        for request in requests:
            assert "<|The Start of Assistant A's Answer|>" in request.prompt, request.prompt[:200]
            first, second = len(request.first), len(request.second)
            if "UNREADABLE" in request.question:
                raw = "I cannot decide."
            elif first == second:
                raw = "My final verdict is tie: [[A=B]]"
            elif first > second:
                raw = f"My final verdict is: [[{'A>>B' if first >= 2 * second else 'A>B'}]]"
            else:
                raw = f"My final verdict is: [[{'B>>A' if second >= 2 * first else 'B>A'}]]"
            results.append(PairJudgment(raw=raw, verdict=None, tokens=0))
        return results


class ShortLabelJudge(LengthLabelJudge):
    """`LengthLabelJudge` turned around: the shorter answer wins (a judge that disagrees on every decided game)."""

    def compare(self, requests):
        from dataclasses import replace

        flipped = {"[[A>>B]]": "[[B>>A]]", "[[A>B]]": "[[B>A]]", "[[B>A]]": "[[A>B]]", "[[B>>A]]": "[[A>>B]]"}
        judgments = super().compare(requests)
        return [
            replace(j, raw=next((j.raw.replace(a, b) for a, b in flipped.items() if a in j.raw), j.raw))
            for j in judgments
        ]
