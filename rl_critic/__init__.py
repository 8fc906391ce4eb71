"""rl-critic: train and use critic vision-language models, R1-style, on Hugging Face TRL."""

from rl_critic.script.noise import quiet_library_loggers

__version__ = "0.1.0"

quiet_library_loggers()  # before any command imports bitsandbytes (through TRL and peft)
