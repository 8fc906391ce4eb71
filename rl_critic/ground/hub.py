"""A hub id without a network: one line in seconds, not minutes of retries.

`transformers` and `datasets` retry a hub they cannot reach (measured: 155 s and 30 retry lines before the
error). Before a name is handed to them as a hub id, `check_hub_reachable` asks whether it can load at all: from
the local cache (then it is used as the libraries would), or from the hub endpoint (`HF_ENDPOINT`, default
huggingface.co), which must accept a connection within `PROBE_SECONDS` (name resolution included, hence the
thread: `getaddrinfo` has no timeout of its own).
"""

from __future__ import annotations

import os
import socket
import threading
from urllib.parse import urlparse

from rl_critic.ground.errors import UserError

PROBE_SECONDS = 5.0


def hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").upper() in ("1", "ON", "YES", "TRUE")


def cached(repo_id: str, repo_type: str) -> bool:
    """Whether anything of `repo_id` is in the local hub cache (a model's config, a dataset's snapshot)."""
    try:
        from huggingface_hub import scan_cache_dir

        return any(repo.repo_id == repo_id and repo.repo_type == repo_type for repo in scan_cache_dir().repos)
    except Exception:  # no cache folder yet, an unreadable one: nothing cached
        return False


def endpoint_reachable(endpoint: str, timeout: float = PROBE_SECONDS) -> str | None:
    """None when `endpoint` accepts a TCP connection within `timeout`, else why not."""
    parsed = urlparse(endpoint)
    host, port = parsed.hostname or "", parsed.port or (443 if parsed.scheme == "https" else 80)
    outcome: list[str | None] = []

    def probe() -> None:
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            outcome.append(None)
        except OSError as err:
            outcome.append(err.strerror or str(err) or type(err).__name__)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout)
    return outcome[0] if outcome else f"no answer within {timeout:g} s"


def check_hub_reachable(repo_id: str, repo_type: str = "model") -> None:
    """Refuse, in seconds, a hub id that can load neither from the cache nor from the hub (see the module
    docstring); offline mode (`HF_HUB_OFFLINE=1`) is left to the libraries, which fail fast then."""
    if hub_offline() or cached(repo_id, repo_type):
        return
    endpoint = os.environ.get("HF_ENDPOINT") or "https://huggingface.co"
    reason = endpoint_reachable(endpoint)
    if reason is not None:
        raise UserError(
            f"{repo_id!r} is read as a hub {repo_type} id, but {endpoint} cannot be reached ({reason}) and it is "
            f"not in the local cache: pass a local {'checkpoint' if repo_type == 'model' else 'data'} folder, or "
            "download it where there is network (HF_HUB_OFFLINE=1 then reads the cache only)"
        )
