"""Best-of-8 self-critique, batched engine vs a naive loop: `python -m bench.best_of_n_speed`.

16 questions about drawn shapes, 8 sampled candidates each, knockout judging (up to 7 judgments per question:
identical candidates are a free tie) with greedy decoding, on the tiny Qwen2.5-VL. The batched engine samples
all candidates of a chunk of questions in one `generate` call and judges each knockout round of all questions
together; the naive loop makes one `generate` call per candidate and one per judgment. Both judge the *same* candidates
(sampling in a different batch layout draws different random numbers), so their picks must be identical.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "best_of_n.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=16)
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--batch-size", type=int, default=16)
    args = parser.parse_args()

    from PIL import Image
    from transformers import set_seed

    from data_converters.prompts import user_prompt
    from data_converters.synthetic import draw_scene, question_and_answers
    from rl_critic.critique.judge import Judge
    from rl_critic.critique.problem import Problem
    from rl_critic.critique.strategies import select
    from rl_critic.generation.hf import HFEngine, generate_counted
    from rl_critic.generation.settings import SamplingSettings
    from rl_critic.models.loader import ModelArguments, load_model_and_processor

    model, processor = load_model_and_processor(ModelArguments(model_name_or_path="tiny"))
    rng = random.Random(0)
    problems = []
    for _ in range(args.questions):
        png, objects = draw_scene(rng)
        _, question, _, _ = question_and_answers(rng, objects)
        problems.append(Problem(question=question, candidates=[], media=[Image.open(io.BytesIO(png)).convert("RGB")]))
    conversations = [user_prompt(p.question, 1) for p in problems]
    images = [p.images for p in problems]
    sampled = SamplingSettings(
        max_new_tokens=args.max_new_tokens, do_sample=True, temperature=1.0, top_p=0.99, num_return_sequences=args.n
    )
    one = SamplingSettings(max_new_tokens=args.max_new_tokens, do_sample=True, temperature=1.0, top_p=0.99)
    greedy = SamplingSettings(max_new_tokens=args.max_new_tokens)

    set_seed(0)
    start = time.perf_counter()
    batched_candidates = generate_counted(model, processor, conversations, images, sampled, args.batch_size)
    batched_generation = time.perf_counter() - start
    set_seed(0)
    start = time.perf_counter()
    for conversation, image in zip(conversations, images):
        for _ in range(args.n):
            generate_counted(model, processor, [conversation], [image], one, batch_size=1)
    naive_generation = time.perf_counter() - start

    for problem, outputs in zip(problems, batched_candidates):
        problem.candidates = [text for text, _ in outputs]
    timings, picks, calls, raws = {}, {}, {}, {}
    for name, batch_size in (("batched", args.batch_size), ("naive", 1)):
        judge = Judge(HFEngine(model, processor), greedy, batch_size=batch_size)
        judge.unreadable_ok = True  # a random tiny critic, timed: its verdicts are never read
        start = time.perf_counter()
        selections = select("knockout", problems, judge)
        timings[name] = time.perf_counter() - start
        picks[name] = [s.pick for s in selections]
        raws[name] = [j["raw"] for s in selections for j in s.judgments]
        calls[name] = judge.calls
    batched_total = batched_generation + timings["batched"]
    naive_total = naive_generation + timings["naive"]
    result = {
        "questions": args.questions,
        "n": args.n,
        "max_new_tokens": args.max_new_tokens,
        "judgments": calls["batched"],
        "identical_picks": picks["batched"] == picks["naive"],
        "identical_judgment_texts": raws["batched"] == raws["naive"],
        "parsed_verdicts": sum(1 for s in raws["batched"] if "boxed" in s),
        "batched_seconds": {
            "generation": round(batched_generation, 2),
            "judging": round(timings["batched"], 2),
            "total": round(batched_total, 2),
        },
        "naive_seconds": {
            "generation": round(naive_generation, 2),
            "judging": round(timings["naive"], 2),
            "total": round(naive_total, 2),
        },
        "speedup": {
            "generation": round(naive_generation / batched_generation, 2),
            "judging": round(timings["naive"] / timings["batched"], 2),
            "total": round(naive_total / batched_total, 2),
        },
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"benchmark": "best_of_n", **result}, indent=2) + "\n")
    print(f"best-of-{args.n} knockout on {args.questions} questions ({calls['batched']} judgments), tiny Qwen2.5-VL")
    print(f"{'':<10} {'generation s':>13} {'judging s':>10} {'total s':>8}")
    for name in ("batched", "naive"):
        seconds = result[f"{name}_seconds"]
        print(f"{name:<10} {seconds['generation']:>13.2f} {seconds['judging']:>10.2f} {seconds['total']:>8.2f}")
    print(
        f"speed-up   {result['speedup']['generation']:>12.2f}x {result['speedup']['judging']:>9.2f}x "
        f"{result['speedup']['total']:>7.2f}x"
    )
    print(
        f"identical picks: {result['identical_picks']}, identical judgment texts: "
        f"{result['identical_judgment_texts']} (an untrained tiny critic boxes no verdict, so picks are ties)"
    )
    print(f"-> {RESULTS}")


if __name__ == "__main__":
    main()
