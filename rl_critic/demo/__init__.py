"""`rl-critic demo`: the whole pipeline on synthetic data, small enough for a CPU in minutes.

`plan` sizes it in steps (the same numbers on any machine), `runner` runs the public commands as
subprocesses (logged, replayable), `pipeline` chains the stages, `report` writes REPORT.md and the plots.
"""
