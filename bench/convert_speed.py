"""Converter throughput and memory: `python -m bench.convert_speed [--rows 20000 100000]`.

Each size runs in its own process (so its memory peaks are its own) and converts synthetic
LLaVA-Critic-113k rows (both configs, every spelling) to GRPO targets, images never decoded. The baseline
is a plain pass over the same rows (reading every column), so `convert / read` says what parsing,
shaping and writing cost on top of just touching the data. Memory is reported for a warm run (the input
already in the `datasets` Arrow cache: the converter's own footprint) and a cold one (first sight of the
file, which `datasets` copies into its cache first).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "convert.json"


def make_input(path: Path, rows: int) -> None:
    """`rows` synthetic rows: 2,000 distinct ones (drawn images) repeated with fresh ids."""
    from datasets import Dataset

    from data_converters.layouts import features
    from data_converters.synthetic import synthetic_rows

    base = list(synthetic_rows(min(rows, 2000), "both", seed=0))

    def generate():
        for i in range(rows):
            row = dict(base[i % len(base)])
            row["id"] = f"{row['id']}-{i}"
            yield row

    Dataset.from_generator(generate, features=features(), cache_dir=str(path.parent / "cache")).to_parquet(str(path))


class MemoryPeaks:
    """Peak anonymous and file-backed resident memory of this process, sampled every 10 ms.

    Arrow files are memory-mapped, so RSS also counts pages of the input and output files the OS can drop
    at will; the anonymous part is what the converter itself holds.
    """

    def __init__(self) -> None:
        self.peaks = {"RssAnon": 0, "RssFile": 0}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        while not self._stop.is_set():
            with open("/proc/self/status") as status:
                for line in status:
                    key = line.split(":", 1)[0]
                    if key in self.peaks:
                        self.peaks[key] = max(self.peaks[key], int(line.split()[1]) // 1024)
            time.sleep(0.01)

    def __enter__(self) -> MemoryPeaks:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def read_only(data: Path) -> float:
    """The baseline: seconds for one plain pass over every row (text and image bytes), nothing else."""
    from datasets import Dataset, Image

    with tempfile.TemporaryDirectory() as tmp:
        dataset = Dataset.from_parquet(str(data), cache_dir=tmp).cast_column("image", Image(decode=False))
        start = time.perf_counter()
        touched = sum(len(row["conversations"][1]["value"]) + len(row["image"]["bytes"]) for row in dataset)
        assert touched > 0
        return time.perf_counter() - start


def convert_only(data: Path) -> dict:
    """The conversion, with its memory peaks (this process does nothing else)."""
    from data_converters.convert import convert

    with tempfile.TemporaryDirectory() as tmp, MemoryPeaks() as memory:
        start = time.perf_counter()
        summary = convert("llava-critic-pointwise", str(data), "grpo", str(Path(tmp) / "out"))
        seconds = time.perf_counter() - start
    return {"seconds": seconds, "rows_written": summary["rows_written"], **memory.peaks}


def _in_subprocess(mode: str, data: Path, datasets_cache: Path):
    command = [sys.executable, "-m", "bench.convert_speed", "--worker", mode, str(data)]
    env = {**os.environ, "HF_DATASETS_CACHE": str(datasets_cache)}
    out = subprocess.run(command, capture_output=True, text=True, check=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(rows: int, data: Path) -> dict:
    """Cold run (the input is new to `datasets`, which first copies it to its Arrow cache) and warm run."""
    with tempfile.TemporaryDirectory() as cache:
        read_seconds = _in_subprocess("read", data, Path(cache) / "read")
        cold = _in_subprocess("convert", data, Path(cache) / "convert")
        run = _in_subprocess("convert", data, Path(cache) / "convert")
    return {
        "rows": rows,
        "rows_written": run["rows_written"],
        "convert_seconds": round(run["seconds"], 3),
        "convert_rows_per_s": round(rows / run["seconds"], 1),
        "read_only_rows_per_s": round(rows / read_seconds, 1),
        "convert_vs_read_time": round(run["seconds"] / read_seconds, 2),
        "peak_anon_mb": run["RssAnon"],
        "peak_file_backed_mb": run["RssFile"],
        "cold_convert_seconds": round(cold["seconds"], 3),
        "cold_peak_anon_mb": cold["RssAnon"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[20_000, 100_000])
    parser.add_argument("--worker", nargs=2, metavar=("MODE", "PARQUET"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        mode, data = args.worker
        print(json.dumps(read_only(Path(data)) if mode == "read" else convert_only(Path(data))))
        return
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for rows in args.rows:
            data = Path(tmp) / f"input-{rows}.parquet"
            make_input(data, rows)
            results.append(measure(rows, data))
    for r in results[1:]:
        r["peak_anon_vs_smallest"] = round(r["peak_anon_mb"] / results[0]["peak_anon_mb"], 2)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"benchmark": "convert", "results": results}, indent=2) + "\n")
    print(
        f"{'rows':>8} {'convert rows/s':>15} {'read-only rows/s':>17} {'convert/read time':>18} "
        f"{'peak anon MB':>13} {'peak mmap MB':>13} {'cold: anon MB':>14}"
    )
    for r in results:
        print(
            f"{r['rows']:>8} {r['convert_rows_per_s']:>15,.0f} {r['read_only_rows_per_s']:>17,.0f} "
            f"{r['convert_vs_read_time']:>18.2f} {r['peak_anon_mb']:>13} {r['peak_file_backed_mb']:>13} "
            f"{r['cold_peak_anon_mb']:>14}"
        )
    print(f"-> {RESULTS}")


if __name__ == "__main__":
    main()
