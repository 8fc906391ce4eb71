"""A critic as the reward of a policy: during GRPO, a critic judges each group of completions.

`reward_funcs: [critic_judge]` in an `rl-critic train grpo` recipe (the `critic_*` fields below configure it),
or `rl_critic.critique.reward.critic_judge` by dotted path (e.g. `trl grpo`, the critic then named by the
environment variable `RL_CRITIC_CRITIC_MODEL`, settable from the recipe's `env:` section, and
`RL_CRITIC_CRITIC_UNREADABLE_OK=1` for `critic_unreadable_ok`). The critic sees
exactly what the policy saw: the question is the text of the prompt's last user turn, the images are the
row's `image` / `images`, its video the row's `video` frames. Completions of one prompt form a group (consecutive
rows with the same prompt, as TRL lays them out), scored by the judging schedules of `rl_critic.critique.schedules`.
Logged through TRL: judgments and judge seconds per call, the parse-failure rate, and, where rows carry a reference
`solution`, how often the critic's favourite is right (`answer_accuracy`) - the number that says whether to trust
the critic.
"""

from __future__ import annotations

import json
import os
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from data_converters.columns import VIDEO_COLUMN, VIDEO_FPS_COLUMN
from rewards.accuracy import answer_accuracy
from rewards.text import completion_text
from rl_critic.critique.critic import POLICY, CriticArguments, build_judge
from rl_critic.critique.hack_alarm import HackAlarm, HackAlarmArguments, agreement_counts
from rl_critic.critique.problem import Problem
from rl_critic.critique.schedules import SCHEDULES, rank
from rl_critic.generation.hf import HFEngine
from rl_critic.generation.served import ServerUnavailable
from rl_critic.ground.errors import UserError, redacted
from rl_critic.models.media import Media, cell_videos


@dataclass
class CriticRewardArguments(HackAlarmArguments, CriticArguments):
    """The `critic_judge` reward's critic (recipe fields of `rl-critic train grpo`): the judge's fields, plus how
    each group of completions is judged."""

    _argument_group_name = "critic reward (reward_funcs: [critic_judge])"

    critic_batch_size: int | None = field(default=16, metadata={"help": "Judgments per generate call."})
    critic_schedule: str = field(
        default="round_robin", metadata={"help": "How a group is judged.", "choices": list(SCHEDULES)}
    )
    critic_both_orders: bool = field(
        default=True, metadata={"help": "Judge each pair in both orders (cancels the critic's position bias)."}
    )
    critic_max_failed_calls: int = field(
        default=3,
        metadata={
            "help": "A served critic that stays unreachable (after its retries) for this many reward calls in a "
            "row stops the run with a checkpoint to resume from; fewer failures score those groups 0.5 (neutral)."
        },
    )


# The reward's one name in recipes (`reward_funcs: [critic_judge]`), and the dotted path `trl grpo --config` imports
# (the module-level instance at the end of this file).
CRITIC_JUDGE = "critic_judge"
CRITIC_JUDGE_PATH = "rl_critic.critique.reward.critic_judge"


class CriticJudgeReward:
    """A TRL reward function (`fn(prompts, completions, **kwargs) -> list[float]`) backed by a critic."""

    def __init__(self, args: CriticRewardArguments | None = None, model_args=None, judge=None) -> None:
        self.__name__ = CRITIC_JUDGE  # TRL names the reward's metrics after it
        self.args = args or CriticRewardArguments()
        self.model_args = model_args
        self.judge = judge  # loaded on first use unless given (tests give a scripted one)
        self.live_policy = False
        self.group_size: int | None = None  # TRL's num_generations, set by `rl-critic train grpo`
        self.failed_calls = 0  # reward calls in a row the critic server did not answer
        self.stop_reason: str | None = None  # set when they reach critic_max_failed_calls: the run saves and stops
        self.judgments_made = 0  # on this process, over the run: the trainer reports the run's total as a cost
        if self.args.critic_probe_steps < 0 or not 0 <= self.args.critic_hack_threshold <= 1:
            raise UserError("critic_probe_steps must be 0 (off) or more, critic_hack_threshold a share from 0 to 1")
        self.alarm = HackAlarm(self.args.critic_probe_steps, self.args.critic_hack_threshold)
        self.hack_reason: str | None = None  # set by the alarm with critic_hack_action: stop; the run saves and stops

    def load(self, policy=None, processor=None, device=None) -> None:
        """Build the judge once: the live `policy` (critic_model `policy`), else a frozen critic on `device`."""
        import torch

        from rl_critic.models.loader import ModelArguments

        if self.args.critic_schedule not in SCHEDULES:
            raise UserError(f"critic_schedule must be one of {', '.join(SCHEDULES)}, not {self.args.critic_schedule!r}")
        if self.args.critic_class:  # a rule-based or API judge: nothing to load onto a device
            self.judge = build_judge(self.args, None, self.args.critic_batch_size)
            return
        if self.model_args is None and os.environ.get("RL_CRITIC_CRITIC_UNREADABLE_OK", "").lower() in ("1", "true"):
            self.args = replace(self.args, critic_unreadable_ok=True)  # `trl grpo`: the environment is the recipe
        model_args = self.model_args or ModelArguments(model_name_or_path=os.environ.get("RL_CRITIC_CRITIC_MODEL"))
        name = self.args.critic_model or model_args.model_name_or_path
        if not name:
            raise UserError("critic_judge needs a critic: set critic_model (or RL_CRITIC_CRITIC_MODEL)")
        if name == POLICY:
            if policy is None:
                raise UserError("critic_model: policy needs the policy model (use rl-critic train grpo)")
            if (self.args.critic_engine or "hf") != "hf" or self.args.critic_base_url:
                raise UserError(
                    "critic_model: policy judges with the policy being trained, in this process; a served or "
                    f"vLLM critic (critic_engine {self.args.critic_engine}) is another model: name it in critic_model"
                )
            self.live_policy = True
            model_args = replace(model_args, model_name_or_path=POLICY)
            critic_args = replace(self.args, critic_model=None)
            self.judge = build_judge(
                critic_args, model_args, self.args.critic_batch_size, policy=HFEngine(policy, processor)
            )
            self.judge.skip_too_long = True  # a pair the critic cannot read is a counted tie, not a failed run
            return
        dtype = self.args.critic_dtype or ("bfloat16" if torch.cuda.is_available() else model_args.dtype)
        critic_args = replace(self.args, critic_model=name, critic_dtype=dtype)
        self.judge = build_judge(critic_args, replace(model_args, use_peft=False), self.args.critic_batch_size)
        self.judge.skip_too_long = True
        model = self.judge.model
        if model is None:  # served or vLLM critic: nothing of it lives in the training process's torch
            return
        model.eval().requires_grad_(False)
        device = device or (torch.device("cuda") if torch.cuda.is_available() else None)
        if device is not None and getattr(model, "hf_quantizer", None) is None:
            model.to(device)

    def __call__(self, prompts=None, completions=None, completion_ids=None, **kwargs: Any) -> list[float]:
        if self.judge is None:
            self.load()
        texts = [completion_text(c) for c in completions or []]
        groups = _groups(prompts or [], kwargs, self.group_size)
        problems = [Problem(_question(prompts[a]), texts[a:b], _media(kwargs, a)) for a, b in groups]
        start_time = time.perf_counter()
        try:
            with self._without_dropout():
                results = rank(
                    problems, self.judge, self.args.critic_schedule, self.args.critic_both_orders, scale=(1, 10)
                )
        except ServerUnavailable as err:
            return self._neutral(err, texts, kwargs)
        self.failed_calls = 0
        self.judgments_made += sum(len(result.judgments) for result in results)
        if kwargs.get("log_metric") is not None:
            kwargs["log_metric"]("critic_judge/server_failure", 0.0)
        seconds = time.perf_counter() - start_time
        rewards = [score for result in results for score in result.scores]
        correct = _correct(texts, kwargs.get("solution"))  # graded once, for the log and the alarm
        self._log(kwargs, groups, results, rewards, seconds, correct)
        self._watch_for_hacking(kwargs, groups, problems, rewards, correct)
        return rewards

    @contextmanager
    def _without_dropout(self):
        """Judge with the live policy (critic_model: policy) in eval mode, then give it back to training."""
        model = getattr(self.judge, "model", None)
        was_training = bool(model is not None and model.training)
        if was_training:
            model.eval()
        try:
            yield
        finally:
            if was_training:
                model.train()

    def _watch_for_hacking(self, kwargs, groups, problems, rewards, correct) -> None:
        """The reward-hacking probes and alarm (`hack_alarm.py`): a master-key probe every `critic_probe_steps`
        steps, and reward against answer accuracy where rows carry reference answers."""
        state = kwargs.get("trainer_state")
        step = int(getattr(state, "global_step", 0) or 0)
        log_metric = kwargs.get("log_metric")
        lines = []
        if state is not None and self.alarm.due(step) and problems:  # in training (a direct call probes nothing)
            requests, positions = self.alarm.probe_requests(problems, rewards, groups)
            judgments = self._probe(requests)
            if judgments is not None:
                rates = self.alarm.win_rates(judgments, positions)
                if log_metric is not None:
                    log_metric("critic_probe/master_key_win_rate", sum(rates.values()) / len(rates))
                    log_metric("critic_probe/master_key_win_rate_max", max(rates.values()))
                lines.append(self.alarm.check_win_rate(step, rates))
        if correct is not None:
            agreeing, pairs = agreement_counts(rewards, correct, groups)
            if log_metric is not None and pairs:
                log_metric("critic_probe/reward_accuracy_agreement", agreeing / pairs)
            accuracy = sum(correct) / len(correct) if correct else None
            relative = self.args.critic_schedule != "pointwise"
            mean_reward = sum(rewards) / max(len(rewards), 1)
            lines.append(self.alarm.check_trend(step, mean_reward, accuracy, (agreeing, pairs), relative))
        for line in filter(None, lines):
            print(line, file=sys.stderr)
            if self.args.critic_hack_action == "stop":
                self.hack_reason = line
        if log_metric is not None and state is not None:
            log_metric("critic_probe/alarms", float(len(self.alarm.raised)))

    def _probe(self, requests) -> list | None:
        """The probe's judgments, made as the reward's are (the live policy without dropout); None when a served
        critic did not answer (the next probe step tries again)."""
        try:
            with self._without_dropout():
                judgments = self.judge.compare(requests)
        except ServerUnavailable:
            return None
        self.judgments_made += len(requests)
        return judgments

    def _neutral(self, err: ServerUnavailable, texts: list[str], kwargs: dict[str, Any]) -> list[float]:
        """This call's completions all score 0.5 (no advantage: nothing is learnt from a critic that did not
        answer); after `critic_max_failed_calls` such calls in a row, `stop_reason` asks the trainer to save a
        checkpoint and stop (`rl_critic.train.grpo`)."""
        self.failed_calls += 1
        if kwargs.get("log_metric") is not None:
            kwargs["log_metric"]("critic_judge/server_failure", 1.0)
        print(
            redacted(
                f"critic_judge: {err} (reward call {self.failed_calls} of {self.args.critic_max_failed_calls} "
                "allowed in a row); this step's completions score 0.5"
            ),
            file=sys.stderr,
        )
        if self.failed_calls >= self.args.critic_max_failed_calls:
            self.stop_reason = f"{err}, {self.failed_calls} reward calls in a row"
        return [0.5] * len(texts)

    def _log(self, kwargs, groups, results, rewards, seconds, correct) -> None:
        judgments = sum(len(r.judgments) for r in results)
        log_metric, log_extra = kwargs.get("log_metric"), kwargs.get("log_extra")
        if log_metric is not None:
            log_metric("critic_judge/judgments", float(judgments))
            log_metric("critic_judge/seconds", seconds)
            log_metric(
                "critic_judge/parse_failure_rate", sum(r.unparsed for r in results) / judgments if judgments else 0.0
            )
            log_metric("critic_judge/too_long_rate", sum(r.too_long for r in results) / judgments if judgments else 0.0)
            right = _favourite_right(groups, rewards, correct)
            if right is not None:
                log_metric("critic_judge/favourite_right", right[0])
                if right[1] is not None:
                    log_metric("critic_judge/favourite_right_when_mixed", right[1])
        if log_extra is not None:  # a raw judgment per completion, for the completions table
            raws = []
            for (start, end), result in zip(groups, results):
                first = {}
                for record in result.judgments:
                    for index in record.get("pair") or [record.get("candidate")]:
                        first.setdefault(index, record["raw"][:200])
                raws += [first.get(i, "") for i in range(end - start)]
            log_extra("critic_judgment", raws)


def _groups(prompts: list, kwargs: dict[str, Any], size: int | None = None) -> list[tuple[int, int]]:
    """(start, end) of each group. TRL repeats each prompt `num_generations` (`size`) times in a row: chunks of
    `size` whose rows agree are the groups; otherwise (a group split across processes, or `size` unknown)
    runs of consecutive rows with the same prompt and images."""

    def stable(value):  # TRL may put image objects into the prompt: compare them by content, not address
        return _fingerprint(value) if hasattr(value, "convert") else type(value).__name__

    keys = [
        json.dumps(p, sort_keys=True, default=stable) + str([_fingerprint(im) for im in _row_images(kwargs, i)])
        for i, p in enumerate(prompts)
    ]
    if size and len(keys) % size == 0 and all(len(set(keys[a : a + size])) == 1 for a in range(0, len(keys), size)):
        return [(start, start + size) for start in range(0, len(keys), size)]
    groups, start = [], 0
    for index in range(1, len(keys) + 1):
        if index == len(keys) or keys[index] != keys[start]:
            groups.append((start, index))
            start = index
    return groups


def _fingerprint(image) -> str:
    """A cheap content key for an image: its size and an 8x8 grey thumbnail."""
    if not hasattr(image, "convert"):
        return str(image)
    return f"{image.size}:{image.convert('L').resize((8, 8)).tobytes().hex()}"


def _question(prompt) -> str:
    """The text of the prompt's last user turn (what the policy was asked)."""
    if isinstance(prompt, str):
        return prompt
    user = [m for m in prompt if m.get("role") == "user"][-1]
    content = user.get("content")
    if isinstance(content, str):
        return content
    return "\n".join(part.get("text") or "" for part in content if part.get("type") == "text").strip()


def _row_images(kwargs: dict[str, Any], index: int) -> list:
    """Row `index`'s image(s), from the dataset's `images` or `image` column."""
    value = (kwargs.get("images") or kwargs.get("image") or [None] * (index + 1))[index]
    return value if isinstance(value, list) else [value] if value is not None else []


def _media(kwargs: dict[str, Any], index: int) -> Media:
    """What row `index` showed the policy: its pictures and its video (the `video` / `video_fps` columns)."""
    images = [image.convert("RGB") if hasattr(image, "convert") else image for image in _row_images(kwargs, index)]
    video, fps = (kwargs.get(column) or [None] * (index + 1) for column in (VIDEO_COLUMN, VIDEO_FPS_COLUMN))
    return Media(images, cell_videos(video[index], fps[index]))


def _correct(texts: list[str], solutions) -> list[bool] | None:
    """Whether each completion is right by `answer_accuracy`; None without reference answers."""
    if not solutions or all(s in (None, "") for s in solutions):
        return None
    return [answer_accuracy(text, solution) == 1.0 for text, solution in zip(texts, solutions)]


def _favourite_right(groups, rewards, correct: list[bool] | None) -> tuple[float, float | None] | None:
    """Share of groups whose top-rewarded completion is right, overall and among groups with both right and
    wrong completions (where the critic's choice matters); None without reference answers."""
    if correct is None:
        return None
    overall, mixed = [], []
    for start, end in groups:
        right = correct[start:end]
        scores = rewards[start:end]
        favourite_right = right[scores.index(max(scores))]
        overall.append(favourite_right)
        if any(right) and not all(right):
            mixed.append(favourite_right)
    return sum(overall) / len(overall), (sum(mixed) / len(mixed) if mixed else None)


critic_judge = CriticJudgeReward()  # the dotted-path form: critic from RL_CRITIC_CRITIC_MODEL, loaded on first call
