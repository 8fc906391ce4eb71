"""The one exception type the CLI turns into a one-line message instead of a traceback.

It lives in `rl_critic.ground`, under every package (a converter meets a missing input first), so every layer
can raise and catch the same type without importing upward.
"""

from __future__ import annotations

import errno
import os
import re


class UserError(Exception):
    """Bad input from the user (a missing folder, an unknown name, an unreadable file).

    Raised with a message that says what was wrong and, where possible, what to do; the CLI prints it as
    `rl-critic <command>: error: <message>` and exits non-zero.
    """


def first_line(err: BaseException) -> str:
    """An exception as one line for a `UserError` message: its first line (at most 300 characters), or, for
    `datasets`' DatasetGenerationError ("An error occurred while generating the dataset"), its cause's."""
    text = str(err).strip() or type(err).__name__
    cause = err.__cause__ or err.__context__
    if isinstance(cause, Exception) and type(err).__name__ == "DatasetGenerationError":
        text = str(cause).strip() or text
    return text.splitlines()[0][:300]


# Values that must never be printed: an API key read from the environment, a password inside a URL. Registered
# where they are read (`register_secret`); every line the CLI prints goes through `redacted`.
_SECRETS: set[str] = set()
_BEARER = re.compile(r"(?i)\b(bearer\s+)[^\s\"',;]+")
_URL_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@]+@")


def register_secret(value: str | None) -> None:
    """Remember `value` (an API key, a URL password) so that `redacted` hides it wherever it turns up, e.g. in a
    server's error message that echoes the request's `Authorization` header."""
    if value and len(value) >= 4:
        _SECRETS.add(value)


def redacted(text: str) -> str:
    """`text` with every registered secret, every `Bearer <token>` and every `user:password@` of a URL as `***`."""
    for secret in sorted(_SECRETS, key=len, reverse=True):
        text = text.replace(secret, "***")
    text = _URL_CREDENTIALS.sub(r"\1***@", text)
    return _BEARER.sub(r"\1***", text)


# A full disk, a quota or a file-size limit: libraries (datasets, pyarrow, safetensors) wrap these in their own
# exceptions, but to the user they are all "the output could not be written".
_STORAGE_ERRNOS = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EROFS}


def storage_failure(err: BaseException) -> str | None:
    """The one line for an exception caused (anywhere in its chain) by a storage failure, else None."""
    seen: set[int] = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        if isinstance(err, OSError) and err.errno in _STORAGE_ERRNOS:
            return os_error_line(err)
        code = re.search(r"\(os error (\d+)\)", str(err))  # safetensors (Rust) reports the errno in its text
        if code and int(code.group(1)) in _STORAGE_ERRNOS:
            return f"{os.strerror(int(code.group(1)))} (while writing weights)"
        err = err.__cause__ or err.__context__
    return None


def os_error_line(err: OSError) -> str:
    """`No space left on device: /data/out/.x.partial-...`: what failed and on which file, in one line."""
    where = f": {err.filename}" if err.filename else " (while writing)" if err.errno in _STORAGE_ERRNOS else ""
    return f"{err.strerror or str(err).splitlines()[0]}{where}"
