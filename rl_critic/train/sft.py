"""SFT a critic, LLaVA-Critic style: judge prompt in, GPT-4o's rationale + verdict out.

    rl-critic train sft --config recipes/tiny/sft_critic.yaml [--field value ...]
    accelerate launch --config_file recipes/accelerate/<cfg>.yaml -m rl_critic.train.sft --config RECIPE.yaml

Data: the `sft` output of `rl-critic convert` (a `messages` column + image(s)). Loss on assistant tokens
only (`assistant_only_loss: true`): the tiny models' chat templates mark the assistant turn with
`{% generation %}`; for hub models TRL swaps in a training template when it knows one (Qwen2.5-VL), and
`train/chat_templates.py` when TRL does not (LLaVA-OneVision, whose mask would leave out `<|im_end|>`).
"""

from __future__ import annotations

import sys

from trl import SFTConfig, get_peft_config

from rl_critic.models.loader import ModelArguments, load_model_and_processor
from rl_critic.script.parsing import dataclass_parser
from rl_critic.train.chat_templates import use_training_chat_template
from rl_critic.train.common import (
    TrainScriptArguments,
    check_columns,
    load_train_dataset,
    preflight,
    prepare_run,
    train_and_save,
)
from rl_critic.train.video_batches import VideoSFTTrainer

ARGUMENTS = (TrainScriptArguments, SFTConfig, ModelArguments)  # what a recipe of this method may set


def make_parser():
    """Flags and `--config FILE.yaml` -> the dataclasses of `ARGUMENTS`, in that order (TRL's script shape)."""
    return dataclass_parser(
        ARGUMENTS, "rl-critic train sft", "LLaVA-Critic SFT: a critic from judge prompts and rationales"
    )


def main(script_args: TrainScriptArguments, training_args: SFTConfig, model_args: ModelArguments) -> int:
    prepare_run(training_args)
    # load (data first: a wrong path fails before minutes of model loading)
    dataset = load_train_dataset(script_args, model_args)
    check_columns(dataset, "sft")
    model, processor = load_model_and_processor(model_args, trust_remote_code=training_args.trust_remote_code)
    if training_args.assistant_only_loss:
        use_training_chat_template(processor)
    preflight(dataset, processor, "messages", training_args.max_length, script_args.preflight_rows, "max_length")
    # train, save
    trainer = VideoSFTTrainer(
        model=model,
        args=training_args,
        train_dataset=dataset,
        processing_class=processor,
        peft_config=get_peft_config(model_args),
    )
    train_and_save(trainer, "sft", len(dataset))
    return 0


if __name__ == "__main__":
    from rl_critic.script.run import run_script

    sys.exit(run_script("train sft", make_parser, main))
