"""`rl-critic export-trl`: write a recipe as a YAML that TRL's own `trl grpo|sft|dpo --config` takes.

rl-critic recipes are TRL recipes plus a few fields TRL's scripts do not know: the pixel budget
(`min_pixels`/`max_pixels`; TRL has no processor settings, so its scripts use the checkpoint's
preprocessor config), `freeze_vision_tower`, the data-loading extras and the critic-as-reward settings.
TRL's parser refuses unknown fields (`unrecognized arguments: --min_pixels`), so this writes the recipe
without them, names registered rewards by their dotted paths (`critic` -> `rewards.critic_reward`,
`critic_judge` -> `rl_critic.critique.reward.critic_judge`, whose critic comes from RL_CRITIC_CRITIC_MODEL), and
lists in the file's header what it dropped. Which fields TRL knows is read from TRL's own script
dataclasses, so the export follows the installed TRL.

The export runs on another machine too: a `tiny` model (a name only rl-critic knows) is written beside the YAML
and named by its path from the folder export-trl ran in, as the recipe's data paths are (not by a path into this
machine's cache), and `output_dir` gets a `-trl` suffix, so a TRL run never writes into the rl-critic run's folder.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field, fields
from pathlib import Path

from rl_critic.cli.dispatch import docstring_summary
from rl_critic.critique.reward import CRITIC_JUDGE, CRITIC_JUDGE_PATH
from rl_critic.script.parsing import parse

NO_DYNAMIC_SAMPLING = (
    "TRL's own CLI cannot take dynamic_sampling: `trl grpo` trains on every group, also those whose completions "
    "all earned the same reward (advantage 0); `rl-critic train grpo` drops them and draws more prompts."
)

# method -> TRL script module whose `dataclass_types` (built in its `make_parser`) define what it accepts
TRL_SCRIPTS = {"grpo": "trl.scripts.grpo", "sft": "trl.scripts.sft", "dpo": "trl.scripts.dpo"}


@dataclass
class ExportTrlArguments:
    recipe: str = field(
        metadata={"help": "rl-critic recipe (a path, or a shipped name such as recipes/tiny/grpo_critic.yaml)."}
    )
    out: str = field(metadata={"help": "YAML file to write for `trl <method> --config`."})
    method: str | None = field(
        default=None,
        metadata={"help": "TRL method; default: from the recipe's file name.", "choices": list(TRL_SCRIPTS)},
    )
    overwrite: bool = field(default=False, metadata={"help": "Replace --out if it exists."})


ARGUMENTS = (ExportTrlArguments,)


def trl_fields(method: str) -> set[str]:
    """Every field `trl <method> --config` accepts, from TRL's own script dataclasses."""
    from trl import DatasetMixtureConfig, ModelConfig, ScriptArguments

    script = importlib.import_module(TRL_SCRIPTS[method])
    script_args = getattr(script, "GRPOScriptArguments", ScriptArguments)
    config = {"grpo": "GRPOConfig", "sft": "SFTConfig", "dpo": "DPOConfig"}[method]
    trainer_config = getattr(importlib.import_module("trl"), config)
    return {f.name for cls in (script_args, trainer_config, ModelConfig, DatasetMixtureConfig) for f in fields(cls)}


def trl_reward(spec: str) -> str:
    """A registered reward as the dotted path TRL imports; options cannot travel (TRL takes no options)."""
    import rewards

    name, options = rewards.parse_spec(spec)
    if options:
        raise ValueError(
            f"reward {spec!r} has options, which `trl grpo` cannot pass: define a function in your project "
            f"(e.g. `my_rewards.critic = rewards.get({name!r}, ...)`) and name it instead"
        )
    if "." in name:
        return name
    if name == CRITIC_JUDGE:
        return CRITIC_JUDGE_PATH
    key = rewards.ALIASES.get(name, name)
    if key not in rewards.REWARDS:
        raise ValueError(f"unknown reward {name!r}")
    return f"rewards.{key}_reward"


def export(recipe: Path, method: str) -> tuple[dict, list[str]]:
    """(TRL-ready config, dropped field names)."""
    import yaml

    from rl_critic.ground.errors import UserError
    from rl_critic.script.parsing import check_config_file

    check_config_file(str(recipe))  # size, alias bombs, nesting: as every --config
    try:
        config = yaml.safe_load(recipe.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError) as err:
        raise UserError(f"cannot parse {recipe}: {str(err).splitlines()[0]}") from err
    if not isinstance(config, dict):
        raise UserError(f"{recipe} is not a flat YAML recipe")
    known = trl_fields(method)
    dropped = sorted(key for key in config if key not in known)
    exported = {key: value for key, value in config.items() if key in known}
    if isinstance(exported.get("reward_funcs"), str):  # one reward, as a scalar: not its characters
        exported["reward_funcs"] = [exported["reward_funcs"]]
    rewards_named = exported.get("reward_funcs", [])
    if not isinstance(rewards_named, list) or not all(isinstance(name, str) for name in rewards_named):
        raise UserError(f"{recipe.name}: reward_funcs must be a list of reward names, not {rewards_named!r}")
    if "reward_funcs" in exported:
        try:
            exported["reward_funcs"] = [trl_reward(spec) for spec in exported["reward_funcs"]]
        except ValueError as err:
            raise UserError(str(err)) from err
    if isinstance(exported.get("output_dir"), str):
        exported["output_dir"] = exported["output_dir"].rstrip("/") + "-trl"
    return exported, dropped


def export_tiny_model(name: str, beside: Path) -> Path:
    """Copy the tiny model `name` from rl-critic's cache into a folder beside the exported YAML (replacing only an
    earlier copy), so the export and its model travel together.

    File by file rather than `shutil.copytree`: copytree gathers every failure into one `shutil.Error` of strings,
    which loses the errno a full disk is told by (one line, not a list of tuples)."""
    import shutil

    from rl_critic.ground.files import staged_folder
    from rl_critic.models.loader import resolve_model_path
    from rl_critic.models.tiny.cache import MARKER

    source = Path(resolve_model_path(name))
    target = beside / source.name
    with staged_folder(target, marker=MARKER) as staging:
        for file in sorted(path for path in source.rglob("*") if path.is_file()):
            copy = staging / file.relative_to(source)
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(file, copy)
    return target


def portable_path(path: Path) -> str:
    """`path` from the working directory when it lies under it (the way recipes name their data), else whole."""
    resolved, cwd = path.resolve(), Path.cwd().resolve()
    return str(resolved.relative_to(cwd)) if resolved.is_relative_to(cwd) else str(resolved)


def is_project_model(name: str) -> bool:
    """`tiny`, `tiny-llava_onevision`, `tiny-like-...`: names rl-critic builds into its cache."""
    return name == "tiny" or name.lower().startswith("tiny-")


def main(argv: list[str]) -> int:
    (args,) = parse(ARGUMENTS, "rl-critic export-trl", argv, docstring_summary(__doc__))
    import yaml

    from rl_critic.ground.errors import UserError
    from rl_critic.ground.files import check_output_file, staged_file
    from rl_critic.script.recipes import resolve_config

    recipe = Path(resolve_config(args.recipe))
    if not recipe.is_file():
        raise UserError(f"recipe not found: {args.recipe}")
    check_output_file(args.out, [recipe], args.overwrite)
    method = args.method or next((m for m in ("grpo", "dpo", "sft") if recipe.stem.startswith(m)), None)
    if recipe.stem.startswith("critic_dpo") or method is None:
        raise UserError(f"{recipe.name}: no TRL script runs this method; pass --method grpo|sft|dpo if it is one")
    exported, dropped = export(recipe, method)
    header = [f"# `trl {method} --config` version of {recipe.name}, written by `rl-critic export-trl`."]
    model = exported.get("model_name_or_path")
    if isinstance(model, str) and is_project_model(model):  # `tiny`: a name only rl-critic knows; TRL needs a folder
        folder = export_tiny_model(model, Path(args.out).parent)
        exported["model_name_or_path"] = portable_path(folder)
        header.append(
            f"# model_name_or_path: rl-critic's `{model}`, copied to {exported['model_name_or_path']} (paths are read "
            "from the folder trl runs in; `rl-critic tiny-model --out DIR` builds it anew)."
        )
    if dropped:
        header.append(f"# Dropped (TRL's {method} script does not take them): {', '.join(dropped)}.")
    if {"min_pixels", "max_pixels"} & set(dropped):
        header.append("# TRL sizes images with the checkpoint's own preprocessor config (no pixel budget here).")
    dynamic = any(name.startswith("dynamic_sampling") for name in dropped)
    if dynamic:
        header.append(f"# {NO_DYNAMIC_SAMPLING}")
    judge = critic_judge_note(recipe, exported)
    if judge:
        header.append(f"# {judge}")
    text = "\n".join(header) + "\n" + yaml.safe_dump(exported, sort_keys=False)
    with staged_file(args.out) as handle:
        handle.write(text)
    print(
        f"wrote {args.out}: {len(exported)} fields for `trl {method} --config`"
        + (f"; dropped {', '.join(dropped)}" if dropped else "")
    )
    if dynamic:
        print(NO_DYNAMIC_SAMPLING)
    if judge:
        print(judge)
    return 0


def critic_judge_note(recipe: Path, exported: dict) -> str | None:
    """What a `trl grpo` user of `critic_judge` must set: TRL's script has no critic_* fields, so the reward's
    critic comes from RL_CRITIC_CRITIC_MODEL (its other settings take their defaults)."""
    import yaml

    if CRITIC_JUDGE_PATH not in exported.get("reward_funcs", []):
        return None
    critic = yaml.safe_load(recipe.read_text(encoding="utf-8")).get("critic_model") or "<your critic>"
    return (
        f"critic_judge is {CRITIC_JUDGE_PATH}: TRL cannot pass the critic_* fields, so name the critic in the "
        f"environment: RL_CRITIC_CRITIC_MODEL={critic} trl grpo --config ..."
    )
