"""`python -m tests.record_rank_weights FOLDER METHOD <rl-critic train METHOD flags>`: the training script, with
each process writing its model's parameters after training to FOLDER/rank-N.safetensors. Run under `accelerate
launch` by the multi-machine test: only one rank saves a checkpoint, and the test must see every rank's copy."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

from safetensors.torch import save_file
from transformers import Trainer

from rl_critic.script.parsing import parse_args


def main(folder: str, method: str, argv: list[str]) -> int:
    original = Trainer.train

    def train_and_record(self, *args, **kwargs):
        output = original(self, *args, **kwargs)
        model = self.accelerator.unwrap_model(self.model)
        weights = {name: tensor.detach().clone().contiguous() for name, tensor in model.state_dict().items()}
        Path(folder).mkdir(parents=True, exist_ok=True)
        save_file(weights, str(Path(folder) / f"rank-{self.accelerator.process_index}.safetensors"))
        return output

    Trainer.train = train_and_record
    script = importlib.import_module(f"rl_critic.train.{method}")
    return script.main(*parse_args(script.make_parser(), argv))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], sys.argv[3:]))
