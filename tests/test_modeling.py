"""The shared loader: name resolution, pixel bounds, image loading, LoRA/QLoRA, checkpointing, freezing."""

from __future__ import annotations

import base64
import io

import pytest
import torch

from rl_critic.ground.errors import UserError
from rl_critic.models.loader import (
    ModelArguments,
    load_model,
    load_model_and_processor,
    load_processor,
    resolve_model_path,
    vision_tower,
)
from rl_critic.models.vision import load_image
from tests.conftest import shape_image


def _image_tokens(processor, image) -> int:
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "x"}]}]
    text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    inputs = processor(text=[text], images=[image], return_tensors="pt")
    return int((inputs["input_ids"] == processor.image_token_id).sum())


def _loss(model, processor, image) -> torch.Tensor:
    messages = [
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Which is better?"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "<think>ok</think>\\boxed{1}"}]},
    ]
    text = processor.apply_chat_template(messages, tokenize=False)
    inputs = processor(text=[text], images=[image], return_tensors="pt")
    return model(**inputs, labels=inputs["input_ids"]).loss


# --- name resolution -------------------------------------------------------------------------------


def test_tiny_names_resolve_to_cached_folders(tiny_dirs):
    assert resolve_model_path("tiny") == str(tiny_dirs["qwen2_5_vl"])
    assert resolve_model_path("tiny-llava_onevision") == str(tiny_dirs["llava_onevision"])


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("tiny-gpt5", "unknown tiny model 'tiny-gpt5'"),
        ("./no/such/folder", "model folder not found: ./no/such/folder"),
        ("/no/such/folder", "model folder not found"),
        ("", "no model given"),
    ],
)
def test_bad_model_names_are_clear_errors(name, message):
    with pytest.raises(UserError, match=message):
        resolve_model_path(name)


def test_folder_without_config_is_rejected(tmp_path):
    with pytest.raises(UserError, match="holds no config.json"):
        resolve_model_path(str(tmp_path))


def test_lora_adapter_folder_loads_base_plus_adapter(tmp_path):
    args = ModelArguments(model_name_or_path="tiny", use_peft=True, lora_r=4, lora_target_modules=["q_proj", "v_proj"])
    model, processor = load_model_and_processor(args, attach_peft=True)
    for name, param in model.named_parameters():
        if "lora_B" in name:
            param.data.fill_(0.5)  # a non-trivial adapter, so loading it changes the outputs
    model.save_pretrained(tmp_path)
    processor.save_pretrained(tmp_path)
    assert not (tmp_path / "config.json").exists()
    reloaded = load_model(ModelArguments(model_name_or_path=str(tmp_path)))
    base = load_model(ModelArguments(model_name_or_path="tiny"))
    with torch.no_grad():
        losses = [_loss(m.eval(), processor, shape_image()) for m in (model, reloaded, base)]
    torch.testing.assert_close(losses[1], losses[0])
    assert not torch.allclose(losses[2], losses[0])


def test_hub_ids_pass_through_and_fail_cleanly_offline():
    assert resolve_model_path("Qwen/Qwen2.5-VL-7B-Instruct") == "Qwen/Qwen2.5-VL-7B-Instruct"
    with pytest.raises(UserError, match="cannot load processor from 'nobody/no-such-model'"):
        load_processor("nobody/no-such-model")


# --- processor and pixel bounds --------------------------------------------------------------------


def test_processor_pads_left_and_pixel_bounds_change_image_tokens(tiny_dirs):
    big, small = shape_image(112, 112), shape_image(56, 56)
    default = load_processor("tiny")
    assert default.tokenizer.padding_side == "left"
    assert _image_tokens(default, big) == 16
    capped = load_processor("tiny", max_pixels=56 * 56)
    assert _image_tokens(capped, big) == 4
    raised = load_processor("tiny", min_pixels=112 * 112, max_pixels=224 * 224)
    assert _image_tokens(raised, small) == 16
    assert _image_tokens(load_processor("tiny", max_pixels=224 * 224), shape_image(224, 224)) == 64


def test_inconsistent_pixel_bounds_are_rejected():
    with pytest.raises(UserError, match="min_pixels .* is larger than max_pixels"):
        load_processor("tiny", min_pixels=10_000, max_pixels=100)


def test_load_image_from_path_data_uri_and_datasets_dict(tmp_path):
    image = shape_image(300, 200)
    path = tmp_path / "img.png"
    image.save(path)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    data_uri = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    for source in (str(path), path, data_uri, {"bytes": buffer.getvalue(), "path": None}, image):
        loaded = load_image(source, max_pixels=112 * 112)
        width, height = loaded.size
        assert loaded.mode == "RGB"
        assert width % 28 == 0 and height % 28 == 0 and width * height <= 112 * 112
        assert width > height  # aspect ratio kept
    assert load_image(path).size == (308, 196)  # default bounds: only rounding to multiples of 28


def test_load_image_errors_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="image file not found"):
        load_image(tmp_path / "missing.png")
    (tmp_path / "not-an-image.png").write_text("hello")
    with pytest.raises(UserError, match="cannot read image"):
        load_image(tmp_path / "not-an-image.png")


# --- model loading ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["tiny", "tiny-llava_onevision"])
def test_lora_attaches_and_trains_only_adapters(name):
    args = ModelArguments(model_name_or_path=name, use_peft=True, lora_r=4, lora_target_modules=["q_proj", "v_proj"])
    model, processor = load_model_and_processor(args, attach_peft=True)
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)
    before = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.5)
    # LoRA B starts at zero, so two steps: the first moves B, the second A.
    for _ in range(2):
        loss = _loss(model, processor, shape_image())
        assert torch.isfinite(loss)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    changed = [n for n, p in model.named_parameters() if p.requires_grad and not torch.equal(p, before[n])]
    assert any("lora_A" in n for n in changed) and any("lora_B" in n for n in changed)


@pytest.mark.parametrize("name", ["tiny", "tiny-llava_onevision"])
def test_gradient_checkpointing_attaches_and_keeps_gradients(name):
    """Checkpointing recomputes activations; the gradients must be those of a plain backward pass."""
    grads = []
    for checkpointing in (False, True):
        model, processor = load_model_and_processor(
            ModelArguments(model_name_or_path=name), gradient_checkpointing=checkpointing
        )
        assert model.is_activation_checkpointing is checkpointing
        model.train()
        loss = _loss(model, processor, shape_image())
        assert torch.isfinite(loss)
        loss.backward()
        grads.append({n: p.grad for n, p in model.named_parameters() if p.grad is not None})
    plain, checkpointed = grads
    assert plain.keys() == checkpointed.keys() and len(plain) > 10
    for name_, grad in plain.items():
        torch.testing.assert_close(checkpointed[name_], grad, msg=name_)


def test_gradient_checkpointing_with_lora():
    args = ModelArguments(model_name_or_path="tiny", use_peft=True, lora_r=4, lora_target_modules=["q_proj", "v_proj"])
    model, processor = load_model_and_processor(args, gradient_checkpointing=True, attach_peft=True)
    model.train()
    loss = _loss(model, processor, shape_image())
    loss.backward()
    assert all(p.grad is not None for n, p in model.named_parameters() if "lora_B" in n)


@pytest.mark.parametrize("name", ["tiny", "tiny-llava_onevision"])
def test_freeze_vision_tower(name):
    model = load_model(ModelArguments(model_name_or_path=name, freeze_vision_tower=True))
    tower = {id(p) for p in vision_tower(model).parameters()}
    assert tower
    for param in model.parameters():
        assert param.requires_grad is (id(param) not in tower)


def test_dtype_field_is_applied():
    model = load_model(ModelArguments(model_name_or_path="tiny", dtype="bfloat16"))
    assert next(model.parameters()).dtype == torch.bfloat16


def test_qlora_4bit_loads_and_trains_adapters():
    pytest.importorskip("bitsandbytes")
    import bitsandbytes as bnb

    args = ModelArguments(
        model_name_or_path="tiny", load_in_4bit=True, use_peft=True, lora_r=4, lora_target_modules=["q_proj", "v_proj"]
    )
    model, processor = load_model_and_processor(args, attach_peft=True)
    assert any(isinstance(m, bnb.nn.Linear4bit) for m in model.modules())
    loss = _loss(model, processor, shape_image())
    loss.backward()
    assert torch.isfinite(loss)
    assert all(p.grad is not None for n, p in model.named_parameters() if "lora_B" in n)


def test_attach_peft_without_use_peft_is_an_error():
    with pytest.raises(UserError, match="use_peft=True"):
        load_model(ModelArguments(model_name_or_path="tiny"), attach_peft=True)
