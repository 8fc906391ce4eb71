"""The `openai` engine: generation by any OpenAI-compatible `/v1/chat/completions` server.

`vllm serve`, SGLang, TGI, `transformers serve` and hosted APIs all speak it, so one served critic can judge
for `best-of-n`, `eval`, `make-pairs`, `critic-dpo` and a GRPO run at once. Requests go out concurrently
(`max_concurrency` threads: a step's judgments overlap instead of queueing), each sample is its own
request (exact token counts from `usage`, a distinct seed per sample drawn from Python's `random`, which
the commands seed per chunk, so a resumed run asks for what an uninterrupted one would; servers that
ignore `n` behave the same). The OpenAI client retries connection errors, timeouts, 429 and 5xx answers
with exponential backoff (`max_retries`); what is left after that is one `ServerUnavailable` line. The
client's `request_timeout` bounds each read, not the answer: a server that sends its headers and then one byte a
second would hold a request forever, so each request also has a deadline for its whole answer, every retry
included (`(max_retries + 1) x request_timeout`, `bounded_map`), past which the call is one `ServerUnavailable`
line and the stalled request is abandoned (its thread is a daemon: it cannot keep the process alive). The
API key is read from the environment variable `api_key_env` and never printed.

A server that splits the thinking out of the answer (`reasoning_content`: `transformers serve` on Qwen
models, vLLM with `--reasoning-parser`) gets it put back as `<think>...</think>` before the answer, which is
what the rewards and verdict parsers read; such servers also strip the answer's outer whitespace. vLLM
without a reasoning parser returns the text exactly as decoded.

Images travel as PNG data URLs of the image as loaded (already bounded by `min_pixels`/`max_pixels`), so
the server's processor sees the pixels the `hf` engine would. A video travels as vLLM's server takes frames
already sampled: a `video_url` part holding a `data:video/jpeg;base64,` URL of its frames (PNG, comma-joined)
and the rate in the request's `media_io_kwargs` (`video_url`, `video_rate`); other servers may not read video.
"""

from __future__ import annotations

import base64
import io
import os
import random
from collections.abc import Sequence
from urllib.parse import urlsplit

from PIL import Image

from rl_critic.generation.prompts import TooLong
from rl_critic.generation.settings import EngineSettings, SamplingSettings
from rl_critic.ground.errors import UserError, first_line, redacted, register_secret
from rl_critic.models.media import Media, Video, media_lists

CONTEXT_WORDS = ("context length", "maximum context", "too long", "max_model_len", "exceeds", "maximum input")


class ServerUnavailable(UserError):
    """The server did not answer (connection refused, timeouts, 5xx) after every retry."""


def image_url(image: Image.Image) -> str:
    """A lossless data URL of `image` (PNG), as the OpenAI image_url content part takes it."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def video_url(video: Video) -> str:
    """A video as vLLM's server takes frames already sampled: a `video/jpeg` data URL of base64 frames joined by
    commas. Each frame is PNG (vLLM opens every frame with PIL, which reads either; PNG keeps the pixels exact)."""
    frames = [image_url(frame).removeprefix("data:image/png;base64,") for frame in video.frames]
    return "data:video/jpeg;base64," + ",".join(frames)


def openai_messages(conversation: list[dict], media: Media | Sequence[Image.Image]) -> list[dict]:
    """A conversation in the processor's layout (`{"type": "image"}` / `{"type": "video"}` parts, filled from
    `media` in order) as OpenAI chat messages (`image_url` parts, and `video_url` parts as vLLM's server reads
    them)."""
    media = Media.of(media)
    images, videos = iter(media.images), iter(media.videos)
    messages = []
    for message in conversation:
        content = message["content"]
        if isinstance(content, str):
            messages.append({"role": message["role"], "content": content})
            continue
        parts = []
        for part in content:
            if part.get("type") == "image":
                image = part.get("image") if part.get("image") is not None else next(images, None)
                if image is None:
                    raise ValueError("a conversation has more image parts than images")
                parts.append({"type": "image_url", "image_url": {"url": image_url(image)}})
            elif part.get("type") == "video":
                video = next(videos, None)
                if video is None:
                    raise ValueError("a conversation has more video parts than videos")
                parts.append({"type": "video_url", "video_url": {"url": video_url(video)}})
            elif part.get("type") == "text":
                parts.append({"type": "text", "text": part["text"]})
        messages.append({"role": message["role"], "content": parts})
    return messages


def video_rate(media: Media) -> dict:
    """The request fields that tell vLLM's server the rate a prompt's frames were sampled at (its
    `media_io_kwargs`; without them it takes 1 fps). One rate a request: a prompt shows at most one video."""
    if not media.videos:
        return {}
    return {"media_io_kwargs": {"video": {"fps": media.videos[0].fps}}}


class OpenAIEngine:
    """Generation over `/v1/chat/completions` (see the module docstring)."""

    def __init__(
        self, client, model: str, base_url: str, max_concurrency: int = 8, request_timeout: float = 300.0
    ) -> None:
        self.client = client
        self.model_name = model
        self.base_url = base_url
        self.max_concurrency = max_concurrency
        self.request_timeout = request_timeout  # seconds a read may wait (the client's); whole answers: `bounded_map`
        self.requests = 0  # requests answered, for reports and benchmarks

    @classmethod
    def connect(cls, settings: EngineSettings, model: str) -> OpenAIEngine:
        """A client for `settings.base_url` serving `model`; checks the server has that model (one line
        naming the ones it has, if not), so a typo fails before any work."""
        try:
            from openai import OpenAI
        except ImportError as err:
            raise UserError("engine openai needs the OpenAI client: pip install 'rl-critic[serve]'") from err
        if not model:
            raise UserError("engine openai needs the served model's name (--model / --critic_model)")
        api_key = os.environ.get(settings.api_key_env) or "EMPTY"  # local servers take any key
        register_secret(None if api_key == "EMPTY" else api_key)
        register_secret(urlsplit(settings.base_url).password)
        client = OpenAI(
            base_url=settings.base_url,
            api_key=api_key,
            timeout=settings.request_timeout,
            max_retries=settings.max_retries,
        )
        shown = redacted(settings.base_url)  # in every line
        engine = cls(client, model, shown, settings.max_concurrency, settings.request_timeout)
        engine.check_model()
        return engine

    def check_model(self) -> None:
        """The server answers `/models` and lists this model (servers that list none are taken at their word)."""
        import openai

        try:  # one try: a server without a model list (some answer /models with 500) is taken at its word
            listing = self.client.with_options(max_retries=0).models.list()
            served = [entry.id for entry in listing]
        except openai.APIConnectionError as err:
            raise ServerUnavailable(
                f"no OpenAI-compatible server answers at {self.base_url}: {first_line(err)}"
            ) from err
        except openai.APIStatusError:
            served = []
        except (openai.APIResponseValidationError, AttributeError, TypeError, ValueError) as err:
            raise UserError(
                f"{self.base_url} is not an OpenAI-compatible API (its /models answer is no model list)"
            ) from err
        if served and self.model_name not in served:
            raise UserError(
                f"the server at {self.base_url} has no model {self.model_name!r}; it serves: {', '.join(served)}"
            )

    def generate_counted(
        self,
        conversations: Sequence[list[dict]],
        media: Sequence[Media | Sequence[Image.Image]] | None = None,
        settings: SamplingSettings | None = None,
        batch_size: int = 8,
        progress: str | None = None,
        skip_too_long: bool = False,
    ) -> list[list[tuple[str, int]] | TooLong]:
        """`generate_counted` over the server: `batch_size` is unused (the server batches what arrives);
        requests run `max_concurrency` at a time."""
        settings = settings or SamplingSettings()
        media = media_lists(conversations, media)
        if any(len(shown.videos) > 1 for shown in media):
            raise UserError("engine openai sends at most one video per prompt")
        n = settings.num_return_sequences
        messages = [(openai_messages(c, shown), video_rate(shown)) for c, shown in zip(conversations, media)]
        jobs = [(*m, random.randrange(2**31) if settings.do_sample else 0) for m in messages for _ in range(n)]
        deadline = self.request_timeout * (self.client.max_retries + 1)
        try:
            answers = bounded_map(
                lambda *job: self._complete(*job, settings), jobs, self.max_concurrency, deadline, progress
            )
        except TimeoutError as err:
            raise ServerUnavailable(
                f"the server at {self.base_url} sent no complete answer within {deadline:g} s (request_timeout "
                f"{self.request_timeout:g} s x {self.client.max_retries + 1} tries)"
            ) from err
        outputs: list[list[tuple[str, int]] | TooLong] = []
        for index in range(len(conversations)):
            samples = answers[index * n : (index + 1) * n]
            refused = next((answer for answer in samples if isinstance(answer, TooLong)), None)
            if refused is not None and not skip_too_long:
                raise UserError(str(refused))
            outputs.append(refused if refused is not None else samples)
        return outputs

    def _complete(
        self, messages: list[dict], extra: dict, seed: int, settings: SamplingSettings
    ) -> tuple[str, int] | TooLong:
        """One sample: (text, completion tokens), or `TooLong` when the server refuses the prompt's size."""
        import openai

        sampling = (
            {"temperature": settings.temperature, "top_p": settings.top_p, "seed": seed}
            if settings.do_sample
            else {"temperature": 0.0}
        )
        try:
            response = self.client.chat.completions.create(
                model=self.model_name,
                messages=messages,
                max_tokens=settings.max_new_tokens,
                n=1,
                extra_body=extra or None,
                **sampling,
            )
        except ValueError as err:  # a 200 whose body is no JSON (cut short, junk, not UTF-8): the client's decoder
            raise ServerUnavailable(
                f"the server at {self.base_url} answered with no readable JSON ({type(err).__name__}: "
                f"{first_line(err)[:120]})"
            ) from err
        except openai.BadRequestError as err:  # this prompt refused (too long, or anything else about it): its row
            message = _message(err)
            too_long = any(word in message.lower() for word in CONTEXT_WORDS)
            return TooLong(0, 0, settings.max_new_tokens, reason=message if too_long else f"HTTP 400: {message}")
        except openai.NotFoundError as err:
            raise UserError(
                f"the server at {self.base_url} has no model {self.model_name!r} ({_message(err)})"
            ) from err
        except openai.APIConnectionError as err:  # also timeouts
            raise ServerUnavailable(
                f"the server at {self.base_url} stopped answering ({first_line(err)}; max_retries "
                f"{self.client.max_retries})"
            ) from err
        except openai.APIStatusError as err:  # 429 and 5xx were retried, unless the server asked for a long wait
            wait = getattr(getattr(err, "response", None), "headers", {}).get("retry-after")
            asked = f"; it asks to wait {wait[:20]} s (Retry-After), longer than the client waits" if wait else ""
            raise ServerUnavailable(
                f"the server at {self.base_url} answered HTTP {err.status_code}: {_message(err)} "
                f"(max_retries {self.client.max_retries}{asked})"
            ) from err
        except openai.APIResponseValidationError as err:
            raise UserError(f"{self.base_url} did not answer as an OpenAI chat completion: {first_line(err)}") from err
        choices = getattr(response, "choices", None)
        if not choices or getattr(choices[0], "message", None) is None:
            raise UserError(f"{self.base_url} did not answer as an OpenAI chat completion: {str(response)[:200]!r}")
        message = choices[0].message
        text = message.content or ""
        extra = message.model_extra or {}
        reasoning = extra.get("reasoning_content") or extra.get("reasoning")
        if reasoning:  # a server that parses thinking out (transformers serve on Qwen, vLLM's reasoning parsers)
            text = f"<think>{reasoning}</think>{text}"
        if not isinstance(text, str):
            kind = "a number" if isinstance(text, (int, float)) else f"a {type(text).__name__}"
            raise ServerUnavailable(
                f"the server at {self.base_url} answered a chat completion whose content is {kind}, not a text"
            )
        tokens = getattr(getattr(response, "usage", None), "completion_tokens", None)
        self.requests += 1
        return text, checked_tokens(tokens, settings.max_new_tokens, self.base_url)


def checked_tokens(tokens, max_new_tokens: int, base_url: str) -> int:
    """A server's `usage.completion_tokens` as the count it must be: a whole number from 0 to the tokens asked for
    (none given: 0, not counted). Anything else (a word, a fraction, infinity, -5, 10^30) would be written into
    results and reports as if measured: the server is not to be trusted, one `ServerUnavailable` line."""
    if tokens is None:
        return 0
    if isinstance(tokens, bool) or not isinstance(tokens, int) or not 0 <= tokens <= max(max_new_tokens, 1):
        raise ServerUnavailable(
            f"the server at {base_url} reported {str(tokens)[:40]!r} completion tokens for a request of at most "
            f"{max_new_tokens}: not an answer to trust"
        )
    return tokens


_NOT_YET = object()


def bounded_map(function, jobs: Sequence[tuple], workers: int, seconds: float, progress: str | None = None) -> list:
    """`[function(*job) for job in jobs]`, `workers` at a time on daemon threads, in job order. The first job to
    fail raises here at once; a job running longer than `seconds` raises `TimeoutError`. Either way the jobs
    still running are abandoned (daemon threads: they cannot keep the process alive) and no queued job starts."""
    import queue
    import threading
    import time

    from tqdm import tqdm

    waiting: queue.SimpleQueue = queue.SimpleQueue()
    for index, job in enumerate(jobs):
        waiting.put((index, job))
    finished: queue.SimpleQueue = queue.SimpleQueue()
    started: dict[int, float] = {}
    stop = threading.Event()

    def work() -> None:
        while not stop.is_set():
            try:
                index, job = waiting.get_nowait()
            except queue.Empty:
                return
            started[index] = time.monotonic()
            try:
                finished.put((index, function(*job), None))
            except BaseException as err:  # noqa: BLE001 - handed to the caller's thread, raised there
                finished.put((index, None, err))

    for _ in range(min(workers, len(jobs))):
        threading.Thread(target=work, daemon=True).start()
    results = [_NOT_YET] * len(jobs)
    try:
        with tqdm(total=len(jobs), desc=progress, unit="request", disable=progress is None) as bar:
            for _ in range(len(jobs)):
                while True:
                    try:
                        index, result, error = finished.get(timeout=0.2)
                        break
                    except queue.Empty:
                        now = time.monotonic()
                        if any(now - at > seconds for i, at in list(started.items()) if results[i] is _NOT_YET):
                            raise TimeoutError(f"no complete answer within {seconds:g} s") from None
                if error is not None:
                    raise error
                results[index] = result
                bar.update(1)
    finally:
        stop.set()
    return results


def _message(err) -> str:
    """The server's own words from an API error, short (never the request, which holds the images)."""
    body = getattr(err, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        message = inner.get("message") if isinstance(inner, dict) else inner
        if message:
            return (str(message).strip().splitlines() or [""])[0][:300]
    return (str(getattr(err, "message", err)).strip().splitlines() or [""])[0][:300]
