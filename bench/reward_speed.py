"""Reward throughput: `python -m bench.reward_speed [--n 20000]`.

20,000 realistic critic completions (~1 KB of reasoning in `<think>` tags, then a boxed verdict; mixed
right, wrong and malformed), scored by our `critic_reward` and, as baselines on the same inputs, the official
LLaVA-Critic-R1 `compute_score` (the real mathruler grader, `tests/official_reward.py`), TRL's
`think_format_reward` (one regex) and TRL's `accuracy_reward` (math-verify). Then the 24,000 completions of
the agreement test (`tests/verdict_corpus.py`: every category where two graders part, nearly all distinct),
scored by the official function and by `critic` in both verdict modes. Reports completions per second for
batches of 16 (one GRPO group), the ratios, and the p99 latency of one completion. Every function is called
once before it is timed (imports of sympy and pylatexenc are not the reward's speed).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "rewards.json"
SENTENCES = [
    "The image shows a red circle on the left and a blue square on the right.",
    "Response 1 says the circle is red, which matches the image.",
    "Response 2 claims the shape is green, but no green shape is visible.",
    "Counting the shapes, there are two objects in total.",
    "The question asks about the colour of the leftmost shape.",
    "Both responses mention a square, but only one gets its position right.",
    "I need to check each claim against the picture before deciding.",
]
VERDICTS = {"1": ["1", "Response 1", "first", "A", "\\text{Response 1}"], "2": ["2", "Response 2", "second", "B"]}


def make_completions(n: int, seed: int = 0) -> list[tuple[str, str]]:
    """(completion, solution) pairs: 40% right, 30% wrong, 30% malformed, each ~1 KB."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        solution = rng.choice(("1", "2"))
        reasoning = " ".join(rng.choice(SENTENCES) for _ in range(12))[:950]
        kind = rng.random()
        verdict = rng.choice(VERDICTS[solution if kind < 0.4 else {"1": "2", "2": "1"}[solution]])
        text = f"<think>{reasoning}</think>\nThe better response is \\boxed{{{verdict}}}."
        if kind >= 0.7:  # malformed in one of several ways
            text = rng.choice(
                [
                    reasoning + f" \\boxed{{{verdict}}}",  # no think tags
                    f"<think>{reasoning}\\boxed{{{verdict}",  # unclosed think and box
                    f"<think>{reasoning}</think> I cannot decide.",  # no box
                    f"< think >{reasoning}</ think >\\boxed{{{verdict} is better because " + reasoning[:200] + "}",
                ]
            )
        rows.append(([{"role": "assistant", "content": text}], solution))
    return rows


def official_compute_score(prompts=None, completions=None, solution=None, **kwargs) -> list[float]:
    """The official reward behind TRL's signature: its `overall` score per completion."""
    from tests.official_reward import compute_score

    texts = [c[0]["content"] if isinstance(c, list) else c for c in completions]
    return [score["overall"] for score in compute_score(texts, solution)]


def throughput(fn, rows, batch: int = 16) -> float:
    fn(prompts=None, completions=[c for c, _ in rows[:1]], solution=[s for _, s in rows[:1]])  # imports
    start = time.perf_counter()
    for i in range(0, len(rows), batch):
        chunk = rows[i : i + batch]
        fn(prompts=None, completions=[c for c, _ in chunk], solution=[s for _, s in chunk])
    return len(rows) / (time.perf_counter() - start)


def p99_ms(fn, rows) -> float:
    latencies = []
    for completion, solution in rows:
        start = time.perf_counter()
        fn(prompts=None, completions=[completion], solution=[solution])
        latencies.append((time.perf_counter() - start) * 1000)
    return statistics.quantiles(latencies, n=100)[98]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument(
        "--slow-n",
        type=int,
        default=2_000,
        help="TRL accuracy_reward (~150/s) runs on the first N of the same completions",
    )
    args = parser.parse_args()

    import logging

    from trl.rewards import accuracy_reward, think_format_reward

    import rewards

    logging.getLogger("math_verify").setLevel(logging.ERROR)
    rows = make_completions(args.n)
    candidates = {
        "rl-critic critic_reward": rewards.critic_reward,
        "official compute_score": official_compute_score,
        "rl-critic format_reward": rewards.format_reward,
        "TRL think_format_reward": think_format_reward,
        "TRL accuracy_reward": accuracy_reward,
    }
    results = {}
    for name, fn in candidates.items():
        subset = rows[: args.slow_n] if name == "TRL accuracy_reward" else rows
        results[name] = {
            "completions": len(subset),
            "completions_per_s": round(throughput(fn, subset), 1),
            "p99_ms": round(p99_ms(fn, subset), 4),
        }
    ours = results["rl-critic critic_reward"]["completions_per_s"]
    generated = _generated_corpus()
    summary = {
        "critic_vs_official_speedup": round(ours / results["official compute_score"]["completions_per_s"], 1),
        "critic_vs_official_speedup_generated": generated["critic_vs_official_speedup"],
        "critic_vs_trl_accuracy_speedup": round(ours / results["TRL accuracy_reward"]["completions_per_s"], 1),
        "critic_vs_trl_think_format_ratio": round(ours / results["TRL think_format_reward"]["completions_per_s"], 3),
        "critic_mean_reward": round(
            sum(rewards.critic_reward(completions=[c for c, _ in rows], solution=[s for _, s in rows])) / len(rows), 3
        ),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {"benchmark": "rewards", "n": args.n, "results": results, "generated": generated, **summary}, indent=2
        )
        + "\n"
    )
    print(f"{args.n} completions of ~1 KB, batches of 16")
    print(f"{'reward':<26} {'completions':>12} {'completions/s':>14} {'p99 ms':>9}")
    for name, r in results.items():
        print(f"{name:<26} {r['completions']:>12} {r['completions_per_s']:>14,.0f} {r['p99_ms']:>9.3f}")
    print(f"{generated['completions']} generated completions of the agreement test (nearly all distinct boxes)")
    for name, rate in generated["completions_per_s"].items():
        print(f"{name:<26} {generated['completions']:>12} {rate:>14,.0f}")
    print(
        f"critic_reward: {summary['critic_vs_official_speedup']}x the official compute_score "
        f"({summary['critic_vs_official_speedup_generated']}x on the generated corpus), "
        f"{summary['critic_vs_trl_accuracy_speedup']}x TRL accuracy_reward, "
        f"{summary['critic_vs_trl_think_format_ratio']}x TRL think_format_reward's rate"
    )
    print(f"-> {RESULTS}")


def _generated_corpus() -> dict:
    """The agreement test's completions: official vs `critic` (default and lenient), each from a cold cache."""
    import rewards
    from rewards.grading import _graded
    from tests.verdict_corpus import generated_completions

    rows = [([{"role": "assistant", "content": c}], label) for c, label in generated_completions(24_000, seed=0)]
    rates = {"official compute_score": throughput(official_compute_score, rows)}
    for mode in ("official", "lenient"):
        _graded.cache_clear()
        rates[f"rl-critic critic ({mode})"] = throughput(rewards.CriticReward(verdicts=mode), rows)
    return {
        "completions": len(rows),
        "completions_per_s": {name: round(rate, 1) for name, rate in rates.items()},
        "critic_vs_official_speedup": round(rates["rl-critic critic (official)"] / rates["official compute_score"], 1),
    }


if __name__ == "__main__":
    main()
