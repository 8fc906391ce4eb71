"""GRPO on a *policy* (a critic as the reward): question sets become conversational prompts.

A policy needs no verifiable target when a critic scores it, so any question set with images trains: the
question files `best-of-n` and `eval policy` read (JSONL `{id, image(s), question, answer?}`, relative image
paths), or `rl-critic convert --task sft-policy` output (the question turn becomes the prompt, the preferred
answer the reference `solution`). A reference answer, where there is one, is kept as `solution`, so the
critic reward can report how often its favourite is right.
"""

from __future__ import annotations

import json
from pathlib import Path

from data_converters import columns
from data_converters.columns import VIDEO_COLUMN, VIDEO_FPS_COLUMN
from data_converters.schema import policy_prompt_from_messages, policy_prompt_row
from rl_critic.models.media import MediaBudget


def is_question_file(source: str | None) -> bool:
    """A JSONL / JSON file whose first row is a question (has `question`, no `prompt`)."""
    path = Path(source or "")
    if path.suffix not in (".jsonl", ".json") or not path.is_file():
        return False
    try:  # not UTF-8 or not JSON: not a question file (load_any then names what is wrong with it)
        with open(path, encoding="utf-8-sig") as handle:
            first = next((line for line in handle if line.strip()), "")
        row = json.loads(first)
    except (ValueError, RecursionError):
        return False
    return isinstance(row, dict) and "question" in row and "prompt" not in row


def load_question_file(
    source: str,
    limit: int | None,
    budget: MediaBudget,
    images_root: str | None = None,
    image_urls: str = "off",
):
    """Question rows -> a dataset of `prompt`, `images`, `solution`, and where a question shows a video its frames
    (`video`, `video_fps`), within `budget` (a `MediaBudget`); unusable rows are counted and skipped."""
    from datasets import Dataset

    from rl_critic.critique.questions import load_usable_questions

    usable = load_usable_questions(source, limit, budget, "grpo", images_root, image_urls)
    several = sum(isinstance(q.answer, list) and len(q.answer) > 1 for q in usable)
    if several:
        print(f"grpo: {several} question(s) list several acceptable answers; `solution` keeps the first of each")
    with_video = any(q.problem.media.videos for q in usable)
    rows = []
    for q in usable:
        media = q.problem.media
        row = {**policy_prompt_row(q.problem.question, len(media.images), q.answer, len(media.videos))}
        row["images"] = media.images
        if with_video:  # the frames as the budget sampled them, and their rate (`data_converters.columns.VIDEO_COLUMN`)
            video = media.videos[0] if media.videos else None
            row[VIDEO_COLUMN] = video.frames if video else []
            row[VIDEO_FPS_COLUMN] = video.fps if video else None
        rows.append(row)
    features = columns.features(
        columns.POLICY_PROMPT_COLUMNS, "images", **(columns.video_features() if with_video else {})
    )
    return Dataset.from_dict({name: [row[name] for row in rows] for name in features}, features=features)


def is_policy_messages(dataset) -> bool:
    """`sft-policy` output (question -> answer `messages`, task `policy`), not critic SFT data."""
    columns = dataset.column_names
    if "messages" not in columns or "prompt" in columns:
        return False
    return "task" not in columns or set(dataset.unique("task")) == {"policy"}


def prompts_from_messages(dataset):
    """`sft-policy`-style `messages` (question turn, answer turn) -> `prompt` + reference `solution`."""

    def split(row):
        return policy_prompt_from_messages(row["messages"])

    return dataset.map(split, remove_columns=["messages"], desc="policy prompts")
