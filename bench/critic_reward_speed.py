"""The `critic_judge` GRPO reward, batched engine vs one `generate` per judgment: `python -m bench.critic_reward_speed`.

One GRPO step's reward call: 8 prompts (drawn shapes, one question each) x G=8 completions sampled from the
tiny Qwen2.5-VL policy, judged round-robin in both orders (8 x 56 = 448 judgments) by a tiny critic with
greedy decoding. Batched: all judgments of the call through the engine in batches; naive: the same reward
with a judge that makes one `generate` call per judgment. Greedy judging of the same pairs must give
identical rewards. Then the judge's share of a real step: a few `rl-critic train grpo` steps of the tiny
policy-critic recipe at the same size (TRL's `step_time` against the reward's own `critic_judge/seconds`).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "critic_reward.json"
RECIPE = ROOT / "recipes" / "tiny" / "grpo_policy_critic.yaml"


def _questions(folder: Path, count: int) -> Path:
    """`count` synthetic questions with their PNGs, as the question JSONL the policy recipe reads."""
    from data_converters.synthetic import draw_scene, question_and_answers

    rng = random.Random(0)
    lines = []
    for index in range(count):
        png, objects = draw_scene(rng)
        _, question, right, _ = question_and_answers(rng, objects)
        (folder / f"{index}.png").write_bytes(png)
        lines.append(json.dumps({"id": str(index), "image": f"{index}.png", "question": question, "answer": right}))
    (folder / "questions.jsonl").write_text("\n".join(lines) + "\n")
    return folder / "questions.jsonl"


def _reward_call(questions: Path, generations: int, max_new_tokens: int, batch_size: int) -> dict:
    from transformers import set_seed

    from data_converters.prompts import user_prompt
    from rl_critic.critique.judge import Judge
    from rl_critic.critique.pipeline import sample_candidates
    from rl_critic.critique.questions import load_question, read_rows
    from rl_critic.critique.reward import CriticJudgeReward, CriticRewardArguments
    from rl_critic.generation.hf import HFEngine
    from rl_critic.generation.settings import SamplingSettings
    from rl_critic.models.loader import ModelArguments, load_model_and_processor
    from rl_critic.models.media import MediaBudget

    model, processor = load_model_and_processor(ModelArguments(model_name_or_path="tiny"))
    problems = [load_question(row, MediaBudget()).problem for row in read_rows(str(questions))]
    set_seed(0)
    sampling = SamplingSettings(max_new_tokens=16, do_sample=True, num_return_sequences=generations)
    sample_candidates(HFEngine(model, processor), problems, sampling, 64)
    prompts, completions, images = [], [], []
    for problem in problems:  # TRL's layout: each prompt repeated G times in a row
        for text in problem.candidates:
            prompts.append(user_prompt(problem.question, 1))
            completions.append([{"role": "assistant", "content": text}])
            images.append(problem.images[0])
    greedy = SamplingSettings(max_new_tokens=max_new_tokens)
    timings, rewards, calls = {}, {}, {}
    for name, size in (("batched", batch_size), ("naive", 1)):
        judge = Judge(HFEngine(model, processor), greedy, batch_size=size)
        judge.unreadable_ok = True  # a random tiny critic, timed: its verdicts are never read
        reward = CriticJudgeReward(CriticRewardArguments(), judge=judge)
        start = time.perf_counter()
        rewards[name] = reward(prompts=prompts, completions=completions, image=images)
        timings[name] = time.perf_counter() - start
        calls[name] = judge.calls
    return {
        "judgments": calls["batched"],
        "batched_seconds": round(timings["batched"], 2),
        "naive_seconds": round(timings["naive"], 2),
        "speedup": round(timings["naive"] / timings["batched"], 2),
        "identical_rewards": rewards["batched"] == rewards["naive"],
        "distinct_completions": len(set(c[0]["content"] for c in completions)),
    }


def _step_share(questions: Path, generations: int, prompts: int, max_new_tokens: int, steps: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        command = [
            sys.executable,
            "-m",
            "rl_critic.cli",
            "train",
            "grpo",
            "--config",
            str(RECIPE),
            "--dataset_name",
            str(questions),
            "--num_generations",
            str(generations),
            "--per_device_train_batch_size",
            str(generations * prompts),
            "--critic_max_new_tokens",
            str(max_new_tokens),
            "--critic_batch_size",
            "64",
            "--max_steps",
            str(steps),
            "--save_strategy",
            "steps",
            "--save_steps",
            str(steps),
            "--output_dir",
            tmp,
        ]
        result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
        if result.returncode != 0:
            raise RuntimeError(result.stderr[-3000:])
        history = json.loads(next(Path(tmp).rglob("trainer_state.json")).read_text())["log_history"]
    logged = [e for e in history if "step_time" in e][1:]  # the first step is warm-up
    step = statistics.mean(e["step_time"] for e in logged)
    judge = statistics.mean(e["critic_judge/seconds"] for e in logged)
    return {
        "steps": len(logged),
        "step_seconds": round(step, 3),
        "judge_seconds": round(judge, 3),
        "judge_share": round(judge / step, 3),
        "judgments_per_step": statistics.mean(e["critic_judge/judgments"] for e in logged),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=8)
    parser.add_argument("--generations", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        questions = _questions(Path(tmp), args.prompts)
        call = _reward_call(questions, args.generations, args.max_new_tokens, args.batch_size)
        share = _step_share(questions, args.generations, args.prompts, args.max_new_tokens, args.steps)
    result = {
        "benchmark": "critic_reward",
        "prompts": args.prompts,
        "generations": args.generations,
        "max_new_tokens": args.max_new_tokens,
        "reward_call": call,
        "grpo_step": share,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"critic_judge reward call: {args.prompts} prompts x G={args.generations}, round-robin both orders, "
        f"{call['judgments']} judgments, tiny critic, greedy {args.max_new_tokens} tokens"
    )
    print(f"{'':<10} {'seconds':>8}")
    print(f"{'batched':<10} {call['batched_seconds']:>8.2f}")
    print(f"{'naive':<10} {call['naive_seconds']:>8.2f}")
    print(f"speed-up   {call['speedup']:>7.2f}x (target >= 5), identical rewards: {call['identical_rewards']}")
    print(
        f"GRPO step ({share['steps']} steps after warm-up): {share['step_seconds']:.3f} s, critic "
        f"{share['judge_seconds']:.3f} s = {100 * share['judge_share']:.1f}% of the step, "
        f"{share['judgments_per_step']:.0f} judgments per step"
    )
    print(f"-> {RESULTS}")


if __name__ == "__main__":
    main()
