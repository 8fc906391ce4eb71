"""The baseline for `bench.train_step`: a bare TRL GRPOTrainer script, no rl-critic code on the training path.

Same tiny model folder, same converted data, same config values as `recipes/tiny/grpo_critic.yaml`, the
same reward function; model and processor come straight from the transformers Auto classes.
"""

from __future__ import annotations

import sys

from rl_critic.script.noise import quiet_library_loggers

quiet_library_loggers()  # before bitsandbytes loads (through TRL): its CPU "kernels" note is no one's to act on
import yaml  # noqa: E402
from datasets import load_dataset  # noqa: E402
from transformers import AutoModelForImageTextToText, AutoProcessor  # noqa: E402
from trl import GRPOConfig, GRPOTrainer  # noqa: E402

from rewards import critic_reward  # noqa: E402


def main(model_dir: str, data_file: str, recipe: str, output_dir: str, max_steps: int) -> None:
    values = yaml.safe_load(open(recipe))
    fields = {k: v for k, v in values.items() if k in GRPOConfig.__dataclass_fields__}
    fields.update(output_dir=output_dir, max_steps=max_steps, save_strategy="no")
    processor = AutoProcessor.from_pretrained(model_dir)
    processor.tokenizer.padding_side = "left"
    size = processor.image_processor.size
    processor.image_processor.size = {"shortest_edge": values["min_pixels"], "longest_edge": values["max_pixels"]}
    assert size["shortest_edge"] and size["longest_edge"]
    model = AutoModelForImageTextToText.from_pretrained(model_dir, dtype="float32")
    dataset = load_dataset("parquet", data_files=data_file, split="train")
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=[critic_reward],
        args=GRPOConfig(**fields),
        train_dataset=dataset,
        processing_class=processor,
    )
    trainer.train()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
