"""GRPO: a critic, LLaVA-Critic-R1 style (verifiable preference targets, rule-based rewards), or a policy
with a critic as its reward (`reward_funcs: [critic_judge]`).

    rl-critic train grpo --config recipes/tiny/grpo_critic.yaml [--field value ...]
    rl-critic train grpo --config recipes/tiny/grpo_policy_critic.yaml
    accelerate launch --config_file recipes/accelerate/<cfg>.yaml -m rl_critic.train.grpo --config RECIPE.yaml

Data: the `grpo` output of `rl-critic convert` (`prompt`, image(s), `solution`, `task`, `scale`); for a
policy also question files or `sft-policy` output (`rl_critic.train.policy_data`). Rewards by registry
name or dotted path (see `rewards/`), plus `critic_judge` (`rl_critic.critique.reward`).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

from transformers import TrainerCallback
from trl import GRPOConfig, get_peft_config

import rewards
from rl_critic.critique.critic import unreadable_line
from rl_critic.critique.reward import CRITIC_JUDGE, CRITIC_JUDGE_PATH, CriticJudgeReward, CriticRewardArguments
from rl_critic.generation.prompts import model_positions
from rl_critic.ground.errors import UserError
from rl_critic.models.loader import ModelArguments, load_model_and_processor, resolve_model_path
from rl_critic.models.media import MediaBudget
from rl_critic.script.parsing import dataclass_parser
from rl_critic.script.recipes import resolve_data
from rl_critic.train.common import (
    TrainScriptArguments,
    check_columns,
    load_train_dataset,
    preflight,
    prepare_run,
    train_and_save,
)
from rl_critic.train.dynamic_sampling import DynamicSamplingArguments, DynamicSamplingGRPOTrainer, resolve_key
from rl_critic.train.policy_data import is_policy_messages, is_question_file, load_question_file, prompts_from_messages
from rl_critic.train.reward_checks import checked_rewards
from rl_critic.train.video_batches import check_one_medium
from rl_critic.train.vllm_sync import suppress_image_token, use_cpu_sync


@dataclass
class GRPOScriptArguments(TrainScriptArguments):
    reward_funcs: list[str] = field(
        default_factory=lambda: ["critic"],
        metadata={
            "help": f"Reward functions: {', '.join(rewards.names())}, each with options after a colon "
            "(`critic:accuracy_weight=0.8,format_weight=0.2`), dotted import paths, or `critic_judge` (a critic "
            "model judging each group; the critic_* fields). Weights: TRL's `reward_weights`."
        },
    )


# what a recipe of this method may set
ARGUMENTS = (GRPOScriptArguments, CriticRewardArguments, DynamicSamplingArguments, GRPOConfig, ModelArguments)


def build_rewards(specs: list[str], critic_args: CriticRewardArguments, model_args: ModelArguments) -> list:
    """Registry names, dotted paths and `critic_judge` -> reward functions (the critic loads later, once)."""
    if not specs:
        raise UserError(
            "reward_funcs is empty: GRPO needs at least one reward (critic, critic_judge, answer_accuracy, ... "
            "or a dotted path to your own function)"
        )
    functions = []
    for spec in specs:
        name, options = rewards.parse_spec(spec)
        if name in (CRITIC_JUDGE, CRITIC_JUDGE_PATH):
            if options:
                raise UserError("critic_judge takes its settings from the critic_* fields, not after a colon")
            if critic_args.critic_model not in (None, "policy"):
                resolve_model_path(critic_args.critic_model)  # a wrong critic path fails before the policy loads
            functions.append(CriticJudgeReward(critic_args, model_args))
            continue
        try:
            functions += checked_rewards(rewards.resolve([spec]))
        except ValueError as err:
            raise UserError(str(err)) from err
    return functions


def make_parser():
    """Flags and `--config FILE.yaml` -> the dataclasses of `ARGUMENTS`, in that order (TRL's script shape)."""
    return dataclass_parser(
        ARGUMENTS, "rl-critic train grpo", "GRPO on verifiable preference targets, or a policy with a critic as reward"
    )


def main(
    script_args: GRPOScriptArguments,
    critic_args: CriticRewardArguments,
    sampling_args: DynamicSamplingArguments,
    training_args: GRPOConfig,
    model_args: ModelArguments,
) -> int:
    prepare_run(training_args)
    sampling_args.check()
    reward_funcs = build_rewards(script_args.reward_funcs, critic_args, model_args)
    key = resolve_key(sampling_args.dynamic_sampling_key, reward_funcs) if sampling_args.dynamic_sampling else None
    script_args.dataset_name = resolve_data(script_args.dataset_name)
    # load (data first: a wrong path fails before minutes of model loading)
    if is_question_file(script_args.dataset_name):
        dataset = load_question_file(
            script_args.dataset_name,
            script_args.limit,
            MediaBudget.of(model_args),
            script_args.images_root,
            script_args.image_urls,
        )
    else:
        dataset = load_train_dataset(script_args, model_args)
        if is_policy_messages(dataset):
            dataset = prompts_from_messages(dataset)
    # The built-in rewards but `format` score against the row's `solution`.
    names = [rewards.parse_spec(spec)[0] for spec in script_args.reward_funcs]
    graded = any(name in rewards.names() and name != "format" for name in names)
    check_columns(dataset, "grpo", graded)
    check_one_medium(dataset)
    if graded and not any(str(solution).strip() for solution in dataset.with_format(None)["solution"]):
        raise UserError(
            f"no row of {script_args.dataset_name} has a reference answer (`answer` / `solution`), "
            f"and the rewards {', '.join(names)} score against it: every reward would be 0"
        )
    model, processor = load_model_and_processor(model_args, trust_remote_code=training_args.trust_remote_code)
    positions = model_positions(model)  # the same context length the inference commands check prompts against
    budget = positions - training_args.max_completion_length if positions else None
    preflight(
        dataset,
        processor,
        "prompt",
        budget,
        script_args.preflight_rows,
        "max_position_embeddings - max_completion_length",
    )
    # train, save
    trainer = DynamicSamplingGRPOTrainer(
        model=model,
        reward_funcs=reward_funcs,
        args=training_args,
        train_dataset=dataset,
        processing_class=processor,
        peft_config=get_peft_config(model_args),
        dynamic_sampling=sampling_args,
        key=key,
    )
    use_cpu_sync(trainer)  # use_vllm colocate on a CPU (rl_critic.train.vllm_sync); nothing elsewhere
    suppress_image_token(trainer)  # use_vllm: a sampled image token would fail the training forward
    for function in reward_funcs:  # the critic: once per process, frozen, on the policy's device
        if isinstance(function, CriticJudgeReward):
            function.load(policy=trainer.model, processor=processor, device=trainer.accelerator.device)
            function.group_size = training_args.num_generations
            trainer.add_callback(StopWhenCriticIsGone(function))
            trainer.add_callback(SayUnreadableVerdicts(function))
    train_and_save(trainer, "grpo", len(dataset))
    return 0


class SayUnreadableVerdicts(TrainerCallback):
    """At the end of training, one line when most of the critic's verdicts could not be read (before the run's
    last line, `outcome`): a run whose rewards were mostly ties says why."""

    def __init__(self, reward: CriticJudgeReward) -> None:
        self.reward = reward

    def on_train_end(self, args, state, control, **kwargs):
        line = unreadable_line(self.reward.judge)
        if line and state.is_world_process_zero:
            print(f"critic_judge: {line}")
        return control


class StopWhenCriticIsGone(TrainerCallback):
    """A served critic that stopped answering (`CriticJudgeReward.stop_reason`), or a reward-hacking alarm with
    `critic_hack_action: stop` (`hack_reason`), ends the run with a checkpoint, never a lost run: the step that
    noticed it saves, then one line says why and how to go on (no final model is written, since training did not
    finish)."""

    def __init__(self, reward: CriticJudgeReward) -> None:
        self.reward = reward

    def on_step_end(self, args, state, control, **kwargs):
        if self.reward.stop_reason or self.reward.hack_reason:
            control.should_save = True
        return control

    def on_save(self, args, state, control, **kwargs):
        saved = f"{args.output_dir}/checkpoint-{state.global_step}"
        if self.reward.stop_reason:
            raise UserError(
                f"the critic stopped answering ({self.reward.stop_reason}); saved {saved}: once the server is "
                "back, run the same command with --resume_from_checkpoint true"
            )
        if self.reward.hack_reason:
            raise UserError(f"stopped by critic_hack_action: stop; saved {saved}. {self.reward.hack_reason}")
        return control


if __name__ == "__main__":
    from rl_critic.script.run import run_script

    sys.exit(run_script("train grpo", make_parser, main))
