"""rl-critic: train and use critic vision-language models, R1-style, on Hugging Face TRL."""

__version__ = "0.1.0"
