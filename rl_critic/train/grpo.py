"""GRPO a critic, LLaVA-Critic-R1 style: verifiable preference targets, rule-based rewards.

    rl-critic train grpo --config recipes/tiny/grpo_critic.yaml [--field value ...]
    accelerate launch --config_file recipes/accelerate/<cfg>.yaml -m rl_critic.grpo --config RECIPE.yaml

Data: the `grpo` output of `rl-critic convert` (`prompt`, image(s), `solution`, `task`, `scale`).
Rewards by registry name or dotted path (`reward_funcs: [critic]`, see `rewards/`).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

from trl import GRPOConfig, get_peft_config

import rewards
from data_converters.errors import UserError
from rl_critic.models.loader import ModelArguments, load_model_and_processor
from rl_critic.train.batch_num_images import BatchNumImagesGRPOTrainer
from rl_critic.train.common import (
    TrainScriptArguments,
    check_columns,
    cpu_safe,
    load_train_dataset,
    parse_recipe,
    preflight,
    train_and_save,
)


@dataclass
class GRPOScriptArguments(TrainScriptArguments):
    reward_funcs: list[str] = field(
        default_factory=lambda: ["critic"],
        metadata={
            "help": f"Reward functions: {', '.join(rewards.names())}, each with options after a colon "
            "(`critic:accuracy_weight=0.8,format_weight=0.2`), or dotted import paths. Weights: TRL's "
            "`reward_weights`."
        },
    )


ARGUMENTS = (GRPOScriptArguments, GRPOConfig, ModelArguments)  # what a recipe of this method may set


def main(argv: list[str] | None = None) -> int:
    # parse
    script_args, training_args, model_args = parse_recipe(
        ARGUMENTS,
        "rl-critic train grpo",
        sys.argv[1:] if argv is None else argv,
    )
    cpu_safe(training_args)
    try:
        reward_funcs = rewards.resolve(script_args.reward_funcs)
    except ValueError as err:
        raise UserError(str(err)) from err
    # load (data first: a wrong path fails before minutes of model loading)
    dataset = load_train_dataset(script_args)
    # The built-in rewards but `format` score against the row's `solution`.
    graded = any(rewards.parse_spec(spec)[0] in rewards.names() and not spec.startswith("format")
                 for spec in script_args.reward_funcs)  # fmt: skip
    check_columns(dataset, {"prompt", "solution"} if graded else {"prompt"}, "grpo", "grpo")
    model, processor = load_model_and_processor(model_args, trust_remote_code=training_args.trust_remote_code)
    budget = model.config.get_text_config().max_position_embeddings - training_args.max_completion_length
    preflight(
        dataset,
        processor,
        "prompt",
        budget,
        script_args.preflight_rows,
        "max_position_embeddings - max_completion_length",
    )
    # train, save
    trainer = BatchNumImagesGRPOTrainer(
        model=model,
        reward_funcs=reward_funcs,
        args=training_args,
        train_dataset=dataset,
        processing_class=processor,
        peft_config=get_peft_config(model_args),
    )
    train_and_save(trainer, "grpo", len(dataset))
    return 0


if __name__ == "__main__":
    from rl_critic.cli import run_module

    sys.exit(run_module("train grpo", main))
