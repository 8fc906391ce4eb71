"""Reading any input the converters accept, and writing datasets folders that TRL loads directly.

Inputs: a parquet file or folder of parquet files, a JSONL/JSON file (image paths relative to it), a
`save_to_disk` folder, or a hub dataset id (where the user has network). Images are cast to
`Image(decode=False)` so the converter sees their bytes and never decodes pixels.

Outputs: `parquet` (default) is `DIR/data/train-00000-of-00001.parquet` plus a dataset card, so
`load_dataset(DIR)` and `trl ... --dataset_name DIR` read exactly the data: the file's name is the hub's split
convention, which `datasets` finds before anything else in the folder (not `rejected.jsonl` or `summary.json`
beside it). The card has no `configs:` header on purpose: with one, `datasets` caches the folder under its name and
the header's relative path only, so a second folder of the same name (or this one, converted again) would be read
from the first one's cache; found by convention, the cache key holds the file's absolute path and modification
time. `disk` is a `save_to_disk` folder.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rl_critic.ground.errors import UserError, first_line, storage_failure

DATA_FILE = "data/train-00000-of-00001.parquet"
DATA_SUFFIXES = (".parquet", ".jsonl", ".json")
# A dataset folder holds data files and a card, not a file system: `--input /` must not walk the whole disk.
MAX_FOLDER_ENTRIES = 10_000
# Lists and objects inside each other: real rows nest 2-4 levels. `datasets` and pyarrow recurse once per level
# (a RecursionError at ~1,000 levels, a segmentation fault at 10,000), so deeper input is refused before.
MAX_NESTING = 100


def undecoded_images(dataset):
    """Cast every image column (single or list) to undecoded bytes (`{"bytes", "path"}`): the readers decode
    them through `images.image_ref`, never `datasets` itself (which would open any path a row names)."""
    from datasets import Image, List

    for name, feature in dataset.features.items():
        if isinstance(feature, Image) and feature.decode:
            dataset = dataset.cast_column(name, Image(decode=False))
        elif isinstance(feature, List) and isinstance(feature.feature, Image) and feature.feature.decode:
            dataset = dataset.cast_column(name, List(Image(decode=False)))
    return dataset


def _single_split(data, split: str | None, where: str):
    from datasets import DatasetDict

    if not isinstance(data, DatasetDict):
        return data
    if split is not None:
        if split not in data:
            raise UserError(f"{where} has no split {split!r}; it has: {', '.join(data)}")
        return data[split]
    if len(data) == 1:
        return next(iter(data.values()))
    for name in ("train", "test"):
        if name in data:
            return data[name]
    raise UserError(f"{where} has several splits ({', '.join(data)}); pick one with --split")


@contextmanager
def datasets_bars(shown: bool) -> Iterator[None]:
    """`datasets`' own progress bars shown or not within the block (and as they were after it): reading a file
    ("Generating train split") and writing one ("Creating parquet") take a second and would draw bars
    between a command's own lines; `convert`'s pass over the rows is the one bar worth showing."""
    from datasets.utils import logging as datasets_logging

    was_shown = datasets_logging.is_progress_bar_enabled()
    (datasets_logging.enable_progress_bar if shown else datasets_logging.disable_progress_bar)()
    try:
        yield
    finally:
        (datasets_logging.enable_progress_bar if was_shown else datasets_logging.disable_progress_bar)()


def load_any(path_or_id: str, hub_config: str | None = None, split: str | None = None):
    """One split of any dataset the toolkit accepts (images decoded, as `datasets` gives them).

    A local file or folder that `datasets` cannot read (empty, truncated, corrupt, not UTF-8, `{}` lines,
    schemas that do not match) or that holds no rows is one `UserError` naming it, not a pyarrow traceback.
    """
    path = Path(path_or_id).expanduser()
    if not path.exists():  # a hub id: its download bars stay
        return _load_any(path_or_id, hub_config, split)
    check_readable_input(path, path_or_id)
    try:
        with datasets_bars(False):
            dataset = _load_any(path_or_id, hub_config, split)
    except UserError:
        raise
    except StopIteration as err:  # `datasets` on an empty JSONL file
        raise UserError(f"{path_or_id} holds no rows") from err
    except Exception as err:
        # ValueError covers UnicodeDecodeError; datasets/pyarrow raise their own types (DatasetGenerationError,
        # ArrowInvalid, ...). Anything else is a bug, not the input's fault.
        builtin = isinstance(err, (OSError, ValueError, TypeError, KeyError))
        if not builtin and type(err).__module__.split(".")[0] not in ("datasets", "pyarrow"):
            raise
        cause = storage_failure(err)
        if cause:  # the input is fine; its cache could not be written
            raise UserError(f"{cause} (while caching {path_or_id})") from err
        if builtin and "corresponds to no data" in str(err):  # only `{}` lines: no columns, so no split
            raise UserError(f"{path_or_id} holds no rows") from err
        raise UserError(f"cannot read {path_or_id}: {first_line(err)}") from err
    if len(dataset) == 0 or not dataset.column_names:
        raise UserError(f"{path_or_id} holds no rows")
    return dataset


def _load_any(path_or_id: str, hub_config: str | None, split: str | None):
    """What `datasets` reads, it reads: a folder (data files found recursively, splits by file name, a dataset
    card's `configs:`), a hub id. Ours are the checks around it: a `save_to_disk` folder, a single file's
    builder, a folder of mixed formats, and a missing path that must not be tried as a hub id."""
    from datasets import load_dataset, load_from_disk

    path = Path(path_or_id).expanduser()
    if path.is_dir() and ((path / "state.json").exists() or (path / "dataset_dict.json").exists()):
        return _single_split(load_from_disk(str(path)), split, path_or_id)
    if path.is_file():
        builder = {".parquet": "parquet", ".jsonl": "json", ".json": "json"}.get(path.suffix.lower())
        if builder is None:
            raise UserError(f"unsupported input file type {path.suffix!r} (expected .parquet, .jsonl or .json)")
        check_data_files([path])
        return load_dataset(builder, data_files=str(path), split="train")
    if path.is_dir() and (path / "README.md").exists() and (path / DATA_FILE).exists():  # `rl-critic convert`
        check_data_files([path / DATA_FILE])
        return load_dataset("parquet", data_files=str(path / DATA_FILE), split="train")
    if path.is_dir():
        check_data_files(_check_one_format(path, path_or_id))
        # A card's `configs:` header makes `datasets` cache the folder by its name and the header's relative paths
        # only (module docstring): another folder of that name, or this one since changed, would be read from the
        # cache. A local folder is prepared again from its files every time (what a first read does anyway).
        dataset = load_dataset(str(path), name=hub_config, download_mode="force_redownload")
        return _single_split(dataset, split, path_or_id)
    if path.is_symlink():  # a link that leads nowhere: a loop, or a target that is gone
        raise UserError(f"input {path_or_id} is a symbolic link to nothing readable (a loop, or a missing target)")
    # A name with a data-file ending is a local file, not a hub id (`data/q.jsonl` has one slash, like `org/name`).
    looks_like_file = path.suffix.lower() in (".parquet", ".jsonl", ".json", ".arrow", ".csv")
    if looks_like_file or path_or_id.startswith((".", "/", "~")) or path_or_id.count("/") != 1:
        raise UserError(f"input not found: {path_or_id}")
    from rl_critic.ground.hub import check_hub_reachable

    check_hub_reachable(path_or_id, "dataset")
    try:
        data = load_dataset(path_or_id, name=hub_config)
    except Exception as err:  # the hub raises many types; the user needs the first line
        raise UserError(f"cannot load dataset {path_or_id!r}: {first_line(err)}") from err
    return _single_split(data, split, path_or_id)


def check_readable_input(path: Path, named: str) -> None:
    """An input that exists but is neither a file nor a folder (`<(cat f)`, a FIFO, a device) is named for
    what it is: the readers open their input more than once, which a stream cannot give."""
    mode = path.stat().st_mode
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        kind = "a pipe" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else "a device"
        raise UserError(f"input {named} is {kind}, not a file or folder: save the data to a file and pass that")


def folder_files(folder: Path, named: str) -> list[Path]:
    """Every file under `folder` but hidden ones (as `datasets` reads a folder: a clone's `.git` is not data;
    symlinked folders are not followed), refused past `MAX_FOLDER_ENTRIES` entries: a dataset folder, not `/`
    or a home folder, which would be walked for minutes."""
    files, seen = [], 0
    for root, dirs, names in os.walk(folder):
        dirs[:] = [name for name in dirs if not name.startswith(".")]
        names = [name for name in names if not name.startswith(".")]
        seen += len(dirs) + len(names)
        if seen > MAX_FOLDER_ENTRIES:
            raise UserError(
                f"{named} holds over {MAX_FOLDER_ENTRIES:,} files and folders: not a dataset folder (pass the "
                "folder or file that holds the data)"
            )
        files += [Path(root) / name for name in names]
    return files


def _check_one_format(folder: Path, path_or_id: str) -> list[Path]:
    """A folder of parquet or of JSONL files, not both: reading one kind would drop the other's rows
    unmentioned (`datasets` picks the most common format). Returns its data files."""
    data_files = [file for file in folder_files(folder, path_or_id) if file.suffix.lower() in DATA_SUFFIXES]
    for file in data_files:  # `datasets` would open a FIFO named x.jsonl and wait for a writer forever
        check_readable_input(file, str(file))
    found = {
        kind: sum(file.suffix.lower() == suffix for file in data_files)
        for kind, suffix in (("parquet", ".parquet"), ("JSONL", ".jsonl"))
    }
    if all(found.values()):
        raise UserError(
            f"{path_or_id} holds both parquet ({found['parquet']}) and JSONL ({found['JSONL']}) files: pass one "
            "file or a folder of one kind"
        )
    if not any(found.values()):
        raise UserError(f"{path_or_id} holds no parquet, JSONL or save_to_disk dataset")
    return data_files


def check_data_files(files: Iterable[Path]) -> None:
    """Refuse, before `datasets` reads them, JSON text that is not UTF-8 (pyarrow stores its bytes as they are,
    and the first row read fails deep inside `datasets`) and data nested deeper than `MAX_NESTING` (see there):
    JSON text is scanned (fast: only files with that many brackets at all are scanned bracket by bracket),
    parquet by its schema."""
    for file in files:
        if file.suffix.lower() == ".parquet":
            depth = _parquet_depth(file)
        elif file.suffix.lower() in (".json", ".jsonl") and file.is_file():
            depth = _json_depth(file)
        else:
            continue
        if depth > MAX_NESTING:
            raise UserError(
                f"{file} nests lists or objects over {MAX_NESTING} levels deep ({depth:,}): no dataset row does; "
                "not reading it"
            )


_JSON_TOKEN = re.compile(r'\\.|["\[\]{}]')


def _json_depth(file: Path) -> int:
    """The deepest nesting of the JSON (or JSON Lines) text in `file`; strings are skipped (JSON strings hold
    no raw line breaks, so a line never starts inside one). A file with few brackets returns their count."""
    try:
        with open(file, encoding="utf-8-sig") as handle:
            opened = sum(line.count("[") + line.count("{") for line in handle)
    except UnicodeDecodeError as err:
        raise UserError(
            f"{file} is not UTF-8 text (byte 0x{err.object[err.start]:02x}: {err.reason}); save it as UTF-8"
        ) from None
    if opened <= MAX_NESTING:
        return opened
    deepest = depth = 0
    with open(file, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if line.count("[") + line.count("{") == 0 and depth == 0:
                continue
            in_string = False
            for match in _JSON_TOKEN.finditer(line):
                token = match.group()
                if token == '"':
                    in_string = not in_string
                elif in_string or token[0] == "\\":
                    continue
                elif token in "[{":
                    depth += 1
                    deepest = max(deepest, depth)
                else:
                    depth = max(depth - 1, 0)
            if deepest > MAX_NESTING:
                break
    return deepest


def _parquet_depth(file: Path) -> int:
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(str(file))
    except Exception:  # not parquet: `datasets` names what is wrong with it
        return 0
    deepest, stack = 0, [(field.type, 1) for field in schema]
    while stack:
        data_type, depth = stack.pop()
        deepest = max(deepest, depth)
        stack += [(data_type.field(i).type, depth + 1) for i in range(data_type.num_fields)]
    return deepest


def load_input(path_or_id: str, hub_config: str | None = None, split: str | None = None):
    """(dataset with undecoded images, folder that relative image paths start from)."""
    path = Path(path_or_id).expanduser()
    base_dir = str(path) if path.is_dir() else str(path.parent) if path.is_file() else None
    return undecoded_images(load_any(path_or_id, hub_config, split)), base_dir


def json_line(record: Any) -> str:
    """One JSON Lines line that every JSON reader takes: NaN and infinities (Python writes them as bare `NaN`,
    which is not JSON) become null."""
    return json.dumps(finite(record), ensure_ascii=False, allow_nan=False) + "\n"


def finite(value: Any) -> Any:
    """`value` with every non-finite float (NaN, infinities) inside it replaced by None."""
    if isinstance(value, float):
        return value if value - value == 0 else None
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(item) for item in value]
    return value


def dataset_card(summary: dict[str, Any]) -> str:
    """The output's README.md: what was converted, from what. Its YAML header names the data and holds no
    `configs:` (see the module docstring); without any header `datasets` warns on every read."""
    return (
        f"---\npretty_name: {summary['source']} -> {summary['task']}\ntags:\n- rl-critic\n---\n"
        f"# {summary['source']} -> {summary['task']}\n\n"
        f"Converted by `rl-critic convert` from `{summary['input']}` (seed {summary['seed']}).\n\n"
        f"```json\n{json.dumps(summary, indent=2)}\n```\n"
    )


def write_dataset(dataset, folder: Path, out_format: str) -> None:
    """`parquet` (the default: a data file + card, see the module docstring) or `disk` (`save_to_disk`)."""
    if out_format == "disk":
        dataset.save_to_disk(str(folder))
    else:
        _write_parquet(dataset, folder / DATA_FILE)


def _write_parquet(dataset, path: Path, batch_size: int = 1000) -> None:
    """Stream Arrow batches into one parquet file.

    `Dataset.to_parquet` holds far more than a batch at a time on an index-mapped dataset (measured: 470 MB
    extra for 100k rows); this keeps memory flat. The schema carries the `datasets` features, so
    `load_dataset` gives back `Image` columns.
    """
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    schema = dataset.features.arrow_schema
    with pq.ParquetWriter(str(path), schema) as writer:
        for batch in dataset.with_format("arrow").iter(batch_size=batch_size):
            writer.write_table(batch.cast(schema))
