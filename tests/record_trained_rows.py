"""`python -m tests.record_trained_rows FOLDER <rl-critic train grpo flags>`: the GRPO script, with each
process writing what every optimizer step trained on (rows, zero advantages) to FOLDER/rank-N.json. Run under
`accelerate launch` by the 2-process dynamic sampling test, which cannot patch a trainer in another process."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from rl_critic.script.parsing import parse_args
from rl_critic.train import grpo
from rl_critic.train.dynamic_sampling import DynamicSamplingGRPOTrainer


def main(folder: str, argv: list[str]) -> int:
    steps: list[dict] = []
    original = DynamicSamplingGRPOTrainer._compute_loss

    def record(self, model, inputs):
        advantages = inputs["advantages"]
        steps.append({"rows": int(advantages.shape[0]), "zero_advantages": int((advantages == 0).sum())})
        Path(folder).mkdir(parents=True, exist_ok=True)
        (Path(folder) / f"rank-{self.accelerator.process_index}.json").write_text(json.dumps(steps))
        return original(self, model, inputs)

    DynamicSamplingGRPOTrainer._compute_loss = record
    return grpo.main(*parse_args(grpo.make_parser(), argv))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
