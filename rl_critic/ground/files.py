"""Writing folders so that a crash or a refused run never leaves a half-written one behind."""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from rl_critic.ground.errors import UserError

# The longest file name Linux file systems take (bytes). Hidden names beside an output (staging, journals) add
# to the output's own name, so they are shortened, never the output's.
NAME_MAX = 255


def owner_marker(command: str) -> str:
    """The file that marks a folder as an earlier output of `rl-critic <command>` (`.rl-critic-convert`):
    named after the command, so one command's `--overwrite` never takes another's folder (a `summary.json`
    is written by several) for its own."""
    return f".rl-critic-{command}"


def check_name_length(out: Path) -> None:
    """An output name the file system will refuse is refused before the work, not when it is written."""
    if len(out.name.encode()) > NAME_MAX:
        raise UserError(f"output name {out.name[:40]}... is {len(out.name.encode())} bytes; the limit is {NAME_MAX}")


def check_replaceable(out: str | Path, marker: str | None = None, protect: Iterable[str | Path] = ()) -> Path:
    """Refuse, with one clear line, an output folder whose replacement would destroy what is not ours.

    Never the working directory, one of its parents or the home folder (`--out .` once emptied a user's
    folder); never a folder holding one of `protect` (a command's own input); with `marker` (a file only
    that command writes, see `owner_marker`), never a non-empty folder that is not an earlier output of the
    same command.
    """
    check_name_length(Path(out))
    out = Path(out).expanduser().resolve()
    if out.exists() and not out.is_dir():
        raise UserError(f"output {out} exists and is not a folder")
    cwd = Path.cwd().resolve()
    if out == cwd or out in cwd.parents or out == Path.home().resolve():
        raise UserError(
            f"refusing to write into {out}: it is the working directory, one of its parents or the "
            "home folder, and replacing it would delete what is there; name a new folder"
        )
    for path in protect:
        path = Path(path).expanduser().resolve()
        if path == out or out in path.parents:
            raise UserError(f"refusing to replace {out}: it holds the input {path}")
    if marker and out.is_dir() and not (out / marker).exists() and any(out.iterdir()):
        raise UserError(
            f"{out} is not empty and is not an earlier output of this command (no {marker}); "
            "not replacing it: name a new or empty folder"
        )
    return out


def mark_owner(folder: Path, marker: str) -> None:
    """Write `marker` (see `owner_marker`) into `folder`, unless the command wrote its own."""
    path = folder / marker
    if not path.exists():
        path.write_text("Written by rl-critic: marks this folder as that command's output (see --overwrite).\n")


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
    with OutputClaim(out):  # one run at a time: a second one is refused before it writes anything
        out.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_staging(out)
        staging = Path(tempfile.mkdtemp(prefix=staging_prefix(out), dir=out.parent))
        staging.chmod(0o777 & ~umask())  # mkdtemp makes 0700; the result should look like any other folder
        try:
            yield staging
            if marker:
                mark_owner(staging, marker)
            if replace:
                check_replaceable(out, marker, protect)
                if out.exists():
                    shutil.rmtree(out)
            try:
                staging.rename(out)  # onto a non-empty folder this fails: nobody's output is lost
            except OSError as err:
                if err.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                    raise
                raise UserError(
                    f"{out} appeared while this run was writing (another run with the same output?); "
                    "left it as it is and discarded this run's output"
                ) from err
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise


def check_output_file(out: str | Path, inputs: Iterable[str | Path | None] = (), overwrite: bool | None = None) -> Path:
    """Refuse, before any work, a file output that cannot be written: an existing folder, a path under a file,
    a name over the file system's limit, one of the command's `inputs` (through symlinks and hard links too:
    the results would replace what the command reads) and, unless `overwrite` (None: a caller that checks
    existing files itself), an existing file."""
    named = out
    check_name_length(Path(out))
    out = Path(out).expanduser().resolve()
    for source in inputs:
        if source is not None and _same_file(out, Path(source).expanduser()):
            raise UserError(
                f"refusing to write {named}: it is the input {source} (the results would replace it); name another file"
            )
    if out.is_dir():
        raise UserError(f"output {out} is a folder; name a file")
    if overwrite is False and (out.exists() or out.is_symlink()):
        raise UserError(f"output {named} exists (pass --overwrite to replace it)")
    for parent in out.parents:
        if parent.exists():
            if not parent.is_dir():
                raise UserError(f"cannot write {out}: {parent} is a file, not a folder")
            break
    return out


def _same_file(out: Path, source: Path) -> bool:
    if out == source.resolve():
        return True
    try:
        return out.exists() and source.exists() and os.path.samefile(out, source)
    except OSError:
        return False


@contextmanager
def staged_path(out: str | Path) -> Iterator[Path]:
    """Yield a temporary file path beside `out` for any writer (parquet, text); on success it becomes `out`,
    on error it is removed. What killed runs left for the same `out` is removed first."""
    out = check_output_file(out)
    made = [folder for folder in out.parents if not folder.exists()]  # removed again if the write fails
    out.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_staging(out)
    descriptor, temporary = tempfile.mkstemp(prefix=staging_prefix(out), dir=out.parent)
    os.close(descriptor)
    try:
        yield Path(temporary)
        os.chmod(temporary, 0o666 & ~umask())  # mkstemp makes 0600
        os.replace(temporary, out)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        for folder in made:  # deepest first; one another writer has filled meanwhile stays
            with suppress(OSError):
                folder.rmdir()
        raise


@contextmanager
def staged_file(out: str | Path, mode: str = "w") -> Iterator:
    """Yield a text handle to a temporary file beside `out`; on success it becomes `out`, on error it is removed."""
    with staged_path(out) as temporary, open(temporary, mode, encoding="utf-8") as handle:
        yield handle


def umask() -> int:
    """The process umask (reading it means setting it; it is set straight back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def hidden_name(out: Path, suffix: str) -> str:
    """`.NAME<suffix>`, the name of something kept beside `out` (staging, a journal). A long `NAME` is cut and
    given a digest of the whole, so that the hidden name (plus a pid and a random tail) stays under
    `NAME_MAX` for any output name the file system takes."""
    name = f".{out.name}{suffix}"
    if len(name.encode()) <= NAME_MAX - 48:
        return name
    digest = hashlib.sha256(out.name.encode()).hexdigest()[:16]
    return f".{out.name.encode()[:96].decode(errors='ignore')}~{digest}{suffix}"


def staging_prefix(out: Path) -> str:
    """`.NAME.partial-<pid>-`: staging beside `out`, marked with the writing process so a later run can tell a
    killed run's leftovers (process gone) from a live run's."""
    return f"{hidden_name(out, '.partial-')}{os.getpid()}-"


def process_started(pid: int) -> int | None:
    """When process `pid` started (clock ticks since boot, Linux), None where unknown: with the pid it names
    one process, since a pid is reused once its process is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return int(handle.read().rsplit(b")", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def process_alive(pid: int, started: int | None = None) -> bool:
    """Whether process `pid` runs; with `started` (`process_started` when it was recorded), whether it is
    still that same process and not a later one that was given the same pid."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        pass
    if started is not None:
        now = process_started(pid)
        return now is None or now == started
    return True


def remove_stale(folder: Path, prefix: str) -> None:
    """Delete `folder/<prefix><pid>-*` entries whose process has died (a killed run's staging or caches)."""
    import glob

    for path in folder.glob(glob.escape(prefix) + "*"):
        pid = path.name[len(prefix) :].split("-", 1)[0]
        if not pid.isdigit() or process_alive(int(pid)):
            continue
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def remove_stale_staging(out: Path) -> None:
    """Remove what killed runs writing `out` left beside it (`.NAME.partial-<pid>-*`)."""
    remove_stale(out.parent, hidden_name(out, ".partial-"))


@contextmanager
def private_temp_dir(kind: str) -> Iterator[str]:
    """A temporary folder `rl-critic-<kind>-<pid>-*` in the system temp folder, removed afterwards; those of
    killed runs (process gone) are removed first, so they do not pile up."""
    remove_stale(Path(tempfile.gettempdir()), f"rl-critic-{kind}-")
    with tempfile.TemporaryDirectory(prefix=f"rl-critic-{kind}-{os.getpid()}-") as folder:
        yield folder


class OutputClaim:
    """One live run per output: a lock on `.NAME.lock` beside `out` (a file or a folder), held while the run writes.

    Checks of what is on disk cannot tell two runs started a second apart (both find the output free, both write,
    the result is a mix); a lock can. `fcntl.flock` is released by the kernel when its process ends however it
    ends, so a killed run never leaves a claim that blocks the next one; the lock file itself goes on `release` or
    at exit. The second run gets one line naming the first one's pid.
    """

    held: list[OutputClaim] = []  # this process's claims: a command's end releases them all (`release_all`)

    def __init__(self, out: str | Path) -> None:
        self.out = Path(out).expanduser().absolute()
        self.path = self.out.parent / hidden_name(self.out, ".lock")
        self._descriptor: int | None = None
        self._made: list[Path] = []

    def acquire(self) -> OutputClaim:
        import atexit
        import fcntl

        if self._descriptor is not None or any(claim.path == self.path for claim in OutputClaim.held):
            return self  # this process holds it already (a command's writer inside the command's claim)
        self._made = [folder for folder in self.path.parents if not folder.exists()]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(10):  # the file may be replaced between open and lock by a run that just released it
            descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666 & ~umask())
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(descriptor, 64, 0).decode(errors="replace").strip()
                os.close(descriptor)
                who = f"another run (pid {holder})" if holder.isdigit() else "another run"
                raise UserError(f"{who} is writing {self.out}: wait for it to finish, or pick another output") from None
            try:
                same = os.stat(self.path).st_ino == os.fstat(descriptor).st_ino
            except FileNotFoundError:
                same = False
            if same:
                os.ftruncate(descriptor, 0)
                os.pwrite(descriptor, f"{os.getpid()}\n".encode(), 0)
                self._descriptor = descriptor
                atexit.register(self.release)
                OutputClaim.held.append(self)
                return self
            os.close(descriptor)
        raise UserError(f"cannot claim {self.out}: its lock {self.path} keeps changing")

    def release(self) -> None:
        """Remove the lock file (while still holding it), then let go; folders made for it go if left empty."""
        import atexit

        if self._descriptor is None:
            return
        with suppress(OSError):
            self.path.unlink()
        os.close(self._descriptor)
        self._descriptor = None
        atexit.unregister(self.release)
        OutputClaim.held.remove(self)
        for folder in self._made:  # deepest first; the output (or another run's) may be in it
            with suppress(OSError):
                folder.rmdir()

    @classmethod
    def release_all(cls) -> None:
        """Every claim of this process: a command is over (called by `rl_critic.script.run.run_module`), so a
        next command in the same process (a test, a notebook) starts free."""
        for claim in list(cls.held):
            claim.release()

    def __enter__(self) -> OutputClaim:
        return self.acquire()

    def __exit__(self, *exc_info) -> None:
        self.release()
