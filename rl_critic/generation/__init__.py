"""Generation: conversations with images in, texts out, through one of three engines.

`settings` (what to sample, which engine), `prompts` (the checks every prompt passes before a model sees it),
`hf` (batched `model.generate` in this process), `vllm_engine` (vLLM's offline `LLM`), `served` (any
OpenAI-compatible server), `engines` (the `Engine` every command and the `critic_judge` reward talk to). The
policy samples and the critic judges through the same code; `critique/` holds what a critic does with it.
"""
