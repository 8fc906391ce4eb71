"""Batched generation: left padding gives the same greedy text as one prompt at a time."""

from __future__ import annotations

import pytest

from data_converters.prompts import user_prompt
from rl_critic.generation.hf import generate
from rl_critic.generation.settings import SamplingSettings
from rl_critic.models.loader import ModelArguments, load_model_and_processor
from tests.conftest import shape_image


@pytest.mark.parametrize("name", ["tiny", "tiny-llava_onevision"])
def test_batched_greedy_equals_one_by_one(name):
    model, processor = load_model_and_processor(ModelArguments(model_name_or_path=name))
    conversations = [
        user_prompt("What colour is the circle?", 1),
        user_prompt("Describe the image in detail. Answer the question using a single word or phrase.", 1),
        user_prompt("Hi", 0),
    ]
    images = [[shape_image(56, 56)], [shape_image(112, 84, (30, 60, 220))], []]
    settings = SamplingSettings(max_new_tokens=8)
    batched = generate(model, processor, conversations, images, settings, batch_size=3)
    single = [generate(model, processor, [c], [i], settings)[0] for c, i in zip(conversations, images)]
    assert batched == single
    assert all(len(texts) == 1 and isinstance(texts[0], str) for texts in batched)


def test_sampling_returns_n_completions_per_prompt():
    model, processor = load_model_and_processor(ModelArguments(model_name_or_path="tiny"))
    settings = SamplingSettings(max_new_tokens=4, do_sample=True, temperature=1.0, top_p=0.99, num_return_sequences=3)
    out = generate(model, processor, [user_prompt("a", 1), user_prompt("b", 1)], [[shape_image()]] * 2, settings)
    assert [len(texts) for texts in out] == [3, 3]


def test_right_padding_is_refused():
    model, processor = load_model_and_processor(ModelArguments(model_name_or_path="tiny"))
    processor.tokenizer.padding_side = "right"
    with pytest.raises(ValueError, match="left-padding"):
        generate(model, processor, [user_prompt("a")])


@pytest.mark.parametrize("name", ["tiny", "tiny-llava_onevision", "tiny-like-qwen2.5-vl-7b-instruct"])
def test_a_video_reaches_the_model_with_its_frames_and_rate(name):
    """A `Media` with a video goes through the hf engine's one encoding: the frames as given (none resampled),
    the rate they were sampled at, beside pictures in the same batch; what the model answers depends on them."""
    from PIL import Image

    from rl_critic.generation.hf import generate_counted
    from rl_critic.generation.prompts import encode_prompts
    from rl_critic.models.media import Media, Video

    model, processor = load_model_and_processor(ModelArguments(model_name_or_path=name))

    def frames(colour):
        return [Image.new("RGB", (112, 112), colour) for _ in range(4)]

    conversations = [user_prompt("What colour?", 0, 1), user_prompt("What colour?", 1, 1)]
    media = [Media(videos=[Video(frames("red"), fps=2.0)]), Media([shape_image()], [Video(frames("blue"), fps=1.0)])]
    inputs = encode_prompts(processor, conversations, media, "cpu")
    assert "pixel_values_videos" in inputs and "pixel_values" in inputs
    if "video_grid_thw" in inputs:  # Qwen2.5-VL: 4 frames in temporal patches of 2, seconds per patch from the rate
        assert inputs["video_grid_thw"][:, 0].tolist() == [2, 2]
        assert inputs["second_per_grid_ts"].tolist() == [1.0, 2.0]
    settings = SamplingSettings(max_new_tokens=6)
    answers = {
        colour: generate_counted(model, processor, conversations[:1], [Media(videos=[Video(frames(colour))])], settings)
        for colour in ("red", "blue", "green")
    }
    assert all(len(answer[0][0][0]) > 0 for answer in answers.values())
    if name.startswith("tiny-like"):  # random weights emit distinct tokens: the frames change the answer
        assert len({answer[0][0][0] for answer in answers.values()}) > 1, answers
