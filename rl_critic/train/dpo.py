"""DPO a vision-language model on preference pairs: the most common use of critic data after SFT.

    rl-critic train dpo --config recipes/tiny/dpo_policy.yaml [--field value ...]
    accelerate launch --config_file recipes/accelerate/<cfg>.yaml -m rl_critic.dpo --config RECIPE.yaml

Data: the `dpo` output of `rl-critic convert` (any source with a preferred response: LLaVA-Critic pairs,
RLAIF-V / VLFeedback-style `preference` data): conversational `prompt` (the question with its image
part(s)), `chosen`, `rejected`, and `image` or `images`. TRL's `DPOTrainer` does the rest (reference model,
sigmoid loss with `beta`, LoRA / QLoRA through the `use_peft` / `load_in_4bit` fields).
"""

from __future__ import annotations

import sys

from trl import DPOConfig, DPOTrainer, get_peft_config

from rl_critic.models.loader import ModelArguments, load_model_and_processor
from rl_critic.train.common import (
    TrainScriptArguments,
    check_columns,
    cpu_safe,
    load_train_dataset,
    parse_recipe,
    preflight,
    train_and_save,
)

ARGUMENTS = (TrainScriptArguments, DPOConfig, ModelArguments)  # what a recipe of this method may set


def main(argv: list[str] | None = None) -> int:
    # parse
    script_args, training_args, model_args = parse_recipe(
        ARGUMENTS, "rl-critic train dpo", sys.argv[1:] if argv is None else argv
    )
    cpu_safe(training_args)
    # load (data first: a wrong path fails before minutes of model loading)
    dataset = load_train_dataset(script_args, model_args)
    check_columns(dataset, {"prompt", "chosen", "rejected"}, "dpo", "dpo")
    model, processor = load_model_and_processor(model_args, trust_remote_code=training_args.trust_remote_code)
    preflight(dataset, processor, "prompt", training_args.max_length, script_args.preflight_rows, "max_length")
    # train, save
    trainer = DPOTrainer(
        model=model,
        args=training_args,
        train_dataset=dataset,
        processing_class=processor,
        peft_config=get_peft_config(model_args),
    )
    train_and_save(trainer, "dpo", len(dataset))
    return 0


if __name__ == "__main__":
    from rl_critic.cli import run_module

    sys.exit(run_module("train dpo", main))
