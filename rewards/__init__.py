"""TRL-compatible reward functions for critic training (format, preference, pointwise, answer accuracy).

Each function has TRL's signature `fn(prompts, completions, completion_ids=None, **kwargs) -> list[float | None]`
and is importable by dotted path, so recipes work with both `rl-critic train grpo` and `trl grpo`.
"""
