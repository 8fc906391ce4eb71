"""What the training entry points share: data loading, column checks, pre-flight, resume, saving.

Each method module (`sft`, `dpo`, `grpo`, `critic_dpo`) stays a flat TRL-style script (`make_parser()` +
`main(parsed args)`: load -> train -> save); the pieces that are the same for every method live here, once.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

from trl import ScriptArguments

from data_converters.columns import GRADED_COLUMNS, TRAINER_COLUMNS, data_kind
from data_converters.image_urls import image_urls_field
from data_converters.images import images_root_field
from rl_critic.ground.errors import UserError, first_line
from rl_critic.ground.files import OutputClaim, check_replaceable, mark_owner, owner_marker
from rl_critic.script.parsing import renamed
from rl_critic.script.recipes import resolve_data
from rl_critic.train.tracking import check_tracking

logger = logging.getLogger("rl_critic")


@dataclass
class TrainScriptArguments(ScriptArguments):
    """TRL's script fields (`dataset_name`, `dataset_config`, `dataset_train_split`, ...) plus ours."""

    dataset_name: str | None = field(
        default=None,
        metadata={
            "help": "Training data: a folder written by `rl-critic convert`, a parquet/JSONL file, a "
            "save_to_disk folder, or a hub dataset id."
        },
    )
    extra_datasets: list[str] = field(
        default_factory=list,
        metadata={
            "help": "More training data (same kinds as dataset_name) appended to it, e.g. `sft-policy` "
            "answers beside `sft-r1` critic rows; the columns must match. Shuffled together by the trainer."
        },
    )
    limit: int | None = field(
        default=None,
        metadata={
            "help": "Use only the first N training rows (quick runs, smoke tests).",
            "aliases": renamed("max_train_samples"),
        },
    )
    images_root: str | None = images_root_field()
    image_urls: str = image_urls_field()
    preflight_rows: int = field(
        default=64,
        metadata={
            "help": "Rows checked before training for prompts (image tokens + text) over the length "
            "budget; 0 disables the check."
        },
    )


def check_columns(dataset, method: str, graded: bool = False) -> None:
    """One clear line, before any model loads, when the data is not what `method` trains on (its columns:
    `columns.TRAINER_COLUMNS`; a GRPO run whose rewards score against `solution` needs that too)."""
    columns = set(dataset.column_names)
    missing = (GRADED_COLUMNS if graded else TRAINER_COLUMNS[method]) - columns
    if missing:
        raise UserError(
            f"this looks like {data_kind(columns)}; `rl-critic train {method}` needs the `{method}` "
            f"output of `rl-critic convert` (missing column(s): {', '.join(sorted(missing))})"
        )
    check_special_tokens(dataset)


def load_train_dataset(script_args: TrainScriptArguments, model_args=None):
    """The training split (plus `extra_datasets`), images decoded, optionally cut to `limit`,
    and every image bounded to the model arguments' `min_pixels`/`max_pixels` as it is read."""
    from data_converters.io import load_any
    from rl_critic.models.media import MediaBudget
    from rl_critic.models.vision import bound_dataset_images

    if not script_args.dataset_name:
        raise UserError("no training data: set dataset_name in the recipe or pass --dataset_name")
    script_args.dataset_name = resolve_data(script_args.dataset_name)
    dataset = load_any(script_args.dataset_name, script_args.dataset_config, script_args.dataset_train_split)
    if script_args.extra_datasets:
        from datasets import concatenate_datasets

        parts = [dataset]
        for extra in script_args.extra_datasets:
            part = load_any(extra, None, script_args.dataset_train_split)
            if set(part.column_names) != set(dataset.column_names):
                raise UserError(
                    f"extra dataset {extra} has columns {sorted(part.column_names)}, "
                    f"but {script_args.dataset_name} has {sorted(dataset.column_names)}"
                )
            parts.append(part.select_columns(dataset.column_names).cast(dataset.features))
        dataset = concatenate_datasets(parts)
    if script_args.limit is not None:
        dataset = dataset.select(range(min(script_args.limit, len(dataset))))
    if len(dataset) == 0:
        raise UserError(f"training data {script_args.dataset_name} is empty")
    if model_args is None:
        return dataset
    return bound_dataset_images(dataset, MediaBudget.of(model_args), script_args.image_urls)


def check_special_tokens(dataset) -> None:
    """One line naming the first row whose text holds a model's own special token (`data_converters.placeholders`:
    the processor would fail on that row mid-run); `convert` refuses such rows, other data is checked here."""
    from data_converters.placeholders import special_token_problem, strings_in

    texts = [column for column in dataset.column_names if column not in ("image", "images")]
    for start, batch in enumerate(dataset.select_columns(texts).iter(batch_size=1000)):
        for offset, cells in enumerate(zip(*batch.values())):
            problem = special_token_problem(*(text for cell in cells for text in strings_in(cell)))
            if problem:
                row = f"row id {batch['id'][offset]!r}" if "id" in batch else f"row {start * 1000 + offset}"
                raise UserError(f"training data {row}: {problem}")


def prompt_lengths(dataset, processor, column: str, rows: int, max_characters: int | None = None) -> list[int | None]:
    """Token lengths (image and video tokens included) of the first `rows` conversations in `column`; None for a row
    whose text is over `max_characters`, which is not tokenized (a 200 MB row would take gigabytes)."""
    from data_converters.columns import VIDEO_COLUMN, VIDEO_FPS_COLUMN
    from rl_critic.models.chat_template import conversation_characters, render_chat
    from rl_critic.models.media import cell_videos, video_metadata

    lengths: list[int | None] = []
    image_column = "images" if "images" in dataset.column_names else "image"
    for row in dataset.select(range(min(rows, len(dataset)))):
        messages = row[column]
        if max_characters is not None and conversation_characters(messages) > max_characters:
            lengths.append(None)
            continue
        images = row.get(image_column)
        images = images if isinstance(images, list) else [images] if images is not None else []
        videos = cell_videos(row.get(VIDEO_COLUMN), row.get(VIDEO_FPS_COLUMN))
        generation = messages[-1]["role"] != "assistant"
        text = render_chat(processor, messages, add_generation_prompt=generation)
        shown = {"videos": [video.frames for video in videos], **video_metadata(videos)} if videos else {}
        encoded = processor(text=[text], images=[images] if images else None, return_tensors="pt", **shown)
        lengths.append(int(encoded["input_ids"].shape[1]))
    return lengths


def preflight(dataset, processor, column: str, budget: int | None, rows: int, what: str) -> None:
    """Warn when sampled rows exceed the length budget: truncation would cut image tokens and fail later
    with "Image features and image tokens do not match" (or silently drop the answer)."""
    from rl_critic.generation.prompts import MAX_CHARACTERS_PER_TOKEN

    if not budget or rows <= 0:
        return
    lengths = prompt_lengths(dataset, processor, column, rows, budget * MAX_CHARACTERS_PER_TOKEN)
    over = [n for n in lengths if n is None or n > budget]
    if over:
        tokenized = [n for n in over if n is not None]
        longest = f"longest {max(tokenized)}" if tokenized else f"over {budget * MAX_CHARACTERS_PER_TOKEN:,} characters"
        logger.warning(
            "%d of %d checked rows need more than %s=%d tokens (%s, image tokens included): raise it, "
            "or lower max_pixels to spend fewer tokens per image.",
            len(over),
            len(lengths),
            what,
            budget,
            longest,
        )


def resume_checkpoint(value: str | None, output_dir: str) -> str | None:
    """`auto`/`true` -> the last checkpoint in output_dir (or None to start fresh); a path is checked
    (`check_checkpoint`) and kept."""
    if value is None or str(value).lower() in ("", "false", "none"):
        return None
    if str(value).lower() in ("auto", "true"):
        return last_complete_checkpoint(output_dir)
    check_checkpoint(value)
    return value


# What a checkpoint holds beside its weights, all written with `torch.save` (a zip archive); only those present
# are checked, since which ones a trainer writes depends on its settings.
TORCH_STATE_FILES = ("optimizer.pt", "scheduler.pt", "rng_state.pth")


def check_checkpoint(path: str) -> None:
    """One line naming what is wrong with a checkpoint to resume from, before any model loads: not there, a file,
    no `trainer_state.json` (written last: a save that never finished) or one that does not parse, weights whose
    safetensors header does not cover the file (cut short), a torch state file that is not a complete archive.
    The contents are only opened as far as their headers: a 7B optimizer state is not read to check it."""
    import zipfile

    from safetensors import SafetensorError, safe_open

    folder = Path(path)
    if not folder.exists():
        raise UserError(f"checkpoint to resume from not found: {path}")
    if not folder.is_dir():
        raise UserError(f"--resume_from_checkpoint {path} is a file; name a checkpoint folder (checkpoint-N)")
    state = folder / "trainer_state.json"
    if not state.is_file():
        raise UserError(
            f"{path} is not a complete checkpoint: it has no trainer_state.json (the trainer writes it last)"
        )
    try:
        step = json.loads(state.read_text(encoding="utf-8")).get("global_step")
    except (ValueError, AttributeError, UnicodeDecodeError) as err:
        raise UserError(f"{state} does not parse ({first_line(err)}): the checkpoint is damaged") from None
    if not isinstance(step, int):
        raise UserError(f"{state} has no global_step: the checkpoint is damaged")
    weights = sorted(folder.glob("*.safetensors"))
    if not weights and not any(folder.glob("*.bin")):
        raise UserError(f"{path} holds no model weights (*.safetensors)")
    for file in weights:
        try:
            with safe_open(str(file), "pt"):
                pass
        except (SafetensorError, OSError) as err:
            raise UserError(f"{file} cannot be read ({first_line(err)}): the checkpoint is damaged") from None
    for name in TORCH_STATE_FILES:
        file = folder / name
        if file.exists() and not zipfile.is_zipfile(file):
            raise UserError(f"{file} is not a complete torch save (corrupt or cut short): the checkpoint is damaged")


def last_complete_checkpoint(output_dir: str) -> str | None:
    """The newest `checkpoint-N` in output_dir that was written to the end, or None.

    The Trainer writes `trainer_state.json` after the weights, optimizer and RNG states, so a run killed
    while saving leaves a checkpoint without it; transformers' `get_last_checkpoint` would pick that one and
    the resume would fail. Skipped checkpoints are named in the log.
    """
    from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

    if not os.path.isdir(output_dir):
        return None
    steps = []
    for name in os.listdir(output_dir):
        step = name.removeprefix(f"{PREFIX_CHECKPOINT_DIR}-")
        if step != name and step.isdigit() and os.path.isdir(os.path.join(output_dir, name)):
            steps.append((int(step), os.path.join(output_dir, name)))
    for _, path in sorted(steps, reverse=True):
        if os.path.isfile(os.path.join(path, "trainer_state.json")):
            return path
        logger.warning("resume: skipping %s, written only in part (no trainer_state.json)", path)
    return None


# Marks a folder as an earlier `rl-critic train` output (`files.owner_marker`): a later run may write into it
# (resume, retrain), but never into a folder that holds anything else.
TRAIN_MARKER = owner_marker("train")


def prepare_run(training_args) -> None:
    """What every method does first, before anything loads: refuse an `output_dir` whose files the trainer
    would overwrite (the working directory or a parent of it, the home folder, a non-empty folder that is not
    an earlier training output: TRL writes `README.md`, `config.json`, ... over what is there), and make the
    settings safe for a machine without CUDA (`cpu_safe`); a `report_to` tracker that is not installed, or a
    `push_to_hub` without a token or a hub, fails here in one line (`tracking.py`). The main process claims
    `output_dir` for the whole run (`OutputClaim`): a second run into it is refused while this one lives, so two
    runs never save a mix of two models, nor does one's clean-up remove what the other saved."""
    check_replaceable(training_args.output_dir, TRAIN_MARKER)
    resume_checkpoint(training_args.resume_from_checkpoint, training_args.output_dir)  # a bad one: now, not later
    check_tracking(training_args)  # a missing tracker or an unreachable hub: now, not after loading or training
    if int(os.environ.get("RANK", "0")) == 0:  # one claim a run, however many processes it has
        OutputClaim(training_args.output_dir).acquire()
    cpu_safe(training_args)


def claim_output_dir(output_dir: str) -> None:
    """Create `output_dir` (checked by `prepare_run`; the trainer may have written its first files there
    since) and mark it as a training output, as training starts."""
    out = Path(output_dir).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    mark_owner(out, TRAIN_MARKER)


def cpu_safe(training_args) -> None:
    """TRL configs default to bf16 and gradient checkpointing; on a machine without CUDA, bf16 would fail."""
    import torch

    if not torch.cuda.is_available() and (training_args.bf16 or training_args.fp16):
        logger.warning("no CUDA device: turning off bf16/fp16 mixed precision")
        training_args.bf16 = training_args.fp16 = False


def announce(trainer, method: str, rows: int) -> None:
    """One line before training: what runs where (the first thing to check on a cluster)."""
    accelerator = trainer.accelerator
    accelerator.print(
        f"{method}: {rows} training rows, {accelerator.num_processes} process(es) on {accelerator.device.type}, "
        f"output -> {trainer.args.output_dir}"
    )


def train_and_save(trainer, method: str, rows: int, save: bool = True) -> None:
    """Announce, train (resuming when asked), then save model and processor for `--model DIR` (`save=False`: the
    caller saves the model its own way, as critic-DPO merges each round's)."""
    announce(trainer, method, rows)
    args = trainer.args
    started = time.time()
    if trainer.accelerator.is_main_process:
        claim_output_dir(args.output_dir)
    try:
        trainer.train(resume_from_checkpoint=resume_checkpoint(args.resume_from_checkpoint, args.output_dir))
        finish(trainer, args.output_dir, method, save)
    except BaseException:  # a full disk or Ctrl-C while saving: no half-written weights left to be loaded later
        if trainer.accelerator.is_main_process:
            remove_incomplete_saves(args.output_dir, started)
        raise


def remove_incomplete_saves(output_dir: str, since: float) -> None:
    """Delete what a failed run began to save in `output_dir` after `since`: checkpoints without
    `trainer_state.json` (written last) and the final weights (written before the run could end)."""
    folder = Path(output_dir)
    if not folder.is_dir():
        return
    for checkpoint in folder.glob("checkpoint-*"):
        if (
            checkpoint.is_dir()
            and not (checkpoint / "trainer_state.json").exists()
            and checkpoint.stat().st_mtime >= since
        ):
            shutil.rmtree(checkpoint, ignore_errors=True)
            logger.warning("removed %s: the run failed while writing it", checkpoint)
    for weights in [*folder.glob("*.safetensors"), *folder.glob("*.safetensors.index.json")]:
        if weights.stat().st_mtime >= since:
            weights.unlink()
            logger.warning("removed %s: the run failed before its final save completed", weights)
    card = folder / "README.md"  # TRL's model card, of a model that was not saved
    if card.is_file() and card.stat().st_mtime >= since and not any(folder.glob("*.safetensors")):
        card.unlink()
    release_empty_output_dir(folder)


def release_empty_output_dir(folder: Path) -> None:
    """Remove a training output folder that holds nothing but its marker (a run that saved nothing)."""
    if folder.is_dir() and [path.name for path in folder.iterdir()] == [TRAIN_MARKER]:
        (folder / TRAIN_MARKER).unlink()
    with suppress(OSError):  # not empty: a checkpoint, or what an earlier run saved
        folder.rmdir()


def outcome(trainer, method: str) -> str:
    """One line on what the run changed, from its logs: steps, loss and (GRPO) reward first -> last, and a
    plain statement when the policy could not have moved (every logged group had one reward: advantages 0)."""
    history = trainer.state.log_history
    parts = [f"{method}: {trainer.state.global_step} steps"]
    for key in ("loss", "reward"):
        values = [entry[key] for entry in history if isinstance(entry.get(key), (int, float))]
        if values:
            parts.append(f"{key} {values[0]:.4g} -> {values[-1]:.4g}")
    zero_std = [entry["frac_reward_zero_std"] for entry in history if "frac_reward_zero_std" in entry]
    counts = getattr(trainer, "counts", None)  # GRPO's running totals (rl_critic.train.dynamic_sampling)
    if counts is not None and counts.generations:
        from rl_critic.train.dynamic_sampling import cost_line

        parts.append(cost_line(counts))
    line = "; ".join(parts)
    sampled = getattr(trainer, "dynamic_sampling", None) is not None
    if sampled and counts.budget_spent:
        line += f"; the dynamic sampling budget ran out on {counts.budget_spent} of {counts.generations} steps"
    if sampled and counts.generations and counts.zero_spread_steps == counts.generations:
        line += "; not one group had rewards that differ: nothing was learned (GRPO advantages were 0)"
    elif not sampled and zero_std and min(zero_std) >= 1.0:
        line += "; every group had one reward in every logged step: nothing was learned (GRPO advantages were 0)"
    return line


def finish(trainer, output_dir: str, method: str = "train", save: bool = True) -> None:
    """Save the final model and processor where a later command can load them with `--model DIR`, then say what
    the run changed (`outcome`): the run's last line."""
    if save:
        trainer.save_model(output_dir)
        if trainer.accelerator.is_main_process:
            trainer.processing_class.save_pretrained(output_dir)
            trainer.accelerator.print(f"saved model and processor to {output_dir}")
    trainer.accelerator.wait_for_everyone()
    trainer.accelerator.print(outcome(trainer, method))
    if hasattr(trainer, "end"):
        trainer.end()
