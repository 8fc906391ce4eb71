"""`--help` that a person can read, fast: rl-critic's own fields and the commonly set ones first, the whole
TRL / transformers list behind `--help-all`, and both kept in a cache so that a second `--help` needs no torch.

`rl-critic train grpo --help` used to print ~1,250 lines (every field of TRL's GRPOConfig and transformers'
TrainingArguments first) and take 7-19 s, most of it importing torch to build the parser. The short form lists
the fields declared by rl-critic's own dataclasses and `COMMON_FIELDS`, then says how many more there are.
The rendered text is stored under `<cache>/help/`, keyed by the command line, the versions of the libraries
whose fields it shows and the size and time of every rl-critic source file, so it is never stale.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from importlib import metadata
from pathlib import Path

HELP_FLAGS = ("-h", "--help", "--help-all")
# The TRL / transformers fields most recipes set: shown in the short help beside rl-critic's own.
COMMON_FIELDS = (
    "model_name_or_path",
    "dataset_name",
    "output_dir",
    "learning_rate",
    "lr_scheduler_type",
    "num_train_epochs",
    "max_steps",
    "per_device_train_batch_size",
    "gradient_accumulation_steps",
    "logging_steps",
    "save_steps",
    "save_strategy",
    "resume_from_checkpoint",
    "seed",
    "bf16",
    "use_cpu",
    "gradient_checkpointing",
    "report_to",
    "max_length",
    "num_generations",
    "max_completion_length",
    "temperature",
    "top_p",
    "beta",
    "epsilon",
    "epsilon_high",
    "reward_weights",
    "use_vllm",
    "vllm_mode",
    "dtype",
    "attn_implementation",
    "trust_remote_code",
    "use_peft",
    "lora_r",
    "lora_alpha",
    "lora_target_modules",
    "load_in_4bit",
)
OWN_MODULES = ("rl_critic", "rewards", "data_converters")


def own_fields(dataclass_types) -> set[str]:
    """Fields declared (or re-declared) by rl-critic's own dataclasses, through their bases."""
    names: set[str] = set()
    for dataclass_type in dataclass_types:
        for cls in dataclass_type.__mro__:
            if cls.__module__.split(".")[0] in OWN_MODULES:
                names |= set(cls.__dict__.get("__annotations__", {}))
    return names


def short_help(parser: argparse.ArgumentParser) -> str:
    """The parser's help with only rl-critic's own fields and `COMMON_FIELDS` (own first, in the parser's groups:
    the model-loading section stays one), then how to see the rest."""
    own = own_fields(parser.dataclass_types)
    short = argparse.ArgumentParser(
        prog=parser.prog,
        usage=parser.usage,
        description=parser.description,
        formatter_class=parser.formatter_class,
        add_help=False,
    )
    listed, total = 0, 0
    for group in parser._action_groups:
        actions = [action for action in group._group_actions if action.option_strings]
        total += len(actions)
        helps = [a for a in actions if a.dest in ("help", "help_all")]
        chosen = (
            helps
            + [a for a in actions if a.dest in own]
            + [a for a in actions if a.dest in COMMON_FIELDS and a.dest not in own]
        )
        if not chosen:
            continue
        title = group.title if helps or group.title != "options" else "fields"
        target = short.add_argument_group(title, None if helps else group.description)
        target._group_actions.extend(chosen)
        listed += len(chosen)
    rest = total - listed
    more = f"\n{rest} more fields (TRL's and transformers'): --help-all lists every one.\n" if rest > 0 else "\n"
    return short.format_help() + more + (parser.epilog or "") + "\n"


def cache_file(prog: str, flag: str) -> Path:
    """Where the help of `prog` (`--help` or `--help-all`) is kept, under a key that changes with anything that
    could change it: the rl-critic sources (size and time), the libraries' versions, Python's."""
    parts = [prog, flag, sys.version]
    for name in ("trl", "transformers", "peft"):
        try:
            parts.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            parts.append(f"{name} missing")
    root = Path(__file__).resolve().parents[2]
    for package in OWN_MODULES:
        for source in sorted((root / package).rglob("*.py")):
            stat = source.stat()
            parts.append(f"{source.relative_to(root)}:{stat.st_size}:{stat.st_mtime_ns}")
    key = hashlib.sha256("\n".join(parts).encode()).hexdigest()[:24]
    cache = os.environ.get("RL_CRITIC_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "rl-critic"
    )
    return Path(cache) / "help" / f"{key}.txt"


def cached_help(words: list[str]) -> str | None:
    """The stored help for a command line that is only a command and a help flag (`train grpo --help`)."""
    if not words or words[-1] not in HELP_FLAGS or any(word.startswith("-") for word in words[:-1]):
        return None
    path = cache_file(" ".join(["rl-critic", *words[:-1]]), "all" if words[-1] == "--help-all" else "short")
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return None


def store_help(prog: str, full: bool, text: str) -> None:
    """Keep a rendered help for `cached_help` (best effort: an unwritable cache only makes help slower)."""
    path = cache_file(prog, "all" if full else "short")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f"{path.name}.{os.getpid()}")
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)
    except OSError:
        pass
