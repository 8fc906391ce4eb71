"""One command-line convention for every command: TRL's `TrlParser` over dataclasses.

Flags are the dataclass fields in snake_case, with kebab-case aliases (`--max_new_tokens` and
`--max-new-tokens`); `--config FILE.yaml` is a flat YAML file of the same fields (a recipe), and flags
given beside it override it. Dataclasses with an `_argument_group_name` get their own `--help` section.
Errors are one line.
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Sequence

from data_converters.errors import UserError


def one_line_error(parser: argparse.ArgumentParser, message: str):
    """argparse's `error`, minus the usage block: one line, exit code 2."""
    parser.exit(2, f"{parser.prog}: error: {message} (see --help)\n")


def dataclass_parser(dataclass_types, prog: str, description: str):
    """A `TrlParser` (flat YAML via `--config`, dataclass fields as flags) with one-line errors and a short
    usage line (argparse's would list every loader and trainer field)."""
    import dataclasses

    from trl import TrlParser

    class Parser(TrlParser):
        def error(self, message: str):
            one_line_error(self, message)

        def set_defaults_with_config(self, **config):
            """A YAML key may be any spelling the command line takes (`model:` = `model_name_or_path:`,
            `max-steps:`, an old name kept as an alias): TRL matches only the field name."""
            return super().set_defaults_with_config(**config_by_field(self, config))

    required = [
        f"--{f.name} {f.name.upper()}"
        for t in dataclass_types
        for f in dataclasses.fields(t)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    usage = " ".join([prog, *required, "[--config FILE.yaml] [--<field> VALUE ...]"])
    epilog = (
        "Every flag is a dataclass field, also spelled with dashes (--max-new-tokens = --max_new_tokens); "
        "--config FILE.yaml sets fields from a flat YAML file, and flags given beside it win."
    )
    return Parser(dataclass_types, prog=prog, description=description, usage=usage, epilog=epilog)


def renamed(*old_names: str) -> list[str]:
    """The `aliases` of a field whose name changed: each old name, snake and kebab, keeps working on the
    command line and in YAML (`num_candidates` -> `n`)."""
    return sorted({f"--{name}" for old in old_names for name in (old, old.replace("_", "-"))})


def config_by_field(parser: argparse.ArgumentParser, config: dict) -> dict:
    """`config` with every key that is another spelling of a field (an alias, the kebab form) renamed to the
    field; a field set twice under two spellings is an error, not a silent pick."""
    fields = {option[2:]: action.dest for action in parser._actions for option in action.option_strings}
    by_field: dict = {}
    spelled: dict[str, str] = {}
    for key, value in config.items():
        name = fields.get(str(key), key)
        if name in by_field:
            raise UserError(f"the config file sets {name} twice (as {spelled[name]} and as {key})")
        by_field[name], spelled[name] = value, str(key)
    return by_field


def parse_dataclasses(parser, argv: Sequence[str]):
    """Parse flags and `--config FILE`; a bad config file becomes a `UserError`, not a traceback."""
    import yaml

    from rl_critic.script.recipes import resolve_config

    argv = list(argv)
    if argv and argv[-1] == "--config":
        raise UserError("--config needs a YAML file")
    for i, arg in enumerate(argv):  # a shipped recipe's name works outside a clone too
        if arg == "--config" and i + 1 < len(argv):
            argv[i + 1] = resolve_config(argv[i + 1])
            check_config_file(argv[i + 1])
        elif arg.startswith("--config="):
            argv[i] = "--config=" + resolve_config(arg[len("--config=") :])
            check_config_file(argv[i][len("--config=") :])
    try:
        return parser.parse_args_and_config(argv)
    except yaml.YAMLError as err:
        raise UserError(f"cannot parse config file: {str(err).splitlines()[0]}") from err
    except ValueError as err:  # TrlParser: not a mapping, or keys no dataclass knows
        message = str(err).splitlines()[0]
        if message.startswith("Unknown arguments from config file"):
            unknown = re.findall(r"'--([^']+)'", message)
            message = f"the config file sets fields {parser.prog} does not have: {', '.join(unknown)}"
        raise UserError(message) from err


MAX_CONFIG_BYTES = 1_000_000  # a recipe is a few kB
MAX_CONFIG_NODES = 100_000  # YAML values after expanding aliases


def check_config_file(path: str) -> None:
    """Refuse, fast, config files no recipe is: over 1 MB, or whose aliases expand past 100,000 values (a
    "billion laughs" file loads in microseconds as shared references, then hangs the parser for minutes
    at 13 GB when its values are turned into arguments). Missing files are left to the parser's own error."""
    import yaml

    try:
        if os.path.getsize(path) > MAX_CONFIG_BYTES:
            raise UserError(f"config file {path} is over {MAX_CONFIG_BYTES // 1_000_000} MB: not a recipe")
        with open(path, encoding="utf-8") as handle:
            root = yaml.compose(handle, Loader=yaml.SafeLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return
    sizes: dict[int, int] = {}

    def expanded(node) -> int:
        if id(node) not in sizes:
            sizes[id(node)] = 1  # also ends a (recursive) alias cycle
            if isinstance(node, yaml.SequenceNode):
                sizes[id(node)] = 1 + sum(expanded(child) for child in node.value)
            elif isinstance(node, yaml.MappingNode):
                sizes[id(node)] = 1 + sum(expanded(key) + expanded(value) for key, value in node.value)
        return sizes[id(node)]

    if root is not None and expanded(root) > MAX_CONFIG_NODES:
        raise UserError(
            f"config file {path} expands (through YAML aliases) to over {MAX_CONFIG_NODES:,} values: not a recipe"
        )


def parse_args(parser, argv: Sequence[str]):
    """`parse_dataclasses`, numbers validated: the dataclass instances, in the order of the parser's types."""
    from rl_critic.script.numbers import validate_numbers

    parsed = parse_dataclasses(parser, argv)
    validate_numbers(parsed)
    return parsed


def parse(dataclass_types, prog: str, argv: Sequence[str], description: str = ""):
    """`dataclass_parser` + `parse_args`, for a command that builds its parser in one go."""
    return parse_args(dataclass_parser(dataclass_types, prog, description), argv)
