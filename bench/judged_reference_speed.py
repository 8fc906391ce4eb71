"""LLaVA-Bench reference reviews, batched judge vs one generate per review: `python -m bench.judged_reference_speed`.

200 questions about drawn shapes, each with a reference answer and a policy answer of a few sentences, reviewed by the
tiny Qwen2.5-VL as a critic in LLaVA-Bench-in-the-Wild's review layout (`rl_critic.evaluation.judged`), greedy. The
batched judge sends `batch_size` reviews per `generate` call; the naive loop one. Greedy decoding: the review texts
must be identical. Reviews are long (the scores, then an explanation: LLaVA asks for up to 1,024 tokens); the
speed-up grows with their length, since batching shares each decoding step (measured on 2 CPU cores: 4.64x at 32
new tokens, 6.62x at 64, 8.05x at 128, the default).
"""

from __future__ import annotations

import argparse
import io
import json
import random
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "judged_reference.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--max-new-tokens", type=int, default=128)  # a review: the scores, then an explanation
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()

    from PIL import Image

    from data_converters.synthetic import draw_scene, question_and_answers
    from rl_critic.critique.judge import Judge
    from rl_critic.critique.judgments import PairRequest
    from rl_critic.evaluation.judged import review_prompt
    from rl_critic.generation.hf import HFEngine
    from rl_critic.generation.settings import SamplingSettings
    from rl_critic.models.loader import ModelArguments, load_model_and_processor
    from rl_critic.models.media import Media

    model, processor = load_model_and_processor(ModelArguments(model_name_or_path="tiny"))
    rng = random.Random(0)
    requests = []
    for _ in range(args.questions):
        png, objects = draw_scene(rng)
        _, question, right, wrong = question_and_answers(rng, objects)
        reference = f"The answer is {right}. The picture shows {len(objects)} shape(s) on a plain background."
        answer = f"I think it is {rng.choice([right, wrong])}."
        prompt = review_prompt(f"A drawing of {len(objects)} shape(s).", question, reference, answer, "conv")
        image = Image.open(io.BytesIO(png)).convert("RGB")
        requests.append(PairRequest(question, reference, answer, Media([image]), prompt))
    greedy = SamplingSettings(max_new_tokens=args.max_new_tokens)
    timings, raws = {}, {}
    for name, batch_size in (("batched", args.batch_size), ("naive", 1)):
        judge = Judge(HFEngine(model, processor), greedy, batch_size=batch_size)
        judge.unreadable_ok = True  # a random tiny critic, timed: its verdicts are never read
        start = time.perf_counter()
        raws[name] = [judgment.raw for judgment in judge.score_pairs(requests)]
        timings[name] = time.perf_counter() - start
    result = {
        "questions": args.questions,
        "max_new_tokens": args.max_new_tokens,
        "batch_size": args.batch_size,
        "identical_reviews": raws["batched"] == raws["naive"],
        "batched_seconds": round(timings["batched"], 2),
        "naive_seconds": round(timings["naive"], 2),
        "speedup": round(timings["naive"] / timings["batched"], 2),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"benchmark": "judged_reference", **result}, indent=2) + "\n")
    print(f"LLaVA-Bench reviews of {args.questions} answers by the tiny Qwen2.5-VL critic (greedy)")
    print(f"{'':<10} {'seconds':>8}")
    print(f"{'batched':<10} {result['batched_seconds']:>8.2f}\n{'naive':<10} {result['naive_seconds']:>8.2f}")
    print(f"speed-up   {result['speedup']:>7.2f}x; identical reviews: {result['identical_reviews']}")
    print(f"-> {RESULTS}")


if __name__ == "__main__":
    main()
