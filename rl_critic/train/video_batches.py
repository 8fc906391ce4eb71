"""Training batches whose prompts show a video: SFT's and DPO's collators, GRPO's rollouts and forward passes.

A training row's video is its `video` column (the frames, bounded by `bound_dataset_images` to the video budget)
and `video_fps`; its conversation names it with a `{"type": "video"}` part. TRL 1.16 wires pictures only
(trl #4144, #5373): its SFT and DPO collators hand the processor no video, its GRPO tokenizes the rollout prompts with
whatever the parts hold but builds the training forward's inputs from pictures alone, so a video prompt would be
trained on as text. Here the frames go into the video parts, the processor gets each video's rate (without it
Qwen2.5-VL takes 24 fps: `models.media.video_metadata`), and GRPO's forward passes (training, reference and
old-policy) get each row's video tensors back through a forward pre-hook, the way `batch_num_images` does for
LLaVA-OneVision's pictures. Prompts that show pictures and a video together train with SFT and DPO; GRPO refuses a
dataset that mixes picture rows and video rows in one line (`check_one_medium`: TRL rebuilds the forward's picture
inputs from a text without the video), as it does `use_vllm` with video.
"""

from __future__ import annotations

import inspect
from contextlib import contextmanager
from typing import Any

import torch
from trl import DPOTrainer, GRPOTrainer, SFTTrainer
from trl.data_utils import prepare_multimodal_messages
from trl.trainer.dpo_trainer import DataCollatorForVisionPreference
from trl.trainer.sft_trainer import DataCollatorForVisionLanguageModeling

from data_converters.columns import VIDEO_COLUMN, VIDEO_FPS_COLUMN
from rl_critic.ground.errors import UserError
from rl_critic.models.media import Video, cell_videos, video_metadata

# What torch and numpy say when a batch's videos of different shapes are stacked.
UNSTACKABLE = ("stack expects each tensor to be equal size", "inhomogeneous", "must have the same shape")

# The processor outputs that belong to a prompt's videos (split per row, put back per forward chunk).
VIDEO_KEYS = ("pixel_values_videos", "video_grid_thw", "second_per_grid_ts")


def with_video_frames(conversation: list[dict], videos: list[Video]) -> list[dict]:
    """A copy of `conversation` whose `{"type": "video"}` parts hold `videos`' frames, in order."""
    parts = [part for turn in conversation if isinstance(turn["content"], list) for part in turn["content"]]
    slots = sum(part.get("type") == "video" for part in parts)
    if slots != len(videos):
        raise UserError(
            f'a conversation names {slots} video(s) (`{{"type": "video"}}` parts) but its row has {len(videos)}'
        )
    filled = iter(videos)
    result = []
    for turn in conversation:
        if isinstance(turn["content"], list):
            content = [
                {"type": "video", "video": next(filled).frames} if part.get("type") == "video" else part
                for part in turn["content"]
            ]
            turn = {**turn, "content": content}
        result.append(turn)
    return result


def row_videos(row: dict[str, Any]) -> list[Video]:
    """A training row's videos (`models.media.cell_videos`)."""
    return cell_videos(row.get(VIDEO_COLUMN), row.get(VIDEO_FPS_COLUMN))


def _pictures_as_lists(examples: list[dict[str, Any]]) -> None:
    """`image` cells as `images` lists, an empty one for a row that shows only a video (TRL's collators take an
    `image` cell for one picture, and would count a missing one as a picture without a place in the prompt)."""
    for example in examples:
        if "image" in example:
            image = example.pop("image")
            example["images"] = [] if image is None else [image]


class VideoCollator(DataCollatorForVisionLanguageModeling):
    """TRL's vision collator; a batch of `messages` rows where some show a video is tokenized with the frames in
    the video parts and each video's rate. Other batches are TRL's own, unchanged."""

    def torch_call(self, examples: list[dict[str, Any]]) -> dict[str, Any]:
        videos = [row_videos(example) for example in examples]
        for example in examples:
            example.pop(VIDEO_COLUMN, None)
            example.pop(VIDEO_FPS_COLUMN, None)
        _pictures_as_lists(examples)
        if not any(videos):
            return super().torch_call(examples)
        if "messages" not in examples[0]:
            raise UserError("training rows with a video are conversations (`messages`), not plain text")
        messages = [
            with_video_frames(
                prepare_multimodal_messages(example["messages"], images=example.get("images") or []), shown
            )
            for example, shown in zip(examples, videos)
        ]
        processor_kwargs = {
            "padding": True,
            "padding_side": "right",
            "pad_to_multiple_of": self.pad_to_multiple_of,
            "truncation": self.max_length is not None,
            "max_length": self.max_length,
            "add_special_tokens": False,  # the chat template has its own (as TRL's collator does)
            **video_metadata([video for shown in videos for video in shown]),
        }
        with _one_line_when_videos_do_not_stack():
            output = self.processor.apply_chat_template(
                messages,
                chat_template=self.chat_template,
                tokenize=True,
                return_dict=True,
                return_tensors=self.return_tensors,
                return_assistant_tokens_mask=self.assistant_only_loss,
                processor_kwargs=processor_kwargs,
            )
        labels = output["input_ids"].clone()
        labels[output["attention_mask"] == 0] = -100
        if self.assistant_only_loss:
            labels[output.pop("assistant_masks") == 0] = -100
        output["labels"] = labels
        return output


class VideoSFTTrainer(SFTTrainer):
    """`trl.SFTTrainer` whose vision collator also takes videos (`VideoCollator`), and which keeps the video
    columns for it."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        collator = self.data_collator
        if type(collator) is DataCollatorForVisionLanguageModeling:
            self.data_collator = VideoCollator(**{name: getattr(collator, name) for name in _field_names(collator)})

    def _set_signature_columns_if_needed(self):
        super()._set_signature_columns_if_needed()
        if self._is_vision_dataset:
            self._signature_columns = [*self._signature_columns, VIDEO_COLUMN, VIDEO_FPS_COLUMN]


def _field_names(instance) -> list[str]:
    from dataclasses import fields

    return [item.name for item in fields(instance) if item.init]


class VideoPreferenceCollator(DataCollatorForVisionPreference):
    """TRL's vision preference collator; in a batch where some prompts show a video, the processor call that encodes
    the prompts (TRL's only left-padded one, its prompts listed once for the chosen and once for the rejected side)
    also gets those videos, twice over, with their rates (`_PromptVideos`). Other batches are TRL's own."""

    def torch_call(self, examples: list[dict[str, Any]]) -> dict[str, Any]:
        videos = [video for example in examples for video in row_videos(example)]
        for example in examples:
            example.pop(VIDEO_COLUMN, None)
            example.pop(VIDEO_FPS_COLUMN, None)
        _pictures_as_lists(examples)
        if not videos:
            return super().torch_call(examples)
        processor = self.processor
        self.processor = _PromptVideos(processor, videos * 2)
        try:
            with _one_line_when_videos_do_not_stack():
                return super().torch_call(examples)
        finally:
            self.processor = processor


class _PromptVideos:
    """A processor that hands `videos` (frames and rates) to its left-padded call: the prompts' encoding in TRL's
    preference collator; every other use passes through."""

    def __init__(self, processor, videos: list[Video]) -> None:
        self._processor, self._videos = processor, videos

    def __call__(self, *args, **kwargs):
        if kwargs.get("padding_side") == "left":
            kwargs |= {"videos": [video.frames for video in self._videos], **video_metadata(self._videos)}
        return self._processor(*args, **kwargs)

    def __getattr__(self, name: str):
        return getattr(self._processor, name)


class VideoDPOTrainer(DPOTrainer):
    """`trl.DPOTrainer` whose vision collator also takes videos (`VideoPreferenceCollator`): the videos' tensors
    reach every forward (policy and reference) with the rest of the collator's output."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        collator = self.data_collator
        if type(collator) is DataCollatorForVisionPreference:
            fields = {name: getattr(collator, name) for name in _field_names(collator)}
            self.data_collator = VideoPreferenceCollator(**fields)

    def _set_signature_columns_if_needed(self):
        super()._set_signature_columns_if_needed()
        if self._is_vision_dataset:
            self._signature_columns = [*self._signature_columns, VIDEO_COLUMN, VIDEO_FPS_COLUMN]


def check_one_medium(dataset) -> None:
    """GRPO's picture path (TRL's) and video path (`VideoGRPOTrainer`) cannot share a generation batch: TRL
    re-encodes the prompts with their pictures alone for the training forward, and a video prompt's placeholder
    then has no video. One line before the model loads, not a failure at the first mixed batch."""
    import pyarrow.compute as pc

    columns = [name for name in (VIDEO_FPS_COLUMN, "image", "images") if name in dataset.column_names]
    if VIDEO_FPS_COLUMN not in columns or len(columns) == 1:
        return
    table = dataset.select_columns(columns).with_format("arrow")[:]
    videos = len(table) - table.column(VIDEO_FPS_COLUMN).null_count
    if "images" in columns:
        pictures = int(pc.sum(pc.greater(pc.list_value_length(table.column("images")), 0)).as_py() or 0)
    else:
        pictures = len(table) - table.column("image").null_count
    if videos and pictures:
        raise UserError(
            f"GRPO trains on rows with pictures or rows with a video, not both in one dataset yet ({pictures} with "
            f"pictures, {videos} with a video): split the data and train on each"
        )


class VideoGRPOTrainer(GRPOTrainer):
    """`trl.GRPOTrainer` that also trains on prompts showing a video (see the module docstring)."""

    _rollout_videos: list[list[Video]] | None = None  # the videos of the rows being generated for
    _forward_videos: list[dict[str, torch.Tensor]] | None = None  # per row: its video tensors, for the forwards

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        data = self.train_dataset
        token = getattr(self.model.config, "video_token_id", None)
        suppressed = getattr(getattr(self, "generation_config", None), "suppress_tokens", None)
        if data is not None and VIDEO_COLUMN in data.column_names and token is not None and suppressed is not None:
            # as TRL does for the image token: a sampled video token would mismatch the video features
            self.generation_config.suppress_tokens = [*suppressed, token]

    def _generate_and_score_completions(self, inputs):
        videos = [row_videos(row) for row in inputs]
        if not any(videos):
            return super()._generate_and_score_completions(inputs)
        if self.use_vllm:
            raise UserError(
                "GRPO generates for prompts with a video through transformers only: set use_vllm false (TRL's vLLM "
                "rollouts take pictures)"
            )
        if any(shown and (row.get("images") or row.get("image") is not None) for row, shown in zip(inputs, videos)):
            raise UserError("a GRPO prompt shows pictures or a video, not both (TRL rebuilds its pictures alone)")
        # no picture in this batch: drop the empty picture cells, which TRL would count as pictures to encode
        inputs = [
            {
                **{k: v for k, v in row.items() if k not in ("image", "images")},
                "prompt": with_video_frames(row["prompt"], shown),
            }
            for row, shown in zip(inputs, videos)
        ]
        self._rollout_videos = videos
        try:
            with _one_line_when_videos_do_not_stack():
                output = super()._generate_and_score_completions(inputs)
        finally:
            self._rollout_videos = None
        output["video_inputs"] = self._forward_videos
        self._forward_videos = None
        return output

    def _tokenize_prompts(self, prompts: list):
        """TRL's tokenization, given each video's rate; keeps each row's video tensors for the forward passes."""
        if self._rollout_videos is None:
            return super()._tokenize_prompts(prompts)
        saved = self.chat_template_kwargs
        extra = video_metadata([video for shown in self._rollout_videos for video in shown])
        processor_kwargs = {**saved.get("processor_kwargs", {}), **extra}
        self.chat_template_kwargs = {**saved, "processor_kwargs": processor_kwargs}
        try:
            with _one_line_when_videos_do_not_stack():
                prompt_ids, images, fields = super()._tokenize_prompts(prompts)
        finally:
            self.chat_template_kwargs = saved
        self._forward_videos = _per_row(fields, [len(shown) for shown in self._rollout_videos])
        return prompt_ids, images, fields

    def _compute_loss(self, model, inputs):
        self._forward_videos = inputs.get("video_inputs")
        try:
            return super()._compute_loss(model, inputs)
        finally:
            self._forward_videos = None

    def _get_per_token_logps_and_entropies(self, model, input_ids, *args, **kwargs):
        rows = self._forward_videos
        if not rows or not any(rows):
            return super()._get_per_token_logps_and_entropies(model, input_ids, *args, **kwargs)
        batch_size = kwargs.get("batch_size") or (args[2] if len(args) > 2 and args[2] else None) or input_ids.size(0)
        chunks = [rows[start : start + batch_size] for start in range(0, input_ids.size(0), batch_size)]
        target = _video_module(model)
        takes_types = "mm_token_type_ids" in inspect.signature(target.forward).parameters
        video_token = getattr(self.processing_class, "video_token_id", None)

        def add_videos(module, hook_args, hook_kwargs):
            chunk = chunks.pop(0) if chunks else []
            present = [row for row in chunk if row]
            if present:
                device = hook_kwargs["input_ids"].device
                for key in present[0]:
                    hook_kwargs[key] = torch.cat([row[key] for row in present]).to(device)
                if takes_types and hook_kwargs.get("mm_token_type_ids") is None and video_token is not None:
                    hook_kwargs["mm_token_type_ids"] = (hook_kwargs["input_ids"] == video_token).int() * 2
            return hook_args, hook_kwargs

        handle = target.register_forward_pre_hook(add_videos, with_kwargs=True)
        try:
            return super()._get_per_token_logps_and_entropies(model, input_ids, *args, **kwargs)
        finally:
            handle.remove()


@contextmanager
def _one_line_when_videos_do_not_stack():
    """LLaVA-OneVision's processor stacks a batch's videos into one tensor: videos of other frame counts or sizes
    in one batch fail deep inside it. One line instead, saying what to change."""
    try:
        yield
    except (ValueError, RuntimeError) as err:
        if not any(words in str(err) for words in UNSTACKABLE):
            raise
        raise UserError(
            "this model's processor stacks a batch's videos into one tensor, and this batch's videos differ in frame "
            "count or size: give every video as many frames (video_max_frames) of one size, or train on batches of "
            "one video (per_device_train_batch_size 1; GRPO: per_device_train_batch_size = num_generations)"
        ) from err


def _per_row(fields: dict[str, Any], counts: list[int]) -> list[dict[str, torch.Tensor]]:
    """The processor's video outputs for a batch (videos in row order) as one dict per row (empty: no video).
    Qwen's `pixel_values_videos` are patch rows (`video_grid_thw` says how many per video); LLaVA-OneVision's are
    one entry per video."""
    values = {key: fields[key] for key in VIDEO_KEYS if key in fields}
    values = {key: value if isinstance(value, torch.Tensor) else _stacked(value) for key, value in values.items()}
    grid = values.get("video_grid_thw")
    per_video = grid.prod(-1).tolist() if grid is not None else [1] * sum(counts)
    rows, video, offset = [], 0, 0
    for count in counts:
        if not count:
            rows.append({})
            continue
        patches = sum(per_video[video : video + count])
        row = {}
        for key, value in values.items():
            row[key] = (
                value[offset : offset + patches]
                if key == "pixel_values_videos" and grid is not None
                else value[video : video + count]
            )
        rows.append(row)
        video, offset = video + count, offset + patches
    return rows


def _stacked(value: list) -> torch.Tensor:
    """A processor output given as a list (one entry per video) as one tensor; videos of different shapes cannot
    be, which `_one_line_when_videos_do_not_stack` reports."""
    import numpy as np

    return torch.as_tensor(np.stack([np.asarray(item) for item in value]))


def _video_module(model) -> torch.nn.Module:
    """The innermost module that takes the video inputs (the `...ForConditionalGeneration` under peft / DDP)."""
    for module in model.modules():
        if "pixel_values_videos" in inspect.signature(module.forward).parameters:
            return module
    raise UserError(f"{type(model).__name__} takes no video (its forward has no `pixel_values_videos`)")
