"""What the commands with sub-commands share: `rl-critic train sft|dpo|grpo|critic-dpo`,
`rl-critic eval critic|policy` dispatch to one module's `main`, and every command's `--help` description
is the first line of its module docstring."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def docstring_summary(doc: str | None) -> str:
    """The description after `rl-critic <command>: ` on a module docstring's first line."""
    first = (doc or "").strip().splitlines()[0] if doc else ""
    return first.split(": ", 1)[1] if ": " in first else first


def dispatch(prog: str, choices: dict[str, tuple[str, str]], argv: Sequence[str], what: str, epilog: str = "") -> int:
    """A command with sub-commands (`train sft|...`, `eval critic|policy`): run the chosen module's `main`."""
    import importlib

    width = max(len(name) for name in choices)
    usage = (
        f"usage: {prog} {{{','.join(choices)}}} [--config FILE.yaml] [--field value ...]\n\n"
        + "\n".join(f"  {name:<{width}}  {text}" for name, (_, text) in choices.items())
        + f"\n\n`{prog} <{what}> --help` lists its main fields, `--help-all` every one.\n{epilog}"
    )
    if not argv or argv[0] in ("-h", "--help"):
        print(usage, end="")
        return 0
    if argv[0] not in choices:
        print(f"{prog}: error: unknown {what} {argv[0]!r}; choose from: {', '.join(choices)}", file=sys.stderr)
        return 2
    module = importlib.import_module(choices[argv[0]][0])
    if hasattr(module, "make_parser"):  # a TRL-style script (`train/<method>.py`): parse here, then main(parsed)
        from rl_critic.script.parsing import parse_args

        return int(module.main(*parse_args(module.make_parser(), argv[1:])) or 0)
    return module.main(list(argv[1:]))
