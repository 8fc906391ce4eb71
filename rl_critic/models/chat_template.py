"""Chat templates: a checkpoint's, rendered with a bound on what it may add, and the hub ones rl-critic knows.

A chat template is code that ships with a checkpoint (jinja, run in transformers' sandbox). The sandbox keeps it
from touching files or Python objects, not from building a huge string: `{{ "x" * 2000000000 }}` renders a 2 GB
prompt, and tokenizing it took 24 GB of memory before the kernel killed `generate` after 88 s (measured on the
tiny model with that template). What a template legitimately adds is role markers, a system prompt and image
placeholders: hundreds of characters per message. So every prompt the project renders itself goes through
`render_chat`, which refuses one that adds more than `MAX_TEMPLATE_CHARACTERS` before anything tokenizes it, and
`check_chat_template` renders a one-question chat when the processor loads, so a broken template is one line
before any work (TRL's trainers render their own prompts after that check). That first rendering runs in a child
process with a time and memory limit: in the process itself, the 2 GB template above took 46 s and 8.6 GB before
`render_chat` could refuse it; in the child it is refused in a few seconds.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Sequence

from rl_critic.ground.errors import UserError, first_line

# Far above any real template's additions (Qwen2.5-VL adds 74 characters to a one-question chat; long system
# prompts are a few thousand), far below what would make tokenizing hurt.
MAX_TEMPLATE_CHARACTERS = 1_000_000
# The load-time check's limits: a real template renders a one-question chat in milliseconds and kilobytes.
CHECK_SECONDS = 20
CHECK_MEMORY_BYTES = 2**30
# llava-hf's LLaVA-OneVision template, byte for byte as its checkpoints ship it: the tiny hub-like checkpoints carry
# it, and SFT recognises it to swap in a training version (`rl_critic.train.chat_templates`).
ONEVISION_CHAT_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n'}}{# Render all images first #}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}{{ '<image>\\n' }}{% endfor %}"
    "{# Render all video then #}{% for content in message['content'] | selectattr('type', 'equalto', 'video') %}"
    "{{ '<video>\\n' }}{% endfor %}{# Render all text next #}{% if message['role'] != 'assistant' %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{{ content['text'] }}"
    "{% endfor %}{% else %}{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}"
    "{% generation %}{{ content['text'] }}{% endgeneration %}{% endfor %}{% endif %}{{'<|im_end|>' + '\\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


def conversation_characters(conversation: Sequence[dict]) -> int:
    """Characters of text in a conversation's messages (string or content-part messages)."""
    total = 0
    for message in conversation:
        content = message.get("content")
        if isinstance(content, str):
            total += len(content)
        else:
            total += sum(len(part.get("text") or "") for part in content or [] if isinstance(part, dict))
    return total


def render_chat(processor, conversation: Sequence[dict], add_generation_prompt: bool = True) -> str:
    """`conversation` as the processor's chat template writes it (not tokenized); a `UserError` when the template
    adds more than `MAX_TEMPLATE_CHARACTERS` to the conversation's own text."""
    text = processor.apply_chat_template(conversation, add_generation_prompt=add_generation_prompt, tokenize=False)
    own = conversation_characters(conversation)
    if isinstance(text, str) and len(text) - own > MAX_TEMPLATE_CHARACTERS:
        raise UserError(
            f"the chat template turns a chat of {own:,} characters into a prompt of {len(text):,}: a template adds "
            f"role markers and placeholders, not over {MAX_TEMPLATE_CHARACTERS:,} characters (a broken or hostile "
            "chat_template; nothing was tokenized)"
        )
    return text


def check_chat_template(processor, name: str) -> None:
    """Render a one-question conversation with the checkpoint's chat template, so that a missing, empty,
    broken, raising or runaway template is one line when the processor loads, not a jinja traceback (or a
    tokenizer eating the memory) mid-run."""
    conversation = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What is shown?"}]}]
    outcome = _render_within_limits(processor, conversation)
    if "refused" in outcome:
        raise UserError(f"{name}: {outcome['refused']}")
    error = outcome.get("error")
    if error is not None:  # jinja2's TemplateSyntaxError / TemplateError, transformers' ValueError, ...
        if "does not have a chat template" in error or "chat_template is not set" in error:
            raise UserError(f"{name} has no chat template (chat_template.jinja or the tokenizer's)")
        raise UserError(f"the chat template of {name} fails on a one-question chat: {error}")
    text = outcome.get("text")
    if not isinstance(text, str) or not text.strip():
        raise UserError(f"the chat template of {name} renders a chat as nothing")


def _render_within_limits(processor, conversation: list[dict]) -> dict[str, str]:
    """`{"text"}`, `{"refused"}` (by `render_chat`) or `{"error"}` of rendering `conversation`, in a child process
    that gets `CHECK_SECONDS` and `CHECK_MEMORY_BYTES` more than this one holds (in this process where there is no
    `fork`)."""
    if not hasattr(os, "fork"):
        return _render_outcome(processor, conversation)
    read_end, write_end = os.pipe()
    with warnings.catch_warnings():  # "fork() may lead to deadlocks" in a threaded process: the child only renders
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:
        try:
            os.close(read_end)
            _limit_this_process(CHECK_SECONDS, CHECK_MEMORY_BYTES)
            outcome = _render_outcome(processor, conversation)
            with os.fdopen(write_end, "w") as pipe:
                json.dump(outcome, pipe)
        finally:
            os._exit(0)  # never the parent's clean-up (atexit, buffered output) in the child
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        answer = pipe.read()
    _, status = os.waitpid(pid, 0)
    if answer:
        return json.loads(answer)
    if os.WIFSIGNALED(status):
        return {"error": f"it did not render within {CHECK_SECONDS} s and {CHECK_MEMORY_BYTES // 2**30} GB"}
    return {"error": f"rendering it needs more than {CHECK_MEMORY_BYTES // 2**30} GB of memory"}


def _render_outcome(processor, conversation: list[dict]) -> dict[str, str]:
    try:
        return {"text": render_chat(processor, conversation)}
    except UserError as err:
        return {"refused": str(err)}
    except MemoryError:
        return {"error": f"rendering it needs more than {CHECK_MEMORY_BYTES // 2**30} GB of memory"}
    except Exception as err:
        return {"error": first_line(err)}


def _limit_this_process(seconds: int, memory: int) -> None:
    """End this process after `seconds` (SIGALRM's default action) and let it map at most `memory` more bytes."""
    import resource
    import signal

    signal.signal(signal.SIGALRM, signal.SIG_DFL)
    signal.alarm(seconds)
    try:
        with open("/proc/self/statm") as handle:  # Linux: the first field is the mapped size in pages
            mapped = int(handle.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return  # elsewhere the time limit alone
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = mapped + memory
    if hard == resource.RLIM_INFINITY or limit <= hard:
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
