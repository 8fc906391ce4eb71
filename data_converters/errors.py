"""The one exception type the CLI turns into a one-line message instead of a traceback.

It lives in the lowest package that raises it (a converter meets a missing input first), so every layer
above can raise and catch the same type without importing upward.
"""

from __future__ import annotations


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
