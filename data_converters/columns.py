"""Which columns each kind of data holds, and their `datasets.Features`: said here, once.

`rl-critic convert` writes a task's columns (`task_features`), the row builders in `schema` fill exactly those
(a test holds them to it), every trainer checks its own columns before a model loads (`TRAINER_COLUMNS`),
and an error names what the user passed by its columns (`data_kind`).
"""

from __future__ import annotations

from typing import Any

_VERIFIABLE = ("id", "source", "group", "task", "prompt", "solution", "scale", "question", "responses", "swapped")
_MESSAGES = ("id", "source", "group", "task", "messages")

# task of `rl-critic convert` -> the columns of its rows (besides the image column)
TASK_COLUMNS: dict[str, tuple[str, ...]] = {
    "grpo": (*_VERIFIABLE, "models"),
    "sft": _MESSAGES,
    "sft-r1": _MESSAGES,
    "sft-policy": _MESSAGES,
    "dpo": ("id", "source", "group", "prompt", "chosen", "rejected"),
    "eval": (*_VERIFIABLE, "models"),
}
# GRPO rows made from question sets (`best-of-n` questions, `sft-policy` output): a policy's prompts
POLICY_PROMPT_COLUMNS = ("prompt", "solution")
# The DPO rows critic-DPO builds from a round's judged candidates (`round_<m>/preferences`)
CRITIC_DPO_COLUMNS = ("id", "prompt", "chosen", "rejected", "r", "r_chosen", "r_rejected")

# A row's video: its frames (stored like `images`) and the rate they were taken at, in frames per second.
VIDEO_COLUMN = "video"
VIDEO_FPS_COLUMN = "video_fps"

# trainer -> what it reads (GRPO: `solution` too when a rule reward scores against it)
TRAINER_COLUMNS: dict[str, frozenset[str]] = {
    "sft": frozenset({"messages"}),
    "dpo": frozenset({"prompt", "chosen", "rejected"}),
    "grpo": frozenset({"prompt"}),
}
GRADED_COLUMNS = frozenset({"prompt", "solution"})

# What a dataset is, told by its columns: the first entry whose columns it has names it in an error.
DATA_KINDS = (
    (TRAINER_COLUMNS["dpo"], "`dpo` data"),
    (GRADED_COLUMNS, "`grpo` / `eval` data"),
    (TRAINER_COLUMNS["sft"], "`sft` data (sft, sft-r1 or sft-policy)"),
    (
        frozenset({"question", "chosen", "rejected"}),
        "raw preference pairs (convert them first: `rl-critic convert --source preference --task ...`)",
    ),
    (frozenset({"conversations"}), "raw LLaVA-Critic-113k rows (convert them first: `rl-critic convert --task ...`)"),
)


def data_kind(columns) -> str:
    """ "`dpo` data", "raw LLaVA-Critic-113k rows ..." or "data with columns [...]", for errors that say what the
    user passed before saying what the command needs."""
    columns = set(columns)
    return next((name for wanted, name in DATA_KINDS if wanted <= columns), f"data with columns {sorted(columns)}")


def messages_feature():
    """TRL's conversational messages: `[{"role", "content": [{"type", "text"}]}]` (image parts have no text)."""
    from datasets import List, Value

    text = Value("string")
    return List({"role": text, "content": List({"type": text, "text": text})})


def _feature(column: str):
    from datasets import List, Value

    if column in ("prompt", "messages", "chosen", "rejected"):
        return messages_feature()
    if column in ("responses", "models"):
        return List(Value("string"))
    if column == "r":
        return List(Value("float64"))
    if column in ("r_chosen", "r_rejected"):
        return Value("float64")
    if column == "swapped":
        return Value("bool")
    return Value("string")


def features(columns: tuple[str, ...], image_column: str | None = None, **extra: Any):
    """The `datasets.Features` of rows with `columns` (and `image` or `images`, and `extra` features)."""
    from datasets import Features, Image, List

    result: dict[str, Any] = {column: _feature(column) for column in columns}
    if image_column is not None:
        result[image_column] = List(Image()) if image_column == "images" else Image()
    return Features(result | extra)


def video_features() -> dict[str, Any]:
    """A training row's video: its frames (stored like `images`) and the rate they were taken at, in frames per
    second (`rl_critic.models.media.VIDEO_COLUMN` / `VIDEO_FPS_COLUMN`; a row without a video: `[]` and null)."""
    from datasets import Image, List, Value

    return {VIDEO_COLUMN: List(Image()), VIDEO_FPS_COLUMN: Value("float64")}


def task_features(task: str, image_column: str, **extra: Any):
    """The features of one `rl-critic convert` task's rows."""
    return features(TASK_COLUMNS[task], image_column, **extra)
