"""One loader for every command: model + processor from `tiny`, a local folder or a hub id.

Training, generation, self-critique and evaluation all load through here, so a checkpoint behaves the
same everywhere: same dtype and attention defaults, same LoRA/QLoRA wiring, the same image-token budget
(`min_pixels`/`max_pixels`) and left padding (batched generation and GRPO need it; hub Qwen processors
pad right, which silently corrupts M-RoPE positions).

`ModelArguments` extends TRL's `ModelConfig`, so recipes keep TRL's field names (`model_name_or_path`,
`dtype`, `use_peft`, `lora_r`, `load_in_4bit`, ...) and `TrlParser` reads them from flat YAML.
`trust_remote_code` belongs to TRL's training configs, so training scripts take it from there; commands
that do not train use `InferenceModelArguments`, which adds it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from trl import ModelConfig

from data_converters.videos import video_budget_field
from rl_critic.ground.errors import UserError, first_line
from rl_critic.ground.hub import check_hub_reachable
from rl_critic.models.vision import DEFAULT_MIN_PIXELS


@dataclass
class ModelArguments(ModelConfig):
    """TRL's model fields plus the vision settings every rl-critic command shares."""

    _argument_group_name = "model loading (TRL ModelConfig + vision)"  # one --help section

    model_name_or_path: str | None = field(
        default="tiny",
        metadata={
            "help": "Model to load: `tiny` (a tiny Qwen2.5-VL built offline on first use), `tiny-llava_onevision`, "
            "`tiny-<arch>-small`, `tiny-like-qwen2.5-vl-7b-instruct` / `tiny-like-llava-onevision-qwen2-7b-ov-hf` "
            "(tiny, with the hub checkpoint's token ids, configs and chat template), a local checkpoint folder, "
            "or a hub id.",
            "aliases": ["--model"],
        },
    )
    min_pixels: int | None = field(
        default=None,
        metadata={"help": "Lower bound on pixels per image (default: the processor's own)."},
    )
    max_pixels: int | None = field(
        default=None,
        metadata={"help": "Upper bound on pixels per image; caps image tokens (default: the processor's own)."},
    )
    # One video budget for every reader: questions, eval rows, `generate`, and training rows (`video` frames).
    video_fps: float = video_budget_field("video_fps")
    video_max_frames: int = video_budget_field("video_max_frames")
    video_max_pixels: int = video_budget_field("video_max_pixels")
    freeze_vision_tower: bool = field(
        default=False,
        metadata={"help": "Freeze the vision encoder (LLaVA-Critic-R1 trains it; freezing saves memory)."},
    )


@dataclass
class InferenceModelArguments(ModelArguments):
    """`ModelArguments` for commands that load a model without a TRL training config (which owns
    `trust_remote_code` when training)."""

    trust_remote_code: bool = field(
        default=False, metadata={"help": "Allow model code from the checkpoint (off: only transformers' own code)."}
    )
    engine: str = field(
        default="hf",
        metadata={
            "help": "Where the model runs: `hf` (in-process generate), `vllm` (vLLM in-process) or `openai` (an "
            "OpenAI-compatible server at --base_url; --model is its served name, nothing loads here).",
            "choices": ["hf", "vllm", "openai"],
        },
    )
    base_url: str | None = field(
        default=None, metadata={"help": "The server's API root, e.g. http://127.0.0.1:8000/v1 (engine openai)."}
    )
    api_key_env: str = field(
        default="OPENAI_API_KEY",
        metadata={"help": "Environment variable holding the server's API key (never logged)."},
    )
    max_concurrency: int = field(default=8, metadata={"help": "Requests in flight to the server."})
    request_timeout: float = field(default=300.0, metadata={"help": "Seconds per server request."})
    max_retries: int = field(
        default=3, metadata={"help": "Retries (exponential backoff) of a request on connection errors, 429 and 5xx."}
    )


def resolve_model_path(name: str) -> str:
    """Map `tiny*` names to their cached folder (building it once); check local folders exist.

    Anything that is neither a tiny name nor an existing folder is passed on as a hub id, unless it
    looks like a path (`./x`, `/x`, `~/x`, or more than one `/`), which gives a clear error instead of a
    confusing hub lookup.
    """
    from rl_critic.models.tiny.cache import ensure_tiny_model, parse_tiny_name, tiny_model_names
    from rl_critic.models.tiny.hub_like import LIKE_PREFIX, parse_like

    if not name:
        raise UserError("no model given; pass --model tiny, a checkpoint folder or a hub id")
    tiny = parse_tiny_name(name)
    if tiny is not None:
        return str(ensure_tiny_model(*tiny))
    if name.lower().startswith(LIKE_PREFIX) and parse_like(name):
        return str(ensure_tiny_model(like=name))
    if name.startswith("tiny-") or name == "tiny":
        raise UserError(f"unknown tiny model {name!r}; expected one of: {', '.join(tiny_model_names())}")
    path = Path(name).expanduser()
    if path.is_dir():
        if not any((path / marker).is_file() for marker in ("config.json", "adapter_config.json")):
            raise UserError(f"{name} is a folder but holds no config.json (nor adapter_config.json): not a checkpoint")
        if not (path / "config.json").is_file():
            adapter_base(path)  # a LoRA adapter whose base is missing is named as such, before anything loads
        return str(path)
    looks_local = name.startswith((".", "/", "~")) or name.count("/") > 1 or path.exists()
    if looks_local:
        raise UserError(f"model folder not found: {name}")
    check_hub_reachable(name, "model")  # seconds, not minutes of retries, without a network
    return name


def adapter_base(folder: Path) -> str:
    """The base model of a LoRA adapter folder (`base_model_name_or_path` of its adapter_config.json),
    resolved like `--model` (a tiny name, a folder, a hub id); a missing one is one line naming both."""
    import json

    try:
        base = json.loads((folder / "adapter_config.json").read_text()).get("base_model_name_or_path")
    except (OSError, ValueError, AttributeError) as err:
        raise UserError(f"cannot read {folder / 'adapter_config.json'}: {first_line(err)}") from err
    if not isinstance(base, str) or not base:
        raise UserError(f"{folder} is a LoRA adapter that names no base model (base_model_name_or_path)")
    try:
        return resolve_model_path(base)
    except UserError as err:
        raise UserError(f"{folder} is a LoRA adapter whose base model cannot be used: {err}") from err


# Files that a folder holding a processor (or at least a tokenizer) has.
PROCESSOR_FILES = ("processor_config.json", "preprocessor_config.json", "tokenizer_config.json", "tokenizer.json")


def processor_source(path: str) -> str:
    """Where the processor of `path` loads from: the folder itself, or, for a LoRA adapter saved without
    processor files (peft's `save_pretrained` writes none), its base model."""
    folder = Path(path)
    is_adapter = (folder / "adapter_config.json").is_file() and not (folder / "config.json").is_file()
    if is_adapter and not any((folder / name).is_file() for name in PROCESSOR_FILES):
        return adapter_base(folder)
    return path


def apply_pixel_bounds(
    processor, min_pixels: int | None, max_pixels: int | None, video_max_pixels: int | None = None
) -> None:
    """Set the token budgets on processors that resize by pixel count (the Qwen-VL family): the pictures'
    `min_pixels` / `max_pixels`, and, given `video_max_pixels`, the frames' (`rl_critic.models.video` already
    bounds every frame so; without it the video processor would scale small frames up to its own 128 x 28 x 28).

    Other families (LLaVA-OneVision tiles to fixed grids) get their bounds when images are loaded through
    `rl_critic.models.vision.load_image`, which resizes with the same numbers before the processor sees them.
    """
    if min_pixels is not None and max_pixels is not None and min_pixels > max_pixels:
        raise UserError(f"min_pixels ({min_pixels}) is larger than max_pixels ({max_pixels})")
    _bound(getattr(processor, "image_processor", None), min_pixels, max_pixels)
    if video_max_pixels is not None:
        _bound(getattr(processor, "video_processor", None), DEFAULT_MIN_PIXELS, video_max_pixels)


def _bound(processor, min_pixels: int | None, max_pixels: int | None) -> None:
    size = getattr(processor, "size", None)
    if size is None or "longest_edge" not in size or "shortest_edge" not in size:
        return
    new_size = dict(size)
    if min_pixels is not None:
        new_size["shortest_edge"] = min_pixels
    if max_pixels is not None:
        new_size["longest_edge"] = max_pixels
    processor.size = new_size if isinstance(size, dict) else type(size)(**new_size)


def load_processor(
    name_or_path: str,
    *,
    min_pixels: int | None = None,
    max_pixels: int | None = None,
    revision: str = "main",
    trust_remote_code: bool = False,
    padding_side: str = "left",
    video_max_pixels: int | None = None,
):
    """Load a processor with the shared pixel bounds and (by default) left padding."""
    from transformers import AutoProcessor

    path = processor_source(resolve_model_path(name_or_path))
    try:
        processor = AutoProcessor.from_pretrained(path, revision=revision, trust_remote_code=trust_remote_code)
    except Exception as err:
        raise _load_error("processor", name_or_path, err) from err
    from rl_critic.models.chat_template import check_chat_template

    check_chat_template(processor, name_or_path)
    tokenizer = getattr(processor, "tokenizer", processor)
    # A truncation length saved by an SFT run (tokenizer.json) would be every call's default `max_length`;
    # rl-critic pads batches without truncating (prompt lengths are checked instead), and trainers pass theirs.
    tokenizer.init_kwargs.pop("max_length", None)
    tokenizer.padding_side = padding_side
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    apply_pixel_bounds(processor, min_pixels, max_pixels, video_max_pixels)
    return processor


def vision_tower(model):
    """The vision encoder of a VLM (Qwen `visual`, LLaVA `vision_tower`), through PEFT wrappers."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    for owner in (getattr(base, "model", None), base):
        for name in ("visual", "vision_tower", "vision_model"):
            module = getattr(owner, name, None) if owner is not None else None
            if module is not None:
                return module
    raise ValueError(f"cannot find the vision tower of {type(base).__name__}")


def quantization_device_map() -> dict[str, int | str]:
    """bitsandbytes needs the whole model on one device per process."""
    import torch
    from accelerate import PartialState

    if torch.cuda.is_available():
        return {"": PartialState().local_process_index}
    return {"": "cpu"}


def load_model(
    args: ModelArguments,
    *,
    trust_remote_code: bool = False,
    gradient_checkpointing: bool = False,
    attach_peft: bool = False,
):
    """Load the VLM described by `args`.

    `attach_peft=True` wraps it in a LoRA adapter (from the `lora_*` fields, after k-bit preparation
    when quantised). Training entry points usually leave it False and hand `trl.get_peft_config(args)`
    to the TRL trainer, which does the same wrapping itself.
    """
    import torch
    import transformers
    from transformers import AutoModelForImageTextToText
    from trl import get_peft_config, get_quantization_config

    # "Loading weights" / "Writing model shards" bars: a second each, twice a run; commands print their own lines.
    transformers.utils.logging.disable_progress_bar()

    path = resolve_model_path(args.model_name_or_path)
    dtype = args.dtype if args.dtype in (None, "auto") else getattr(torch, args.dtype)
    quantization_config = get_quantization_config(args)
    kwargs = dict(
        revision=args.model_revision,
        trust_remote_code=trust_remote_code,
        attn_implementation=args.attn_implementation,
        dtype=dtype,
    )
    if quantization_config is not None:
        kwargs.update(quantization_config=quantization_config, device_map=quantization_device_map())
    try:
        model = AutoModelForImageTextToText.from_pretrained(path, **kwargs)
    except Exception as err:
        raise _load_error("model", args.model_name_or_path, err) from err
    check_lora_targets(model, args)
    if args.freeze_vision_tower:
        vision_tower(model).requires_grad_(False)
    if gradient_checkpointing:
        model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
        model.config.use_cache = False
    if attach_peft:
        from peft import get_peft_model, prepare_model_for_kbit_training

        peft_config = get_peft_config(args)
        if peft_config is None:
            raise UserError("attach_peft needs use_peft=True (and lora_* fields)")
        if quantization_config is not None:
            model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=gradient_checkpointing)
        elif gradient_checkpointing:
            model.enable_input_require_grads()
        model = get_peft_model(model, peft_config)
    return model


def check_lora_targets(model, args: ModelArguments) -> None:
    """With `use_peft`, every named `lora_target_modules` entry must match a module of this model (peft would
    fail inside the trainer, or a regex matching nothing would train no adapter at all)."""
    from peft.tuners.tuners_utils import check_target_module_exists
    from trl import get_peft_config

    config = get_peft_config(args)
    targets = getattr(config, "target_modules", None)
    if config is None or targets is None or targets == "all-linear":
        return
    names = [name for name, _ in model.named_modules() if name]
    if isinstance(targets, str):
        missing = [] if any(check_target_module_exists(config, name) for name in names) else [targets]
    else:
        missing = [
            target for target in targets if not any(name == target or name.endswith(f".{target}") for name in names)
        ]
    if missing:
        linear = sorted(
            {name.rsplit(".", 1)[-1] for name, module in model.named_modules() if type(module).__name__ == "Linear"}
        )
        raise UserError(
            f"lora_target_modules {', '.join(map(str, missing))} match no module of {args.model_name_or_path}; "
            f"its linear layers are named {', '.join(linear[:12])}"
        )


def load_processor_for(args: ModelArguments, trust_remote_code: bool):
    """The processor `args` describe: their model's, at their revision, with their pixel and frame bounds (every
    engine that loads one locally, so the hf and vllm engines see the same)."""
    return load_processor(
        args.model_name_or_path,
        min_pixels=args.min_pixels,
        max_pixels=args.max_pixels,
        revision=args.model_revision,
        trust_remote_code=trust_remote_code,
        video_max_pixels=getattr(args, "video_max_pixels", None),
    )


def load_model_and_processor(args: ModelArguments, *, trust_remote_code: bool | None = None, **kwargs):
    """`load_model` and `load_processor_for` with the same arguments. `trust_remote_code` defaults to the field of
    `InferenceModelArguments` (False for plain `ModelArguments`)."""
    if trust_remote_code is None:
        trust_remote_code = getattr(args, "trust_remote_code", False)
    processor = load_processor_for(args, trust_remote_code)
    return load_model(args, trust_remote_code=trust_remote_code, **kwargs), processor


def _load_error(what: str, name: str, err: Exception) -> Exception:
    """A broken checkpoint folder (unparsable config.json, truncated safetensors, missing files, custom code)
    as one `UserError`; anything else (a bug) is returned unchanged, to be raised with its traceback."""
    import json

    text = first_line(err)
    if "trust_remote_code" in str(err):
        return UserError(
            f"{name} needs code from the checkpoint itself (a custom architecture): pass "
            "--trust_remote_code true if you trust its author"
        )
    if isinstance(err, json.JSONDecodeError):
        text = f"a JSON file in it does not parse ({text})"
    unknown = re.search(r"has model type `([^`]*)` but Transformers does not recognize", str(err))
    if unknown:
        import transformers

        return UserError(
            f"cannot load {what} from {name!r}: its model type {unknown.group(1)!r} is unknown to transformers "
            f"{transformers.__version__} (a newer transformers, or --trust_remote_code true for custom code)"
        )
    broken = isinstance(err, (OSError, json.JSONDecodeError, KeyError)) or type(err).__name__ == "SafetensorError"
    if broken or (isinstance(err, ValueError) and "config" in str(err).lower()):
        return UserError(f"cannot load {what} from {name!r}: {text}")
    return err
