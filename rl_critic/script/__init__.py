"""What every rl-critic script shares, below the command line: a recipe (flags + `--config FILE.yaml`)
parsed into dataclasses (`parsing`), numbers checked once (`numbers`), shipped recipes found (`recipes`),
and `main(argv)` run with one-line errors (`run`).

`cli/` and `train/` both stand on it, and it imports neither: each `train/<method>.py` is a TRL-style
script (`make_parser()` + `main(parsed args)`) that `python -m rl_critic.train.<method>` runs without the CLI.
"""
