"""`rl-critic` sub-commands, one module each (see `rl_critic.cli.COMMANDS`)."""
