"""The ground every package stands on: the one error type the CLI prints as one line (`errors`, with the
redaction of secrets), writing outputs safely (`files`: staged writes, markers, one run per output) and hub
look-ups (`hub`). It imports nothing of the project, so `data_converters` and `rewards` below `rl_critic`'s
other packages may use it too.
"""
