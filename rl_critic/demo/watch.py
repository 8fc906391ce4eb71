"""Training runs watched while they train: every checkpoint is scored on a validation split, in step order.

The demo trains tiny models from (near) scratch, where *when* a skill appears depends on the seed; so a run
stops on a validation target (`stop`) or at its last step, and the checkpoint kept is the one the target picked,
else the best on validation. Nothing here depends on time: every checkpoint is scored (a slow machine scores
later, not fewer), so a seed keeps the same checkpoint on any machine. Scoring never looks at the test split.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rl_critic.ground.errors import UserError

TRAINING_ONLY_FILES = ("optimizer.pt", "scheduler.pt", "rng_state*", "trainer_state.json", "training_args.bin")


def train_watched(
    runner,
    root: Path,
    method: str,
    runs: dict[str, list[str]],
    steps: int,
    score: Callable[[Path, str], float],
    stop: Callable[[list[float]], bool] | None,
    say: Callable[[str], None],
    label: str | None = None,
) -> dict[str, Any]:
    """Train each run (`rl-critic train <method> ARGS --output_dir root[/name]`) in the background, one
    thread each, scoring every checkpoint in step order with `score(checkpoint, name)`; `stop(scores so far)`
    ends every run. Returns the chosen checkpoint and the validation curves."""
    label = label or method
    if root.exists():
        shutil.rmtree(root)
    dirs = {name: root if len(runs) == 1 else root / name for name in runs}
    processes = {
        name: runner.start(
            ["train", method, *args, "--output_dir", str(dirs[name])],
            f"train_{label}" + ("" if len(runs) == 1 else f"_{name}"),
            threads=1,
            steps=steps,
            position=index,
        )
        for index, (name, args) in enumerate(runs.items())
    }
    start, history, stopped, hit = time.monotonic(), {name: {} for name in runs}, "last step", None
    try:
        while hit is None:
            finished = not any(p.running() for p in processes.values())  # read before looking for checkpoints
            pending = [
                (name, checkpoint)
                for name, directory in dirs.items()
                for checkpoint in checkpoints(directory)
                if step_of(checkpoint) not in history[name]
            ]
            if not pending:
                if finished:
                    break
                time.sleep(0.5)
                continue
            for name, checkpoint in pending:
                step = step_of(checkpoint)
                who = f"{label} {name}" if len(runs) > 1 else label
                accuracy = score(
                    checkpoint, f"{label}_val/{name}-step-{step}" if len(runs) > 1 else f"{label}_val/step-{step}"
                )
                history[name][step] = accuracy
                say(f"  {who} step {step}: validation accuracy {accuracy:.3f}")
                if stop is not None and stop([a for _, a in sorted(history[name].items())]):
                    stopped, hit = "validation target", (name, step)
                    break
    except BaseException:  # interrupted or failed: no training run may outlive the demo
        for process in processes.values():
            process.stop()
        raise
    train_seconds = round(time.monotonic() - start, 1)
    for process in processes.values():
        if process.running():
            process.stop()
        else:  # raises, with the log's last line, if training failed on its own
            process.wait(check=hit is None)
    scored = [(accuracy, step, name) for name, curve in history.items() for step, accuracy in curve.items()]
    if not scored:
        raise UserError(f"{label} saved no checkpoint (see its log in logs/)")
    if hit:
        name, chosen = hit
    else:  # the best on validation, the earlier step on ties (less drift from where it started)
        _, chosen, name = max(scored, key=lambda item: (item[0], -item[1]))
    return {
        "stopped": stopped,
        "train_seconds": train_seconds,
        "steps": steps,
        "chosen_run": name,
        "chosen_step": chosen,
        "checkpoint": str(dirs[name] / f"checkpoint-{chosen}"),
        "last_checkpoint": str(checkpoints(dirs[name])[-1]),
        "validation": {n: {str(s): a for s, a in sorted(curve.items())} for n, curve in history.items()},
    }


def twice_at_least(threshold: float) -> Callable[[list[float]], bool]:
    """Stop rule: two checkpoints in a row at `threshold` (one reading of a half-trained model can be luck)."""
    return lambda curve: len(curve) >= 2 and min(curve[-2:]) >= threshold


def export(checkpoint: str | Path, target: Path) -> None:
    """Copy a checkpoint's model files (no optimizer state) to a folder every command can load."""
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(checkpoint, target, ignore=shutil.ignore_patterns(*TRAINING_ONLY_FILES))


def checkpoints(run_dir: Path) -> list[Path]:
    """Finished checkpoints (the trainer writes trainer_state.json last), oldest first."""
    done = [c for c in run_dir.glob("checkpoint-*") if (c / "trainer_state.json").exists()]
    return sorted(done, key=step_of)


def step_of(checkpoint: Path) -> int:
    return int(checkpoint.name.rsplit("-", 1)[1])
