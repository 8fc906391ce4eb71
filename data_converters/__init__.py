"""Converters from critic preference data (LLaVA-Critic-113k, reward benchmarks, generic preference pairs)
into verifiable targets and SFT / DPO / GRPO / eval datasets; one module per source."""
