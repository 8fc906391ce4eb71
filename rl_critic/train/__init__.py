"""Training methods, one flat TRL-style script each (parse -> load -> train -> save): `sft`, `dpo`, `grpo`,
`critic_dpo`; the pieces they share (`common`) and the GRPO trainer that fixes LLaVA-OneVision's
`batch_num_images` (`batch_num_images`)."""
