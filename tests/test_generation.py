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
