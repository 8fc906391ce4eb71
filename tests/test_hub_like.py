"""Hub-faithful tiny models (`--model tiny-like-...`), the OneVision training template, the pixel budget."""

from __future__ import annotations

import importlib.resources
import json

import pytest

from rl_critic.models.tiny import ensure_tiny_model
from rl_critic.models.tiny.hub_like import ONEVISION_7B, QWEN_7B, like_name
from tests.conftest import shape_image


@pytest.fixture(scope="module")
def like_dirs():
    return {hub_id: ensure_tiny_model(like=hub_id) for hub_id in (QWEN_7B, ONEVISION_7B)}


def test_qwen_like_files_carry_the_hub_values(like_dirs):
    from transformers import AutoProcessor

    folder = like_dirs[QWEN_7B]
    config = json.loads((folder / "config.json").read_text())
    text, vision = config["text_config"], config["vision_config"]
    assert (config["image_token_id"], config["video_token_id"]) == (151655, 151656)
    assert (config["vision_start_token_id"], config["vision_end_token_id"]) == (151652, 151653)
    assert text["vocab_size"] == 152064 and config["tie_word_embeddings"] is False
    assert text["rope_parameters"]["mrope_section"] == [4, 6, 6]  # [16, 24, 24] scaled to head_dim 32
    assert sum(text["rope_parameters"]["mrope_section"]) * 2 == text["hidden_size"] // text["num_attention_heads"]
    assert vision["fullatt_block_indexes"] == [1, 3] and vision["window_size"] == 112
    assert (vision["patch_size"], vision["spatial_merge_size"], vision["temporal_patch_size"]) == (14, 2, 2)
    generation = json.loads((folder / "generation_config.json").read_text())
    assert generation["eos_token_id"] == [151645, 151643] and generation["pad_token_id"] == 151643
    assert generation["do_sample"] is True and generation["top_k"] == 1
    processor = AutoProcessor.from_pretrained(folder)
    tokenizer = processor.tokenizer
    names = [
        "<|endoftext|>",
        "<|im_start|>",
        "<|im_end|>",
        "<|vision_start|>",
        "<|vision_end|>",
        "<|vision_pad|>",
        "<|image_pad|>",
        "<|video_pad|>",
    ]
    ids = tokenizer.convert_tokens_to_ids(names)
    assert ids == [151643, 151644, 151645, 151652, 151653, 151654, 151655, 151656]
    assert tokenizer.padding_side == "right"  # as the hub; the loader pads left
    trl_template = (importlib.resources.files("trl") / "chat_templates" / "qwen2_5_vl.jinja").read_text()
    assert processor.chat_template == trl_template  # byte for byte
    from trl.chat_template_utils import get_training_chat_template

    assert get_training_chat_template(processor) is not None  # TRL recognises it and swaps for SFT
    assert processor.image_processor.size == {"shortest_edge": 3136, "longest_edge": 12845056}


def test_onevision_like_files_carry_the_hub_values(like_dirs):
    from transformers import AutoProcessor

    folder = like_dirs[ONEVISION_7B]
    config = json.loads((folder / "config.json").read_text())
    assert (config["image_token_index"], config["video_token_index"]) == (151646, 151647)
    assert config["text_config"]["vocab_size"] == 152128 and config["tie_word_embeddings"] is False
    assert config["vision_config"]["image_size"] == 384 and config["vision_config"]["patch_size"] == 14
    assert config["vision_feature_select_strategy"] == "full" and config["vision_aspect_ratio"] == "anyres_max_9"
    assert len(config["image_grid_pinpoints"]) == 36 and [2304, 2304] in config["image_grid_pinpoints"]
    processor = AutoProcessor.from_pretrained(folder)
    assert processor.num_image_tokens == 729 == (384 // 14) ** 2
    assert processor.tokenizer.convert_tokens_to_ids(["<|im_end|>", "<image>", "<video>"]) == [151645, 151646, 151647]
    assert list(processor.image_processor.image_mean) == [0.5, 0.5, 0.5]


def test_every_command_takes_the_like_names(like_dirs, capsys):
    from rl_critic.cli import main

    for hub_id in (QWEN_7B, ONEVISION_7B):
        assert (
            main(
                [
                    "generate",
                    "--model",
                    like_name(hub_id),
                    "--prompt",
                    "Colour?",
                    "--image",
                    "examples/red_circle.png",
                    "--max_new_tokens",
                    "2",
                    "--json",
                ]
            )
            == 0
        )
        record = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert record["image_tokens"] > 0 and len(record["completions"]) == 1
    assert main(["tiny-model", "--like", "Qwen/Qwen2-VL-7B", "--out", "/nonexistent/x"]) == 1
    assert "no hub-like layout" in capsys.readouterr().err


def test_onevision_training_template_renders_the_same_text_and_trains_on_im_end(like_dirs):
    from transformers import AutoProcessor

    from rl_critic.train.chat_templates import use_training_chat_template

    processor = AutoProcessor.from_pretrained(like_dirs[ONEVISION_7B])
    messages = [
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Which is better?"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "The first. \\boxed{1}"}]},
    ]
    hub_text = processor.apply_chat_template(messages, tokenize=False)
    assert use_training_chat_template(processor)
    assert processor.apply_chat_template(messages, tokenize=False) == hub_text
    encoded = processor.tokenizer.apply_chat_template(
        messages, tokenize=True, return_dict=True, return_assistant_tokens_mask=True
    )
    trained = [t for t, m in zip(encoded["input_ids"], encoded["assistant_masks"]) if m]
    assert trained[-1] == 151645 and 151644 not in trained  # <|im_end|> learnt; no <|im_start|>
    assert not use_training_chat_template(processor)  # already swapped: nothing to do


def _image_tokens(processor, row, images=None) -> int:
    images = images or (row["images"] if "images" in row else [row["image"]])
    text = processor.apply_chat_template(
        [{"role": "user", "content": [{"type": "image"} for _ in images] + [{"type": "text", "text": "x"}]}],
        tokenize=False,
    )
    encoded = processor(text=[text], images=[images], return_tensors="pt")
    return int((encoded["input_ids"] == processor.image_token_id).sum())


@pytest.mark.parametrize("hub_id", [QWEN_7B, ONEVISION_7B])
def test_max_pixels_cuts_image_tokens_in_training_and_eval(hub_id, like_dirs, tmp_path, monkeypatch):
    """A 1600x1200 picture: fewer image tokens when max_pixels drops, in both the training data the
    trainers read and the rows `eval critic` judges, for both families."""
    from datasets import Dataset

    from data_converters.convert import convert
    from data_converters.layouts import features
    from data_converters.synthetic import synthetic_rows
    from rl_critic.cli import main
    from rl_critic.models.loader import ModelArguments, load_processor
    from rl_critic.train.common import TrainScriptArguments, load_train_dataset

    rows = [dict(row, image=shape_image(1600, 1200)) for row in synthetic_rows(1, "pairwise", seed=1)]
    Dataset.from_list(rows, features=features()).to_parquet(str(tmp_path / "big.parquet"))
    for task in ("sft", "eval"):
        convert("llava-critic-pairwise", str(tmp_path / "big.parquet"), task, str(tmp_path / task))
    processor = load_processor(like_name(hub_id))

    training, judged = {}, {}
    import rl_critic.evaluation.critic as critic_eval

    real_judge_rows = critic_eval.judge_rows

    def spy(rows, judge, **kwargs):  # the images as `judge_rows` reads them from the (undecoded) rows
        judged[budget] = _image_tokens(processor, rows[0], kwargs["media"].load(rows[0]).images)
        return real_judge_rows(rows, judge, **kwargs)

    monkeypatch.setattr(critic_eval, "judge_rows", spy)
    for budget in (1_003_520, 200_704, 50_176):
        model_args = ModelArguments(model_name_or_path=like_name(hub_id), min_pixels=3136, max_pixels=budget)
        dataset = load_train_dataset(TrainScriptArguments(dataset_name=str(tmp_path / "sft")), model_args)
        assert isinstance(dataset, Dataset)
        training[budget] = _image_tokens(processor, dataset[0])
        assert (
            main(
                [
                    "eval",
                    "critic",
                    "--model",
                    like_name(hub_id),
                    "--data",
                    str(tmp_path / "eval"),
                    "--max_new_tokens",
                    "2",
                    "--min_pixels",
                    "3136",
                    "--max_pixels",
                    str(budget),
                    "--out",
                    str(tmp_path / f"e{budget}.json"),
                    "--unreadable_ok",  # an untrained model: no verdict, only the image tokens are measured
                    "true",
                ]
            )
            == 0
        )
    assert training[1_003_520] > training[200_704] > training[50_176] > 0, training
    assert judged == training, judged
