"""Resuming a killed run, the one way every command does it: a fingerprint of the settings and the input
(`run_settings`), a line naming what changed when they differ (`settings_changes`), and a journal of the
finished units of work (`Journal`).

Hours of sampling and judging must not hang on the last question: `best-of-n`, `eval` and `make-pairs` append
each finished record (flushed to disk) to `.NAME.journal.jsonl` beside the output as soon as it is done. A
later run with the *same settings* goes on after the records there; one with other settings is refused (mixing
them would silently give a file half made one way and half the other), and so is a second run while the first
is still writing (the journal holds its output's `OutputClaim` from `check` to `remove`: two runs started a second
apart cannot both pass). When the run completes, the output is written in one piece and the journal removed.
Critic-DPO rounds and demo stages are larger units, each finished by a marker file that stores the same
fingerprint; a re-run checks it with `settings_changes` before reusing the unit.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable
from contextlib import suppress
from dataclasses import asdict
from pathlib import Path
from typing import Any

from data_converters.io import json_line
from rl_critic.generation.settings import TRANSPORT_FIELDS
from rl_critic.ground.errors import UserError
from rl_critic.ground.files import OutputClaim, hidden_name


def run_settings(*groups: Any, source: str | None = None, leave_out: Iterable[str] = ("out",)) -> dict[str, Any]:
    """What decides a run's results: every field of `groups` (dataclass instances, or dicts of chosen
    settings) but those in `leave_out` and how a server is reached (`TRANSPORT_FIELDS`), and the input
    `source` (its path, and one digest of every file's name, size and time: a file, or a dataset folder), as
    it reads back from JSON."""
    settings: dict[str, Any] = {}
    for group in groups:
        values = group if isinstance(group, dict) else asdict(group)
        settings |= {
            key: value for key, value in values.items() if key not in leave_out and key not in TRANSPORT_FIELDS
        }
    path = Path(source) if source else None
    files = [] if path is None else sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    stats = [[str(file), stat.st_size, stat.st_mtime_ns] for file in files if file.is_file() for stat in [file.stat()]]
    if stats:
        settings["input"] = [str(path.resolve()), hashlib.sha256(json.dumps(stats).encode()).hexdigest()[:16]]
    return json.loads(json.dumps(settings, default=str))


def settings_changes(stored: dict[str, Any], current: dict[str, Any], shown: int = 4) -> str:
    """`n 3 -> 2, seed 0 -> 1`: what differs between two fingerprints ("" when nothing does), the first
    `shown` of them by name."""
    changed = sorted(key for key in stored.keys() | current.keys() if stored.get(key) != current.get(key))
    text = ", ".join(f"{key} {stored.get(key)!r} -> {current.get(key)!r}" for key in changed[:shown])
    return text + (", ..." if len(changed) > shown else "")


class Journal:
    """The finished records of the run writing `out` (see the module docstring)."""

    def __init__(self, out: str | Path, settings: dict[str, Any]) -> None:
        out = Path(out)
        self.path = out.parent / hidden_name(out, ".journal.jsonl")
        self.settings = json.loads(json.dumps(settings, default=str))  # as it reads back from disk
        self._handle = None
        self.claim = OutputClaim(out)

    def check(self, unit: int = 1) -> list[dict[str, Any]]:
        """The records a killed run left (none if it left no journal), cut to a multiple of `unit` (work that is
        redone as a whole); refused when another run is writing the output or they were made with other settings.
        Claims the output and writes nothing else: call it before loading a model, so a clash costs nothing."""
        self.claim.acquire()
        header, records = self._read()
        records = records[: len(records) // unit * unit]
        if header is not None and records:  # a run killed before its first record left nothing to go on from
            changes = settings_changes(header.get("settings", {}), self.settings)
            if changes:
                raise UserError(
                    f"{self.path} holds {len(records)} finished record(s) of an interrupted run with "
                    f"other settings ({changes}): run with those to finish it, or delete the file to start over"
                )
        return records

    def resume(self, unit: int = 1) -> list[dict[str, Any]]:
        """`check`'s records; from here on this run owns the journal (rewritten: header, then the records)."""
        records = self.check(unit)
        self._write_all(records)
        return records

    def fill(self, unit: int, produce: Callable[[int], Iterable[dict[str, Any]]], what: str) -> list[dict[str, Any]]:
        """Every record: a killed run's (whole `unit`s of them, work redone as a whole), then `produce(done)`'s,
        each kept here as it finishes. Interrupted, the journal stays for the same command to go on from,
        unless not one `unit` was finished."""
        records = self.resume(unit)
        if records:
            print(f"resuming: {len(records)} {what} already done in {self.path}")
        try:
            for record in produce(len(records)):
                self.add(record)
                records.append(record)
        except BaseException:
            if len(records) < unit:
                self.remove()
            else:
                print(f"kept {len(records)} finished {what} in {self.path}: the same command goes on from there")
            raise
        return records

    def add(self, record: dict[str, Any]) -> None:
        """Append one finished record, on disk before the next one starts."""
        self._handle.write(json_line(record))
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def remove(self) -> None:
        """The run is over (output written, or nothing worth resuming): the journal goes."""
        if self._handle is not None:
            with suppress(OSError):  # a full disk fails the flush on close too; the file goes anyway
                self._handle.close()
            self._handle = None
        self.path.unlink(missing_ok=True)
        self.claim.release()  # and the folders made for the claim (and the journal), if left empty

    def _read(self) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        if not self.path.is_file():
            return None, []
        lines = self.path.read_text(encoding="utf-8").splitlines()
        try:
            header = json.loads(lines[0]) if lines else {}
            records = [json.loads(line) for line in lines[1:-1]]
        except ValueError as err:
            raise UserError(
                f"{self.path} (an interrupted run's journal) does not parse: {err}; delete it to start over"
            ) from err
        try:  # the last line may have been cut by the kill
            records += [json.loads(lines[-1])] if len(lines) > 1 else []
        except ValueError:
            pass
        return header, records

    def _write_all(self, records: list[dict[str, Any]]) -> None:
        """Rewrite the journal (header, then the complete records), then keep it open."""
        temporary = self.path.with_name(f"{self.path.name}.{os.getpid()}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with open(temporary, "w", encoding="utf-8") as handle:
                header = {"settings": self.settings}
                handle.write(json.dumps(header) + "\n")
                handle.writelines(json_line(record) for record in records)
            os.replace(temporary, self.path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        self._handle = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - open until remove()
