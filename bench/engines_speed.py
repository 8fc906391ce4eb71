"""The generation engines against in-process HF `generate`, on one machine, in one run:
`python -m bench.engines_speed`.

1. Judging: the same 64 pairwise judgments (greedy) by the same tiny critic, in-process (`hf`, batches of
   16) and over a real OpenAI-compatible server (`openai`, `max_concurrency` requests in flight):
   `transformers serve`, and `vllm serve` when vLLM is installed. Verdict texts must be identical.
2. Sampling: best-of-8 candidates for 16 questions on `tiny-like-qwen2.5-vl-7b-instruct`, HF `generate`
   (batches of 16 prompts) vs vLLM in-process (`--engine vllm`), in generated tokens per second; when
   vLLM is not installed that row says so.

Servers bind to 127.0.0.1 on a free port and are stopped at the end; engine start-up is reported
beside, not inside, the timings.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "engines.json"
CRITIC = "tiny-like-qwen2.5-vl-7b-instruct"


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def _server(command: list[str], port: int, env: dict, timeout: float = 600.0):
    """A server process on 127.0.0.1:`port` until `/health` answers; yields its start-up seconds."""
    import urllib.request

    start = time.perf_counter()
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, start_new_session=True
    )
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{command[0]} exited with {process.returncode}")
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                    break
            if time.perf_counter() - start > timeout:
                raise TimeoutError(f"{command[0]} did not answer within {timeout:.0f} s")
            time.sleep(0.5)
        yield time.perf_counter() - start
    finally:
        import signal

        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def _pairs(count: int):
    import io

    from PIL import Image

    from data_converters.synthetic import draw_scene, question_and_answers
    from rl_critic.critique.judgments import PairRequest

    rng, requests = random.Random(0), []
    for _ in range(count):
        png, objects = draw_scene(rng)
        _, question, right, wrong = question_and_answers(rng, objects)
        image = Image.open(io.BytesIO(png)).convert("RGB")
        requests.append(PairRequest(question, right, wrong, [image]))
    return requests


def _judge_seconds(engine, requests, max_new_tokens: int) -> tuple[float, list[str]]:
    from rl_critic.critique.judge import Judge
    from rl_critic.generation.settings import SamplingSettings

    judge = Judge(engine, SamplingSettings(max_new_tokens=max_new_tokens), batch_size=16)
    judge.unreadable_ok = True  # a random tiny critic, timed: its verdicts are never read
    start = time.perf_counter()
    verdicts = judge.compare(requests)
    return time.perf_counter() - start, [v.raw for v in verdicts]


def judging(args, path: str) -> dict:
    from rl_critic.generation.engines import load_engine
    from rl_critic.generation.settings import EngineSettings
    from rl_critic.models.loader import InferenceModelArguments

    requests = _pairs(args.pairs)
    model_args = InferenceModelArguments(model_name_or_path=path)
    hf_seconds, hf_raws = _judge_seconds(load_engine(EngineSettings(), model_args), requests, args.max_new_tokens)
    rows = {"hf (in-process, batch 16)": {"seconds": round(hf_seconds, 2), "identical": True}}
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    servers = {"transformers serve": [sys.executable, "-m", "transformers.cli.transformers", "serve", path]}
    servers["transformers serve"] += ["--device", "cpu", "--dtype", "float32", "--host", "127.0.0.1"]
    try:
        import vllm  # noqa: F401

        servers["vllm serve"] = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", path]
        servers["vllm serve"] += ["--dtype", "float32", "--host", "127.0.0.1", "--limit-mm-per-prompt", '{"image": 2}']
        env |= {"VLLM_CPU_KVCACHE_SPACE": "1", "VLLM_HOST_IP": "127.0.0.1"}
    except ImportError:
        rows["vllm serve"] = {"skipped": "vLLM is not installed (scripts/vllm-cpu.sh)"}
    for name, command in servers.items():
        port = _free_port()
        with _server([*command, "--port", str(port)], port, env) as startup:
            settings = EngineSettings(
                engine="openai", base_url=f"http://127.0.0.1:{port}/v1", max_concurrency=args.concurrency
            )
            engine = load_engine(settings, model_args)
            _judge_seconds(engine, requests[:2], args.max_new_tokens)  # warm-up (first-request compilation)
            seconds, raws = _judge_seconds(engine, requests, args.max_new_tokens)
        rows[f"{name} (concurrency {args.concurrency})"] = {
            "seconds": round(seconds, 2),
            "startup_seconds": round(startup, 1),
            "identical": raws == hf_raws,
            "speedup_vs_hf": round(hf_seconds / seconds, 2),
        }
    return rows


def sampling(args, path: str) -> dict:
    from data_converters.prompts import user_prompt
    from rl_critic.generation.engines import load_engine
    from rl_critic.generation.settings import EngineSettings, SamplingSettings
    from rl_critic.models.loader import InferenceModelArguments

    requests = _pairs(args.questions)
    conversations = [user_prompt(r.question, 1) for r in requests]
    images = [r.images for r in requests]
    settings = SamplingSettings(max_new_tokens=args.sample_tokens, do_sample=True, num_return_sequences=args.n)
    model_args = InferenceModelArguments(model_name_or_path=path)
    rows = {}
    engines = {"hf generate (batch 16)": EngineSettings()}
    try:
        import vllm  # noqa: F401

        engines["vllm (in-process)"] = EngineSettings(engine="vllm")
        os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
        os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
        os.environ.setdefault("VLLM_HOST_IP", "127.0.0.1")
    except ImportError:
        rows["vllm (in-process)"] = {"skipped": "vLLM is not installed (scripts/vllm-cpu.sh)"}
    for name, settings_of_engine in engines.items():
        start = time.perf_counter()
        engine = load_engine(settings_of_engine, model_args)
        startup = time.perf_counter() - start
        engine.generate_counted(conversations[:2], images[:2], settings, batch_size=16)  # warm-up
        start = time.perf_counter()
        outputs = engine.generate_counted(conversations, images, settings, batch_size=16)
        seconds = time.perf_counter() - start
        tokens = sum(count for sampled in outputs for _, count in sampled)
        rows[name] = {
            "seconds": round(seconds, 2),
            "startup_seconds": round(startup, 1),
            "tokens": tokens,
            "tokens_per_second": round(tokens / seconds, 1),
        }
        del engine
    if "seconds" in rows.get("vllm (in-process)", {}):
        rows["vllm (in-process)"]["speedup_vs_hf"] = round(
            rows["vllm (in-process)"]["tokens_per_second"] / rows["hf generate (batch 16)"]["tokens_per_second"], 2
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=64)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--questions", type=int, default=16)
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--sample-tokens", type=int, default=64)
    args = parser.parse_args()
    from rl_critic.models.loader import resolve_model_path

    path = resolve_model_path(CRITIC)
    result = {
        "benchmark": "engines",
        "model": CRITIC,
        "cpu_threads": os.cpu_count(),
        "judging": {"pairs": args.pairs, "max_new_tokens": args.max_new_tokens, "rows": judging(args, path)},
        "sampling": {
            "questions": args.questions,
            "n": args.n,
            "max_new_tokens": args.sample_tokens,
            "rows": sampling(args, path),
        },
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"judging {args.pairs} pairs (greedy, {args.max_new_tokens} tokens) with {CRITIC}")
    print(f"{'engine':<36} {'seconds':>8} {'vs hf':>7} {'start s':>8} identical")
    for name, row in result["judging"]["rows"].items():
        if "skipped" in row:
            print(f"{name:<36} skipped: {row['skipped']}")
            continue
        ratio = f"{row.get('speedup_vs_hf', 1.0):.2f}x"
        print(f"{name:<36} {row['seconds']:>8.2f} {ratio:>7} {row.get('startup_seconds', 0):>8.1f} {row['identical']}")
    print(f"best-of-{args.n} sampling for {args.questions} questions ({args.sample_tokens} tokens)")
    print(f"{'engine':<36} {'seconds':>8} {'tokens/s':>9} {'vs hf':>7} {'start s':>8}")
    for name, row in result["sampling"]["rows"].items():
        if "skipped" in row:
            print(f"{name:<36} skipped: {row['skipped']}")
            continue
        ratio = f"{row.get('speedup_vs_hf', 1.0):.2f}x"
        print(
            f"{name:<36} {row['seconds']:>8.2f} {row['tokens_per_second']:>9.1f} {ratio:>7} "
            f"{row['startup_seconds']:>8.1f}"
        )
    print(f"-> {RESULTS}")


if __name__ == "__main__":
    main()
