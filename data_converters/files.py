"""Writing folders so that a crash or a refused run never leaves a half-written one behind."""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from data_converters.errors import UserError


def check_replaceable(out: str | Path, marker: str | None = None, protect: Iterable[str | Path] = ()) -> Path:
    """Refuse, with one clear line, an output folder whose replacement would destroy what is not ours.

    Never the working directory, one of its parents or the home folder (`--out .` once emptied a user's
    folder); never a folder holding one of `protect` (a command's own input); with `marker`, never a
    non-empty folder that is not an earlier output of the same command (it has no `marker` file).
    """
    out = Path(out).expanduser().resolve()
    if out.exists() and not out.is_dir():
        raise UserError(f"output {out} exists and is not a folder")
    cwd = Path.cwd().resolve()
    if out == cwd or out in cwd.parents or out == Path.home().resolve():
        raise UserError(f"refusing to write into {out}: it is the working directory, one of its parents or the "
                        "home folder, and replacing it would delete what is there; name a new folder")  # fmt: skip
    for path in protect:
        path = Path(path).expanduser().resolve()
        if path == out or out in path.parents:
            raise UserError(f"refusing to replace {out}: it holds the input {path}")
    if marker and out.is_dir() and not (out / marker).exists() and any(out.iterdir()):
        raise UserError(f"{out} is not empty and is not an earlier output of this command (no {marker}); "
                        "not replacing it: name a new or empty folder")  # fmt: skip
    return out


@contextmanager
def staged_folder(
    out: str | Path, *, replace: bool = True, marker: str | None = None, protect: Iterable[str | Path] = ()
) -> Iterator[Path]:
    """Yield an empty staging folder beside `out`; on success it becomes `out`, on any error it is removed.

    Beside (not in /tmp) so the final rename stays on one file system and is atomic. `replace=False`: if `out`
    appeared while this run was writing (a second run with the same `--out`), fail instead of deleting it.
    `marker` and `protect` are checked first and again before replacing (`check_replaceable`).
    """
    out = check_replaceable(out, marker, protect)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    staging.chmod(0o777 & ~umask())  # mkdtemp makes 0700; the result should look like any other folder
    try:
        yield staging
        if replace:
            check_replaceable(out, marker, protect)
            if out.exists():
                shutil.rmtree(out)
        try:
            staging.rename(out)  # onto a non-empty folder this fails: nobody's output is lost
        except OSError as err:
            if err.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise
            raise UserError(f"{out} appeared while this run was writing (another run with the same output?); "
                            "left it as it is and discarded this run's output") from err  # fmt: skip
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


@contextmanager
def staged_file(out: str | Path, mode: str = "w") -> Iterator:
    """Yield a text handle to a temporary file beside `out`; on success it becomes `out`, on error it is removed."""
    out = Path(out).expanduser().resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{out.name}.partial-", dir=out.parent)
    os.close(descriptor)
    try:
        with open(temporary, mode, encoding="utf-8") as handle:
            yield handle
        os.chmod(temporary, 0o666 & ~umask())
        os.replace(temporary, out)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def umask() -> int:
    """The process umask (reading it means setting it; it is set straight back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask
