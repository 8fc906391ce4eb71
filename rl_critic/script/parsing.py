"""One command-line convention for every command: TRL's `TrlParser` over dataclasses.

Flags are the dataclass fields in snake_case, with kebab-case aliases (`--max_new_tokens` and
`--max-new-tokens`); `--config FILE.yaml` is a flat YAML file of the same fields (a recipe), and flags
given beside it override it. Dataclasses with an `_argument_group_name` get their own `--help` section.
Errors are one line.
"""

from __future__ import annotations

import argparse
import dataclasses
import enum
import os
import re
import reprlib
import sys
import types
import typing
from collections.abc import Sequence
from typing import Any

from rl_critic.ground.errors import UserError
from rl_critic.script.help import short_help, store_help


def one_line_error(parser: argparse.ArgumentParser, message: str):
    """argparse's `error`, minus the usage block: one line, exit code 2."""
    parser.exit(2, f"{parser.prog}: error: {message} (see --help)\n")


def dataclass_parser(dataclass_types, prog: str, description: str):
    """A `TrlParser` (flat YAML via `--config`, dataclass fields as flags) with one-line errors and a short
    usage line (argparse's would list every loader and trainer field)."""
    import dataclasses

    from trl import TrlParser

    class Parser(TrlParser):
        full_help = False  # `--help-all`: every field; `--help`: `help.short_help`

        def error(self, message: str):
            one_line_error(self, message)

        def format_help(self) -> str:
            return super().format_help() if self.full_help else short_help(self)

        def print_help(self, file=None) -> None:
            text = self.format_help()
            store_help(self.prog, self.full_help, text)  # the next `--help` needs no torch
            (file or sys.stdout).write(text)

        def set_defaults_with_config(self, **config):
            """A YAML key may be any spelling the command line takes (`model:` = `model_name_or_path:`,
            `max-steps:`, an old name kept as an alias): TRL matches only the field name. Each value is
            checked against its field's type (`checked_config`)."""
            return super().set_defaults_with_config(**checked_config(self, config_by_field(self, config)))

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
    parser = Parser(dataclass_types, prog=prog, description=description, usage=usage, epilog=epilog)
    parser.add_argument("--help-all", action=HelpAll, help="show every field, TRL's and transformers' too, and exit")
    return parser


class HelpAll(argparse.Action):
    """`--help-all`: the whole help (every TRL and transformers field), then exit, as `--help` does."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings=option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        parser.full_help = True
        parser.print_help()
        parser.exit()


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
        name = fields.get(key, key)
        if name in by_field:
            raise UserError(f"the config file sets {name} twice (as {spelled[name]} and as {key})")
        by_field[name], spelled[name] = value, str(key)
    return by_field


# Fields that name files and folders: in a YAML file (no shell to expand them) `~` and `$VAR` / `${VAR}` are
# expanded, as a user who writes `output_dir: $HOME/runs/x` means (not a folder named `$HOME`).
PATH_FIELDS = {"model_name_or_path", "dataset_name", "extra_datasets", "critic_model", "images_root", "out", "input"}
PATH_SUFFIXES = ("_dir", "_path", "_file")


def checked_config(parser, config: dict) -> dict:
    """`config` (YAML values by field name) with every value checked against its field's type, as the command
    line's `type=` checks a flag: one line for `seed: 1.5`, `output_dir: [a, b]` or `dataset_name: {path: x}`
    (argparse never checks a default, and a config value becomes one), a choice not among the field's
    choices, and a single value where a list belongs made a one-item list (`reward_funcs: critic` was read
    as the list of its characters). Paths get `~` and environment variables expanded (`PATH_FIELDS`)."""
    fields: dict[str, dataclasses.Field] = {}
    hints: dict[str, Any] = {}
    for dataclass_type in parser.dataclass_types:
        try:
            resolved = typing.get_type_hints(dataclass_type)
        except Exception:  # a forward reference that does not resolve: that class's fields go unchecked
            resolved = {}
        for item in dataclasses.fields(dataclass_type):
            fields[item.name] = item
            hints[item.name] = resolved.get(item.name, Any)
    actions = {action.dest: action for action in parser._actions}
    checked = {}
    for name, value in config.items():
        if name in hints:
            value = _typed(name, value, hints[name], fields[name])
            value = _expanded_paths(name, value)
            _check_choices(name, value, actions.get(name))
        checked[name] = value
    return checked


# Typed as lists, but a single string has its own meaning there: peft reads `lora_target_modules: "regex"` as a
# regular expression over module names (the OneVision recipes rely on it), not as a one-name list.
STRING_MEANS_REGEX = {"lora_target_modules"}


def _typed(name: str, value: Any, hint: Any, field: dataclasses.Field) -> Any:
    if name in STRING_MEANS_REGEX and isinstance(value, str):
        return value
    try:
        return _coerce(value, hint, none_ok=field.default is None)
    except _Mismatch:
        raise UserError(
            f"the config file sets {name} to {reprlib.repr(value)}, but {name} takes {_describe(hint)}"
        ) from None


class _Mismatch(Exception):
    pass


def _coerce(value: Any, hint: Any, none_ok: bool = False) -> Any:
    """`value` as a field of type `hint` takes it (a number for a float, a one-item list for a scalar where a
    list belongs), or `_Mismatch`."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any or hint is object:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for member in (arg for arg in args if arg is not type(None)):
            try:
                return _coerce(value, member)
            except _Mismatch:
                continue
        raise _Mismatch
    if value is None:
        if none_ok:
            return None
        raise _Mismatch
    if origin in (list, tuple) or hint in (list, tuple):
        item = args[0] if args else Any
        return [_coerce(v, item) for v in (value if isinstance(value, list) else [value])]
    if origin is dict or hint is dict:
        if isinstance(value, (dict, str)):
            return value
        raise _Mismatch
    if origin is typing.Literal:
        if value in args:
            return value
        raise _Mismatch
    if hint is bool:
        if isinstance(value, bool) or (isinstance(value, str) and value.lower() in _BOOL_WORDS):
            return value
        raise _Mismatch
    if hint is int:
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and re.fullmatch(r"\s*[-+]?\d+\s*", value):
            return int(value)
        raise _Mismatch
    if hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)  # YAML reads 1e-6 (no dot) as a string
            except ValueError:
                raise _Mismatch from None
        raise _Mismatch
    if hint is str:
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        raise _Mismatch
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        if isinstance(value, (str, hint)):
            return value
        raise _Mismatch
    return value


_BOOL_WORDS = {"true", "false", "yes", "no", "1", "0", "t", "f", "y", "n"}


def _describe(hint: Any) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(arg) for arg in args if arg is not type(None))
    if origin in (list, tuple) or hint in (list, tuple):
        return f"a list of {_describe(args[0]) if args else 'values'}"
    words = {bool: "true or false", int: "a whole number", float: "a number", str: "a text", dict: "a mapping"}
    if origin is typing.Literal:
        return "one of " + ", ".join(map(str, args))
    return words.get(hint, getattr(hint, "__name__", str(hint)))


def _expanded_paths(name: str, value: Any) -> Any:
    if not (name in PATH_FIELDS or name.endswith(PATH_SUFFIXES)):
        return value
    if isinstance(value, list):
        return [_expanded_paths(name, item) for item in value]
    if not isinstance(value, str) or not ("$" in value or value.startswith("~")):
        return value
    expanded = os.path.expanduser(os.path.expandvars(value))
    unset = re.search(r"\$(\w+|\{\w+\})", expanded)
    if unset:
        raise UserError(f"the config file sets {name} to {value!r}, but {unset.group()} is not set in the environment")
    return expanded


def _check_choices(name: str, value: Any, action: argparse.Action | None) -> None:
    choices = getattr(action, "choices", None)
    if not choices or isinstance(action, argparse._SubParsersAction):
        return
    allowed = {str(getattr(choice, "value", choice)) for choice in choices}
    for item in value if isinstance(value, list) else [value]:
        if isinstance(item, str) and item not in allowed:
            raise UserError(f"the config file sets {name} to {item!r}; choose from {', '.join(sorted(allowed))}")


def parse_dataclasses(parser, argv: Sequence[str]):
    """Parse flags and `--config FILE`; a bad config file becomes a `UserError`, not a traceback."""
    import yaml

    from rl_critic.script.recipes import resolve_config

    argv = list(argv)
    if argv and argv[-1] == "--config":
        raise UserError("--config needs a YAML file")
    for i, arg in enumerate(argv):  # `--config=FILE` is `--config FILE` (TRL reads only the second)
        if arg.startswith("--config="):
            argv[i : i + 1] = ["--config", arg[len("--config=") :]]
    copy, named = None, None
    try:
        if "--config" in argv:  # a shipped recipe's name works outside a clone too
            i = argv.index("--config") + 1
            named = argv[i] = resolve_config(argv[i])
            copy = regular_config_copy(named)
            argv[i] = copy or named
            check_config_file(argv[i], named)
        return parser.parse_args_and_config(argv)
    except yaml.YAMLError as err:
        raise UserError(f"cannot parse config file: {str(err).splitlines()[0]}") from err
    except UnicodeDecodeError as err:
        raise UserError(f"config file {named} is not UTF-8 text: not a recipe") from err
    except ValueError as err:  # TrlParser: not a mapping, or keys no dataclass knows
        message = str(err).splitlines()[0]
        if message.startswith("Unknown arguments from config file"):
            unknown = re.findall(r"'--([^']+)'", message)
            message = f"the config file sets fields {parser.prog} does not have: {', '.join(unknown)}"
        raise UserError(message) from err
    finally:
        if copy:
            os.unlink(copy)


def regular_config_copy(path: str) -> str | None:
    """A config that is a stream (`--config /dev/stdin`, `<(...)`, a FIFO) can be read once only, and both the
    size check and TRL read it: it is read here (up to the size limit, within `CONFIG_STREAM_SECONDS`, never
    blocking on a FIFO nobody writes to) into a temporary file, whose path is returned (the caller removes
    it). None for a regular file or a folder."""
    import select
    import stat
    import tempfile
    import time

    try:
        if stat.S_ISREG(os.stat(path).st_mode) or stat.S_ISDIR(os.stat(path).st_mode):
            return None
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return None  # missing: the parser's own error names it
    chunks, size, deadline = [], 0, time.monotonic() + CONFIG_STREAM_SECONDS
    try:
        while size <= MAX_CONFIG_BYTES:
            if not select.select([descriptor], [], [], max(deadline - time.monotonic(), 0))[0]:
                raise UserError(f"config {path}: the stream did not end within {CONFIG_STREAM_SECONDS} s")
            try:
                chunk = os.read(descriptor, 65536)
            except BlockingIOError:
                continue
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    finally:
        os.close(descriptor)
    if size > MAX_CONFIG_BYTES:
        raise UserError(f"config {path} is over {MAX_CONFIG_BYTES // 1_000_000} MB: not a recipe")
    if not size:
        raise UserError(f"config {path} is empty (a pipe or FIFO that nothing was written to)")
    handle, copy = tempfile.mkstemp(prefix="rl-critic-config-", suffix=".yaml")
    with os.fdopen(handle, "wb") as output:
        output.write(b"".join(chunks))
    return copy


CONFIG_STREAM_SECONDS = 30
MAX_CONFIG_BYTES = 1_000_000  # a recipe is a few kB
MAX_CONFIG_NODES = 100_000  # YAML values after expanding aliases


def check_config_file(path: str, named: str | None = None) -> None:
    """Refuse, fast, config files no recipe is: over 1 MB, or whose aliases expand past 100,000 values (a
    "billion laughs" file loads in microseconds as shared references, then hangs the parser for minutes
    at 13 GB when its values are turned into arguments). Missing files are left to the parser's own error."""
    import yaml

    named = named or path
    try:
        if os.path.getsize(path) > MAX_CONFIG_BYTES:
            raise UserError(f"config file {named} is over {MAX_CONFIG_BYTES // 1_000_000} MB: not a recipe")
        with open(path, encoding="utf-8") as handle:
            root = yaml.compose(handle, Loader=yaml.SafeLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return
    except RecursionError:
        raise UserError(f"config file {named} nests lists or mappings too deeply: not a recipe") from None
    sizes: dict[int, int] = {}

    def expanded(node) -> int:
        if id(node) not in sizes:
            sizes[id(node)] = 1  # also ends a (recursive) alias cycle
            if isinstance(node, yaml.SequenceNode):
                sizes[id(node)] = 1 + sum(expanded(child) for child in node.value)
            elif isinstance(node, yaml.MappingNode):
                sizes[id(node)] = 1 + sum(expanded(key) + expanded(value) for key, value in node.value)
        return sizes[id(node)]

    try:
        too_large = root is not None and expanded(root) > MAX_CONFIG_NODES
    except RecursionError:
        raise UserError(f"config file {named} nests lists or mappings too deeply: not a recipe") from None
    if too_large:
        raise UserError(
            f"config file {named} expands (through YAML aliases) to over {MAX_CONFIG_NODES:,} values: not a recipe"
        )
    for key, _ in root.value if isinstance(root, yaml.MappingNode) else ():
        if key.tag != "tag:yaml.org,2002:str":  # `1: 2`, `true: x`: YAML reads such a key as a number or a flag
            shown = f"the key {key.value!r}" if isinstance(key, yaml.ScalarNode) else "a list or a mapping as a key"
            raise UserError(f"config file {named} has {shown}, which is not a field name (`max_steps: 10`)")


def parse_args(parser, argv: Sequence[str]):
    """`parse_dataclasses`, numbers validated: the dataclass instances, in the order of the parser's types."""
    from rl_critic.script.numbers import validate_numbers

    parsed = parse_dataclasses(parser, argv)
    validate_numbers(parsed)
    return parsed


def parse(dataclass_types, prog: str, argv: Sequence[str], description: str = ""):
    """`dataclass_parser` + `parse_args`, for a command that builds its parser in one go."""
    return parse_args(dataclass_parser(dataclass_types, prog, description), argv)
