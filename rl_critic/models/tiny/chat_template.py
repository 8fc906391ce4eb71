"""Chat templates for the tiny models, written in each family's own style (ChatML turns).

They differ only where the real families differ: the image placeholder (`<|vision_start|><|image_pad|>
<|vision_end|>` for Qwen2.5-VL, `<image>` for LLaVA-OneVision) and Qwen's default system prompt. The
processor expands each placeholder to the right number of image tokens.

The assistant turn, up to and including `<|im_end|>`, sits inside `{% generation %}` so TRL's
`assistant_only_loss=True` masks everything but the assistant's words, including the end-of-turn token
(without it the model never learns to stop).
"""

from __future__ import annotations

_PLACEHOLDERS = {
    "qwen2_5_vl": ("<|vision_start|><|image_pad|><|vision_end|>", "<|vision_start|><|video_pad|><|vision_end|>"),
    "llava_onevision": ("<image>\n", "<video>\n"),
}
_DEFAULT_SYSTEM = {
    "qwen2_5_vl": "You are a helpful assistant.",
    "llava_onevision": None,
}

_CONTENT = """\
{%- if message['content'] is string %}
    {{- message['content'] }}
{%- else %}
    {%- for part in message['content'] %}
        {%- if part['type'] == 'image' or 'image' in part or 'image_url' in part %}
            {{- IMAGE }}
        {%- elif part['type'] == 'video' or 'video' in part %}
            {{- VIDEO }}
        {%- elif 'text' in part %}
            {{- part['text'] }}
        {%- endif %}
    {%- endfor %}
{%- endif %}"""


def chat_template(family: str) -> str:
    """Return the Jinja chat template of a model family (`qwen2_5_vl` or `llava_onevision`)."""
    if family not in _PLACEHOLDERS:
        raise ValueError(f"unknown model family {family!r}; expected one of {sorted(_PLACEHOLDERS)}")
    image, video = _PLACEHOLDERS[family]
    content = _CONTENT.replace("IMAGE", repr(image)).replace("VIDEO", repr(video))
    system = _DEFAULT_SYSTEM[family]
    default_system = (
        "{%- if loop.first and message['role'] != 'system' %}\n"
        f"    {{{{- '<|im_start|>system\\n{system}<|im_end|>\\n' }}}}\n"
        "{%- endif %}\n"
        if system
        else ""
    )
    return (
        "{%- for message in messages %}\n" + default_system + "{%- if message['role'] == 'assistant' %}\n"
        "{{- '<|im_start|>assistant\\n' }}\n"
        "{%- generation %}\n" + content + "\n{{- '<|im_end|>' }}\n"
        "{%- endgeneration %}\n"
        "{{- '\\n' }}\n"
        "{%- else %}\n"
        "{{- '<|im_start|>' + message['role'] + '\\n' }}\n" + content + "\n{{- '<|im_end|>\\n' }}\n"
        "{%- endif %}\n"
        "{%- endfor %}\n"
        "{%- if add_generation_prompt %}\n"
        "{{- '<|im_start|>assistant\\n' }}\n"
        "{%- endif %}\n"
    )
