"""`rl-critic generate`: answer one prompt about image(s) or a video with any model, through the shared loader.

The smallest end-to-end check that a checkpoint, its processor, chat template and image pipeline work
together: `rl-critic generate --model tiny --image examples/shape.png --prompt "What colour is it?"`
(`--video clip.mp4`, or `--video frame1.png frame2.png ...`, for a video).
Flags are TRL-style dataclass fields (also settable from a YAML file with `--config`).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field

from rl_critic.cli.dispatch import docstring_summary
from rl_critic.models.loader import InferenceModelArguments
from rl_critic.script.parsing import parse, renamed


@dataclass
class GenerateArguments:
    prompt: str = field(metadata={"help": "The user's text."})
    image: list[str] = field(
        default_factory=list,
        metadata={"help": "Image path(s), URL(s) or data URI(s), shown before the prompt in this order."},
    )
    video: list[str] = field(
        default_factory=list,
        metadata={
            "help": "A video shown after the images: one video file (sampled at video_fps, up to video_max_frames), "
            "or its frames as picture files, in order."
        },
    )
    max_new_tokens: int = field(default=64, metadata={"help": "Tokens to generate at most."})
    do_sample: bool = field(default=False, metadata={"help": "Sample instead of greedy decoding."})
    temperature: float = field(default=1.0, metadata={"help": "Sampling temperature (with --do_sample)."})
    top_p: float = field(default=1.0, metadata={"help": "Nucleus sampling mass (with --do_sample)."})
    n: int = field(default=1, metadata={"help": "Completions to return.", "aliases": renamed("num_return_sequences")})
    seed: int = field(default=0, metadata={"help": "Random seed for sampling."})
    json: bool = field(default=False, metadata={"help": "Print one JSON object instead of plain text."})


ARGUMENTS = (GenerateArguments, InferenceModelArguments)


def main(argv: list[str]) -> int:
    gen_args, model_args = parse(ARGUMENTS, "rl-critic generate", argv, docstring_summary(__doc__))

    from transformers import set_seed

    from data_converters.images import ImageFolder
    from data_converters.prompts import user_prompt
    from rl_critic.generation.engines import load_engine
    from rl_critic.generation.hf import HFEngine
    from rl_critic.generation.prompts import encode_prompts
    from rl_critic.generation.settings import SamplingSettings, policy_engine_settings
    from rl_critic.models.media import Media, MediaBudget
    from rl_critic.models.video import load_video
    from rl_critic.models.vision import load_image

    settings = SamplingSettings(  # settings that cannot work are refused before anything loads
        max_new_tokens=gen_args.max_new_tokens,
        do_sample=gen_args.do_sample,
        temperature=gen_args.temperature,
        top_p=gen_args.top_p,
        num_return_sequences=gen_args.n,
    )
    typed = ImageFolder(None, None, urls="any")  # paths and URLs the user typed are the user's own request
    budget = MediaBudget.of(model_args)
    images = [load_image(src, budget.min_pixels, budget.max_pixels, typed) for src in gen_args.image]
    video = gen_args.video[0] if len(gen_args.video) == 1 else gen_args.video  # one file, or the frames of one
    media = Media(images, [load_video(video, budget, typed)] if video else [])
    start = time.perf_counter()
    engine = load_engine(policy_engine_settings(model_args), model_args)
    load_seconds = time.perf_counter() - start
    set_seed(gen_args.seed)
    conversation = user_prompt(gen_args.prompt, len(media.images), len(media.videos))
    start = time.perf_counter()
    [counted] = engine.generate_counted([conversation], [media], settings)
    generate_seconds = time.perf_counter() - start
    completions = [text for text, _ in counted]

    report = {
        "model": model_args.model_name_or_path,
        "engine": model_args.engine,
        "image_sizes": [list(img.size) for img in images],
        "videos": [{"frames": len(video.frames), "fps": round(video.fps, 3)} for video in media.videos],
        "load_seconds": round(load_seconds, 3),
        "generate_seconds": round(generate_seconds, 3),
        "generated_tokens": [tokens for _, tokens in counted],
        "settings": asdict(settings),
        "completions": completions,
    }
    image_tokens = None
    if isinstance(engine, HFEngine):  # the prompt's token counts need the processor, loaded only here
        processor = engine.processor
        encoded = encode_prompts(processor, [conversation], [media], "cpu")
        image_tokens = _count(encoded, getattr(processor, "image_token_id", None))
        report.update(
            model_type=engine.model.config.model_type,
            prompt_tokens=int(encoded["input_ids"].shape[1]),
            image_tokens=image_tokens,
            video_tokens=_count(encoded, getattr(processor, "video_token_id", None)),
        )
    if gen_args.json:
        print(json.dumps(report, ensure_ascii=False))
        return 0
    if image_tokens is None:
        print(f"{report['model']} (engine {model_args.engine}): generated in {generate_seconds:.2f} s")
    else:
        print(
            f"{report['model']} ({report['model_type']}): {report['prompt_tokens']} prompt tokens, "
            f"{image_tokens} image tokens"
            + (f", {report['video_tokens']} video tokens" if media.videos else "")
            + f", generated in {generate_seconds:.2f} s"
        )
    for i, (completion, tokens) in enumerate(counted):
        # A marker line before each completion: a model's answer may be blank lines or start with spaces.
        number = f" {i + 1} of {len(counted)}" if len(counted) > 1 else ""
        print(f"--- completion{number} ({tokens} tokens) ---")
        print(completion if completion.strip() else f"{completion!r} (only whitespace)")
    return 0


def _count(encoded, token_id: int | None) -> int:
    return int((encoded["input_ids"] == token_id).sum()) if token_id is not None else 0
