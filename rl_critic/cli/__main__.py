"""`python -m rl_critic.cli ...` is `rl-critic ...` (the demo runs its commands this way)."""

import sys

from rl_critic.cli import main

sys.exit(main())
