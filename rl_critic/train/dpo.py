"""DPO a vision-language model on preference pairs: the most common use of critic data after SFT.

    rl-critic train dpo --config recipes/tiny/dpo_policy.yaml [--field value ...]
    accelerate launch --config_file recipes/accelerate/<cfg>.yaml -m rl_critic.train.dpo --config RECIPE.yaml

Data: the `dpo` output of `rl-critic convert` (any source with a preferred response: LLaVA-Critic pairs,
RLAIF-V / VLFeedback-style `preference` data): conversational `prompt` (the question with its image
part(s)), `chosen`, `rejected`, and `image` or `images`. TRL's `DPOTrainer` does the rest (reference model,
sigmoid loss with `beta`, LoRA / QLoRA through the `use_peft` / `load_in_4bit` fields).
"""

from __future__ import annotations

import sys

from trl import DPOConfig, get_peft_config

from rl_critic.models.loader import ModelArguments, load_model_and_processor
from rl_critic.script.parsing import dataclass_parser
from rl_critic.train.common import (
    TrainScriptArguments,
    check_columns,
    load_train_dataset,
    preflight,
    prepare_run,
    train_and_save,
)
from rl_critic.train.video_batches import VideoDPOTrainer

ARGUMENTS = (TrainScriptArguments, DPOConfig, ModelArguments)  # what a recipe of this method may set


def make_parser():
    """Flags and `--config FILE.yaml` -> the dataclasses of `ARGUMENTS`, in that order (TRL's script shape)."""
    return dataclass_parser(ARGUMENTS, "rl-critic train dpo", "DPO on preference pairs")


def main(script_args: TrainScriptArguments, training_args: DPOConfig, model_args: ModelArguments) -> int:
    prepare_run(training_args)
    # load (data first: a wrong path fails before minutes of model loading)
    dataset = load_train_dataset(script_args, model_args)
    check_columns(dataset, "dpo")
    model, processor = load_model_and_processor(model_args, trust_remote_code=training_args.trust_remote_code)
    preflight(dataset, processor, "prompt", training_args.max_length, script_args.preflight_rows, "max_length")
    # train, save
    trainer = VideoDPOTrainer(
        model=model,
        args=training_args,
        train_dataset=dataset,
        processing_class=processor,
        peft_config=get_peft_config(model_args),
    )
    train_and_save(trainer, "dpo", len(dataset))
    return 0


if __name__ == "__main__":
    from rl_critic.script.run import run_script

    sys.exit(run_script("train dpo", make_parser, main))
