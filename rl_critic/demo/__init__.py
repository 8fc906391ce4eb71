"""`rl-critic demo`: the whole pipeline on synthetic data, small enough for a CPU in minutes.

`plan` sizes it from a time budget, `runner` runs the public commands as subprocesses (logged, replayable),
`pipeline` chains the stages, `report` writes REPORT.md and the plots.
"""
