"""GRPO with `use_vllm: true, vllm_mode: colocate` on a CPU: the weight sync TRL 1.16 does fails there.

TRL pushes the trained weights into the colocated vLLM engine one tensor at a time through the model's
`load_weights`, which on vLLM's CPU backend stops at the first one (`'Parameter' object has no attribute
'weight_loader'`: the CPU backend repacks its weights after loading, dropping their loaders). vLLM's own
in-place reload, `model_runner.reload_weights(weights_iterator=...)`, takes the same (name, tensor) stream
and re-runs the loading and repacking. The engine's encoder and multi-modal caches are reset too (the
scheduler's record of them as well as the worker's): otherwise an image seen before the sync is scheduled as
still encoded and the step fails with `Encoder cache miss`. Then the prefix cache is reset, as TRL does.
On a GPU nothing changes: TRL's own sync runs.
"""

from __future__ import annotations

import types


def needs_cpu_sync(trainer) -> bool:
    """True when `trainer` colocates vLLM and trains on a CPU."""
    args = trainer.args
    generation = getattr(trainer, "vllm_generation", None)
    return bool(
        args.use_vllm and args.vllm_mode == "colocate" and generation is not None and trainer.model.device.type == "cpu"
    )


def sync_weights_on_cpu(generation) -> None:
    """`VLLMGeneration.sync_weights` for vLLM's CPU backend (see the module docstring)."""
    runner = generation.llm.llm_engine.model_executor.driver_worker.model_runner
    runner.reload_weights(weights_iterator=generation._iter_named_params())
    engine = generation.llm.llm_engine
    engine.reset_encoder_cache()  # the scheduler's record of cached encodings, not only the worker's
    engine.reset_mm_cache()
    generation.llm.reset_prefix_cache()


def use_cpu_sync(trainer) -> None:
    """Give a CPU-colocated trainer's vLLM generation the sync above (a no-op elsewhere)."""
    if needs_cpu_sync(trainer):
        generation = trainer.vllm_generation
        generation.sync_weights = types.MethodType(sync_weights_on_cpu, generation)
