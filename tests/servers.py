"""Servers for the engine tests, always on 127.0.0.1, on a free port, with a timeout, stopped after use.

`transformers_serve` starts the real thing (`transformers serve MODEL`, an OpenAI-compatible server);
`StubServer` answers the way broken servers do (HTTP 500, HTML, a model list without ours), which a real
server cannot be made to do on purpose, or (`"sft-critic"`) as a critic trained on LLaVA-Critic's SFT targets
writes: a rationale ending in one of the 113k verdict layouts, never a box (`sft_critic_answer`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def transformers_serve(model_path: str, timeout: float = 240.0, dtype: str = "float32") -> Iterator[subprocess.Popen]:
    """`transformers serve MODEL` on a loopback port until `/health` answers; yields the process with its
    `base_url`; stops it (its whole process group) on exit. `dtype` float32 is what rl-critic loads by
    default (the server would take the checkpoint's bf16, and greedy text drifts apart after a few tokens)."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "transformers.cli.transformers",  # `transformers serve`, without relying on the console script
        "serve",
        model_path,
        "--device",
        "cpu",
        "--dtype",
        dtype,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    log = open(os.devnull, "w")  # noqa: SIM115 - closed with the process
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    process.base_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"transformers serve exited with {process.returncode} before answering")
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            if time.monotonic() > deadline:
                raise TimeoutError(f"transformers serve did not answer /health within {timeout:.0f} s")
            time.sleep(0.5)
        yield process
    finally:
        stop(process)
        log.close()


def stop(process: subprocess.Popen) -> None:
    """Stop a server started in its own session (SIGTERM, then SIGKILL after 10 s)."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


# What a LLaVA-Critic-style SFT critic ends its rationale with ("{v}": its verdict in the layout's own words).
SFT_PAIR_LAYOUTS = (
    ("The better response: [{v}]", {"1": "first", "2": "second"}),
    ("The better response: [{v}]", {"1": "1", "2": "2"}),
    ("The better response: [{v}]", {"1": "A", "2": "B"}),
    ("The better response: **{v}**", {"1": "Response 1", "2": "Response 2"}),
    ("The better response is {v}.", {"1": "Response A", "2": "Response B"}),
    (
        "Overall, the first is wrong. The better response: [{v}]",
        {"1": "The first response", "2": "The second response"},
    ),
    ("My final verdict is: {v}", {"1": "[[A>B]]", "2": "[[B>>A]]"}),
    ("{v}", {"1": "[[A]]", "2": "[[B]]"}),
)
SFT_TIE_LAYOUTS = ("Both responses are equally good.", "My final verdict is tie: [[A=B]]", "[[C]]")
_RANGE = re.compile(r"from (\d+) to (\d+)", re.I)


def sft_critic_answer(prompt: str) -> str:
    """A judgment in an SFT layout, decided from the prompt alone: the longer response is better (equal lengths:
    a tie), a pointwise score grows with the response's length within the asked range, a LLaVA-Bench review scores
    each answer its length mod 10 plus 1, and the layout is picked
    by a hash of the prompt, so every layout appears and the same prompt always gets the same answer."""
    from data_converters.parsing import split_pair_prompt, split_point_prompt
    from data_converters.prompts import TWO_SCORE_INSTRUCTION

    pick = int(hashlib.sha256(prompt.encode()).hexdigest(), 16)
    review = re.search(
        r"\[Assistant 1\]\n(.*)\n\n\[End of Assistant 1\].*\[Assistant 2\]\n(.*)\n\n\[End of", prompt, re.S
    )
    if prompt.startswith("[Context]") and review:  # LLaVA-Bench's review: two scores on the first line
        first, second = review.groups()
        return f"{len(first) % 10 + 1} {len(second) % 10 + 1}\nAssistant 1 was read against the context."
    if "The response:" in prompt:
        _, _, response = split_point_prompt(prompt)
        asked = _RANGE.search(prompt)
        low, high = (int(asked.group(1)), int(asked.group(2))) if asked else (1, 10)
        return f"The response is read against the image. Final Score: {low + len(response) % (high - low + 1)}"
    first, second = split_pair_prompt(prompt).responses
    if prompt.startswith(TWO_SCORE_INSTRUCTION):
        return f"{min(10, len(first) % 10 + 1)} {min(10, len(second) % 10 + 1)}\nBoth responses were read."
    if len(first) == len(second):
        return "Comparing both with the image. " + SFT_TIE_LAYOUTS[pick % len(SFT_TIE_LAYOUTS)]
    layout, words = SFT_PAIR_LAYOUTS[pick % len(SFT_PAIR_LAYOUTS)]
    return "Comparing both with the image. " + layout.format(v=words["1" if len(first) > len(second) else "2"])


# The ways `StubServer("junk-<kind>")` answers a chat completion with a 200 that cannot be used
JUNK = ("notjson", "nonutf8", "content-list", "content-number", "tokens-word", "tokens-negative", "tokens-huge")


class StubServer:
    """A loopback HTTP server whose every answer is `mode`: `"500"` (HTTP 500), `"html"` (a web page with
    status 200), `"echo-401"` (HTTP 401 quoting the request's `Authorization` header back), `"drip"` (model
    `m`; completions send their headers, then a byte every 0.2 s), `"junk-<kind>"` (model `m`; completions
    answer 200 with no usable chat completion, `JUNK`), `"models"` (a model list naming only
    `other-model`; completions answer 404), `"sft-critic-refusing"` (as `"sft-critic"`, but HTTP 400 for a prompt
    holding `REFUSE-ME`), or
    `"sft-critic"` (model `sft-critic`, answering chat completions with `sft_critic_answer`)."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.requests = 0
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def _answer(self) -> None:
                stub.requests += 1
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                if stub.mode == "sft-critic-refusing" and b"REFUSE-ME" in body:  # one row a server will not take
                    self._send(400, "application/json", {"error": {"message": "this prompt breaks our content rules"}})
                elif stub.mode in ("sft-critic", "sft-critic-refusing"):
                    self._critic(body)
                elif stub.mode == "500":
                    self._send(500, "application/json", {"error": {"message": "engine crashed"}})
                elif stub.mode == "drip" and not self.path.endswith("/models"):
                    self._drip()
                elif stub.mode.startswith("junk-") and not self.path.endswith("/models"):
                    self._junk(stub.mode.removeprefix("junk-"))
                elif stub.mode == "429-wait":  # rate-limited, with a wait longer than any client retries after
                    self.send_response(429)
                    self.send_header("retry-after", "3600")
                    data = json.dumps({"error": {"message": "rate limited"}}).encode()
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                elif stub.mode == "echo-401":  # as some gateways do: the refused header, quoted back
                    echoed = f"invalid credentials: Authorization: {self.headers.get('Authorization')}"
                    self._send(401, "application/json", {"error": {"message": echoed}})
                elif stub.mode == "html":
                    self._send(200, "text/html", "<html><body>Welcome to nginx!</body></html>")
                elif self.path.endswith("/models"):
                    served = "m" if stub.mode == "drip" or stub.mode.startswith("junk-") else "other-model"
                    self._send(200, "application/json", {"object": "list", "data": [{"id": served}]})
                else:
                    self._send(404, "application/json", {"error": {"message": "model not found"}})

            def _critic(self, body: bytes) -> None:
                if self.path.endswith("/models"):
                    self._send(200, "application/json", {"object": "list", "data": [{"id": "sft-critic"}]})
                    return
                content = json.loads(body)["messages"][-1]["content"]
                parts = content if isinstance(content, list) else [{"type": "text", "text": content}]
                prompt = "".join(part.get("text") or "" for part in parts if part.get("type") == "text")
                answer = sft_critic_answer(prompt)
                message = {"role": "assistant", "content": answer}
                usage = {"prompt_tokens": len(prompt.split()), "completion_tokens": len(answer.split())}
                choice = {"index": 0, "message": message, "finish_reason": "stop"}
                reply = {"id": "x", "object": "chat.completion", "model": "sft-critic", "choices": [choice]}
                self._send(200, "application/json", {**reply, "usage": usage})

            def _junk(self, kind: str) -> None:
                """A 200 that is no usable chat completion: `kind` says how (see `JUNK`)."""
                raw = {"notjson": b'{"choices": [{"message": {"content": "cut', "nonutf8": b"\xff\xfe\x00junk"}
                if kind in raw:
                    self.send_response(200)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(raw[kind])))
                    self.end_headers()
                    self.wfile.write(raw[kind])
                    return
                content = {"content-list": [{"type": "text", "text": "hi"}], "content-number": 7}.get(kind, "fine")
                tokens = {"tokens-word": "many", "tokens-negative": -5, "tokens-huge": 10**30}.get(kind, 3)
                message = {"role": "assistant", "content": content}
                choice = {"index": 0, "message": message, "finish_reason": "stop"}
                reply = {"id": "x", "object": "chat.completion", "model": "m", "choices": [choice]}
                self._send(200, "application/json", {**reply, "usage": {"completion_tokens": tokens}})

            def _drip(self) -> None:
                """Headers at once, then one byte every 0.2 s: every read succeeds, the answer never ends."""
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", "1000000")
                self.end_headers()
                for _ in range(3000):  # 10 minutes at most, then the connection closes
                    try:
                        self.wfile.write(b" ")
                        self.wfile.flush()
                    except OSError:
                        return
                    time.sleep(0.2)

            def _send(self, status: int, kind: str, body) -> None:
                data = (json.dumps(body) if not isinstance(body, str) else body).encode()
                self.send_response(status)
                self.send_header("content-type", kind)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _answer

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> StubServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
