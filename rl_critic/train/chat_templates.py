"""Training chat templates for hub templates whose `{% generation %}` block leaves out the end of the turn.

SFT with `assistant_only_loss` trains on what `{% generation %}` marks. TRL swaps in a training template
for the models it knows (Qwen2.5-VL among them); llava-hf's LLaVA-OneVision template marks the assistant's
text but not the `<|im_end|>` after it, so a critic fine-tuned on it never learns to stop (TRL warns:
"The chat template does not include the assistant turn's end-of-turn token in the loss mask"). The
replacement renders the same text byte for byte and moves `<|im_end|>` inside the block (a test checks
both).
"""

from __future__ import annotations

import logging

from rl_critic.models.chat_template import ONEVISION_CHAT_TEMPLATE

logger = logging.getLogger("rl_critic")

ONEVISION_TRAINING_CHAT_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n'}}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}{{ '<image>\\n' }}{% endfor %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'video') %}{{ '<video>\\n' }}{% endfor %}"
    "{% if message['role'] != 'assistant' %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{{ content['text'] }}{% endfor %}"
    "{{'<|im_end|>' + '\\n'}}{% else %}{% generation %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{{ content['text'] }}{% endfor %}"
    "{{'<|im_end|>'}}{% endgeneration %}{{'\\n'}}{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
# hub template -> its training version (identity comparison, as TRL recognises templates)
TRAINING_TEMPLATES = {ONEVISION_CHAT_TEMPLATE: ONEVISION_TRAINING_CHAT_TEMPLATE}


def use_training_chat_template(processor) -> bool:
    """Swap a known hub template for its training version (on the processor and its tokenizer); True if swapped."""
    training = TRAINING_TEMPLATES.get(getattr(processor, "chat_template", None) or "")
    if training is None:
        return False
    processor.chat_template = training
    tokenizer = getattr(processor, "tokenizer", None)
    if tokenizer is not None and getattr(tokenizer, "chat_template", None):
        tokenizer.chat_template = training
    logger.info("assistant_only_loss: using a training chat template that puts <|im_end|> in the loss")
    return True
