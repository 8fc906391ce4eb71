"""GRPO with `use_vllm: true`: two things TRL 1.16 leaves undone.

A vision-language policy must never sample its image token: the training forward counts image tokens in prompt
*and* completion, so one sampled `<|image_pad|>` fails the step with `Image features and image tokens do not
match`. TRL suppresses it for HF generation (`suppress_tokens`) but not for vLLM; `suppress_image_token` does it
there with a logit bias (seen with a random tiny policy, which samples any token; dynamic sampling, drawing more
completions, met it first).

On a CPU with `vllm_mode: colocate` the weight sync TRL does fails.

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


def suppress_image_token(trainer) -> None:
    """vLLM rollouts never sample the model's image token (see the module docstring); a bias the user set for
    that token in `generation_kwargs` is kept."""
    generation = getattr(trainer, "vllm_generation", None)
    token = getattr(getattr(trainer.model, "config", None), "image_token_id", None)
    if generation is None or token is None:
        return
    kwargs = generation.generation_kwargs
    kwargs["logit_bias"] = {token: -100.0, **(kwargs.get("logit_bias") or {})}


def use_cpu_sync(trainer) -> None:
    """Give a CPU-colocated trainer's vLLM generation the sync above (a no-op elsewhere)."""
    if needs_cpu_sync(trainer):
        generation = trainer.vllm_generation
        generation.sync_weights = types.MethodType(sync_weights_on_cpu, generation)
