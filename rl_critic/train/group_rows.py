"""Rows of GRPO generation batches, picked and joined: what dynamic sampling trains on.

TRL's `GRPOTrainer._generate_and_score_completions` returns one generation batch as a dict of tensors, padded
for that batch alone: prompts on the left, completions (and every per-token tensor: log-probabilities, masks)
on the right, token-type ids over prompt + completion, images flattened across the batch (Qwen's
`pixel_values` rows per `image_grid_thw`, LLaVA's per image). Dynamic sampling keeps some rows of several such
batches and hands TRL one batch of the same form, so `take_rows` re-pads each kind of tensor on its own side,
splits and re-joins images with TRL's own helpers (`split_pixel_values_by_grid`), and recounts
`num_items_in_batch` (the loss normaliser TRL's `dapo` loss divides by).
"""

from __future__ import annotations

from typing import Any

import torch
from trl.trainer.utils import split_pixel_values_by_grid, unsplit_pixel_values_by_grid

PROMPT_KEYS = {"prompt_ids": "pad", "prompt_mask": 0}  # left-padded, as TRL pads prompts
PROMPT_AND_COMPLETION_KEYS = ("token_type_ids", "mm_token_type_ids")  # one value per prompt + completion token
COMPLETION_PAD = {"completion_ids": "pad", "tool_mask": 1}  # right-padded; every other per-token tensor pads with 0
RECOUNTED = "num_items_in_batch"


def batch_rows(batch: dict[str, Any]) -> int:
    """How many completions (rows) a generation batch holds."""
    return int(batch["advantages"].shape[0])


def take_rows(parts: list[tuple[dict[str, Any], list[int]]], pad_token_id: int) -> dict[str, Any]:
    """One generation batch made of the listed rows of each part, in order (see the module docstring).
    `num_items_in_batch` is left out: it counts tokens over every process, so the caller recounts it. Widths
    stay multiples of TRL's `pad_to_multiple_of`: each part's are, and so is the widest."""
    split_parts = [(split_pixel_values_by_grid(batch), rows) for batch, rows in parts]
    keys = [key for key in split_parts[0][0] if key != RECOUNTED]
    joined: dict[str, Any] = {}
    for key in keys:
        values = [(batch[key], batch, rows) for batch, rows in split_parts]
        first = values[0][0]
        if first is None:
            joined[key] = None
        elif isinstance(first, list):  # one item per row (images of a row, image counts)
            items = [value[i] for value, _, rows in values for i in rows]
            joined[key] = _same_shape(items) if items and isinstance(items[0], torch.Tensor) else items
        elif key in PROMPT_KEYS:
            joined[key] = _pad_rows(
                [value[rows] for value, _, rows in values], _fill(PROMPT_KEYS[key], pad_token_id), "left"
            )
        elif key in PROMPT_AND_COMPLETION_KEYS:
            prompts = [value[rows, : batch["prompt_ids"].shape[1]] for value, batch, rows in values]
            completions = [value[rows, batch["prompt_ids"].shape[1] :] for value, batch, rows in values]
            joined[key] = torch.cat([_pad_rows(prompts, 0, "left"), _pad_rows(completions, 0, "right")], dim=1)
        else:
            fill = _fill(COMPLETION_PAD.get(key, 0), pad_token_id)
            joined[key] = _pad_rows([value[rows] for value, _, rows in values], fill, "right")
    return unsplit_pixel_values_by_grid(joined)


def loss_tokens(batch: dict[str, Any]) -> torch.Tensor:
    """Completion tokens the loss counts in this process's rows (TRL's `num_items_in_batch` before the gather)."""
    mask = batch["completion_mask"]
    if batch.get("tool_mask") is not None:
        mask = mask * batch["tool_mask"]
    return mask.sum()


def _fill(value, pad_token_id: int):
    return pad_token_id if value == "pad" else value


def _pad_rows(tensors: list[torch.Tensor], fill, side: str) -> torch.Tensor:
    """Row blocks whose widths (dimension 1) may differ -> one tensor, padded with `fill` on `side`."""
    if len({tuple(t.shape[1:]) for t in tensors}) == 1:
        return torch.cat(tensors, dim=0)
    shape = [max(t.shape[d] for t in tensors) for d in range(1, tensors[0].dim())]
    out = tensors[0].new_full((sum(t.shape[0] for t in tensors), *shape), fill)
    start = 0
    for tensor in tensors:
        width = tensor.shape[1]
        columns = slice(shape[0] - width, shape[0]) if side == "left" else slice(0, width)
        out[(slice(start, start + tensor.shape[0]), columns, *(slice(0, s) for s in tensor.shape[2:]))] = tensor
        start += tensor.shape[0]
    return out


def _same_shape(items: list[torch.Tensor]) -> list[torch.Tensor]:
    """Per-row image tensors padded with 0 to one trailing shape, so TRL can concatenate them (LLaVA-OneVision's
    patch counts may differ between two generation batches)."""
    if len({tuple(item.shape[1:]) for item in items}) == 1:
        return items
    shape = [max(item.shape[d] for item in items) for d in range(1, items[0].dim())]
    padded = []
    for item in items:
        out = item.new_zeros((item.shape[0], *shape))
        out[(slice(None), *(slice(0, s) for s in item.shape[1:]))] = item
        padded.append(out)
    return padded
