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
    steps_before: int = 0,
) -> dict[str, Any]:
    """Train each run (`rl-critic train <method> ARGS --output_dir root[/name]`) in the background, one
    thread each, scoring every checkpoint in step order with `score(checkpoint, name)`; `stop(scores so far)`
    ends every run. Returns the chosen checkpoint and the validation curves. A run that continues an earlier
    phase of the same training (a curriculum) passes that phase's `steps_before`: its checkpoints are then
    reported, and the returned steps counted, from the start of the whole training."""
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
    index = {name: position for position, name in enumerate(runs)}
    try:
        while hit is None:
            running = {name for name, process in processes.items() if process.running()}  # before the folders
            saved = {
                name: [step_of(c) + steps_before for c in checkpoints(directory)] for name, directory in dirs.items()
            }
            pending = sorted(
                (step, index[name], name)
                for name, steps_saved in saved.items()
                for step in steps_saved
                if step not in history[name]
            )
            if stop is not None:
                pending = in_step_order(pending, saved, running)
            if not pending:
                if not running:
                    break
                time.sleep(0.5)
                continue
            for step, _, name in pending:
                checkpoint = dirs[name] / f"checkpoint-{step - steps_before}"
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
        "steps": steps + steps_before,
        "chosen_run": name,
        "chosen_step": chosen,
        "checkpoint": str(dirs[name] / f"checkpoint-{chosen - steps_before}"),
        "last_checkpoint": str(checkpoints(dirs[name])[-1]),
        "validation": {n: {str(s): a for s, a in sorted(curve.items())} for n, curve in history.items()},
    }


def in_step_order(
    pending: list[tuple[int, int, str]], saved: dict[str, list[int]], running: set[str]
) -> list[tuple[int, int, str]]:
    """The checkpoints (step, run index, run) that can be scored now without a faster run getting ahead of a
    slower one: a stop rule ends every run at the first checkpoint that meets it, so runs racing to a target
    are scored in step order across all of them (at one step, in the order they were given); a checkpoint
    waits until every run still training has saved that step too. Then the run that wins is the one that
    reached the target in fewer steps, on any machine, not the one that happened to train faster."""
    ready = []
    for step, index, name in pending:
        if any(not saved[other] or saved[other][-1] < step for other in running - {name}):
            break
        ready.append((step, index, name))
    return ready


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
