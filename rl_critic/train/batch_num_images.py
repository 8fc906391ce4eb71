"""GRPO that hands LLaVA-OneVision its `batch_num_images`: a fix for a TRL 1.16 bug, in our layer.

LLaVA-OneVision tiles a lone image (anyres) but not images that share a prompt, and it learns which case
applies from `batch_num_images`. TRL's GRPOTrainer passes that to `generate` but drops it from the
training forward (`_get_per_token_logps_and_entropies`), so a prompt with 2+ images is read as one tiled
image and the forward fails with `split_with_sizes expects split_sizes to sum exactly to ...`.

A second face of the same gap: where TRL forwards the processor outputs wholesale (the reference-model
pass when `beta > 0`, the old-policy pass when generations are reused), `batch_num_images` *is* in them,
and `_get_per_token_logps_and_entropies` rejects it (`unexpected keyword argument 'batch_num_images'`),
so GRPO with a KL term fails on LLaVA-OneVision even with one image per prompt.

`BatchNumImagesGRPOTrainer` takes that argument off and puts the right values back: it knows the per-sample
image counts TRL already computed (`num_images`), splits them into the same chunks TRL's loop uses, and
a forward pre-hook on the LLaVA-OneVision module hands each chunk's counts to its forward call. Nothing
else changes, and models that do not take `batch_num_images` (Qwen2.5-VL) are untouched.
"""

from __future__ import annotations

import inspect

import torch

from rl_critic.train.video_batches import VideoGRPOTrainer


def _needs_batch_num_images(model) -> torch.nn.Module | None:
    """The innermost module whose forward takes `batch_num_images` (LLaVA-OneVision), if any."""
    for module in model.modules():
        if type(module).__name__ == "LlavaOnevisionForConditionalGeneration":
            if "batch_num_images" in inspect.signature(module.forward).parameters:
                return module
    return None


class BatchNumImagesGRPOTrainer(VideoGRPOTrainer):
    """`trl.GRPOTrainer` (with video, `VideoGRPOTrainer`) plus the LLaVA-OneVision multi-image fix described above."""

    def _get_per_token_logps_and_entropies(self, model, input_ids, *args, num_images=None, **kwargs):
        kwargs.pop("batch_num_images", None)  # rebuilt per chunk below
        target = _needs_batch_num_images(model) if num_images is not None else None
        if target is None or kwargs.get("pixel_values") is None:
            return super()._get_per_token_logps_and_entropies(model, input_ids, *args, num_images=num_images, **kwargs)
        batch_size = kwargs.get("batch_size") or (args[2] if len(args) > 2 and args[2] else None) or input_ids.size(0)
        pending = [list(num_images[start : start + batch_size]) for start in range(0, input_ids.size(0), batch_size)]

        def add_counts(module, hook_args, hook_kwargs):
            counts = pending.pop(0) if pending else None
            if counts is not None and hook_kwargs.get("pixel_values") is not None:
                hook_kwargs.setdefault("batch_num_images", torch.tensor(counts, device=input_ids.device))
            return hook_args, hook_kwargs

        handle = target.register_forward_pre_hook(add_counts, with_kwargs=True)
        try:
            return super()._get_per_token_logps_and_entropies(model, input_ids, *args, num_images=num_images, **kwargs)
        finally:
            handle.remove()
