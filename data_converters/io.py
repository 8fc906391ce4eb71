"""Reading any input the converters accept, and writing datasets folders that TRL loads directly.

Inputs: a parquet file or folder of parquet files, a JSONL/JSON file (image paths relative to it), a
`save_to_disk` folder, or a hub dataset id (where the user has network). Images are cast to
`Image(decode=False)` so the converter sees their bytes and never decodes pixels.

Outputs: `parquet` (default) is `DIR/data/train-00000-of-00001.parquet` plus a dataset card whose
`configs:` header points at it, so `load_dataset(DIR)` and `trl ... --dataset_name DIR` read exactly the
data (not `rejected.jsonl` or `summary.json` beside it); `disk` is a `save_to_disk` folder.
"""

from __future__ import annotations

import glob
import json
from pathlib import Path
from typing import Any

from data_converters.errors import UserError, first_line

DATA_FILE = "data/train-00000-of-00001.parquet"


def _no_decode(dataset):
    """Cast every image column (single or list) to undecoded bytes."""
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


def load_any(path_or_id: str, hub_config: str | None = None, split: str | None = None):
    """One split of any dataset the toolkit accepts (images decoded, as `datasets` gives them).

    A local file or folder that `datasets` cannot read (empty, truncated, corrupt, not UTF-8, `{}` lines,
    schemas that do not match) or that holds no rows is one `UserError` naming it, not a pyarrow traceback.
    """
    path = Path(path_or_id).expanduser()
    if not path.exists():
        return _load_any(path_or_id, hub_config, split)
    try:
        dataset = _load_any(path_or_id, hub_config, split)
    except UserError:
        raise
    except StopIteration as err:  # `datasets` on an empty JSONL file
        raise UserError(f"{path_or_id} holds no rows") from err
    except (OSError, ValueError, TypeError, KeyError) as err:  # ValueError covers UnicodeDecodeError
        if "corresponds to no data" in str(err):  # only `{}` lines: no columns, so no split
            raise UserError(f"{path_or_id} holds no rows") from err
        raise UserError(f"cannot read {path_or_id}: {first_line(err)}") from err
    except Exception as err:  # datasets/pyarrow raise their own types (DatasetGenerationError, ArrowInvalid, ...)
        if type(err).__module__.split(".")[0] not in ("datasets", "pyarrow"):
            raise
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
        return load_dataset(builder, data_files=str(path), split="train")
    if path.is_dir() and (path / "README.md").exists() and (path / DATA_FILE).exists():  # `rl-critic convert`
        # Its card's `configs:` names the file, but `load_dataset(DIR)` caches such a folder by its name and the
        # card's relative path: a second `out/` would read the first one's rows. The file, by absolute path:
        return load_dataset("parquet", data_files=str(path / DATA_FILE), split="train")
    if path.is_dir():
        _check_one_format(path, path_or_id)
        return _single_split(load_dataset(str(path), name=hub_config), split, path_or_id)
    # A name with a data-file ending is a local file, not a hub id (`data/q.jsonl` has one slash, like `org/name`).
    looks_like_file = path.suffix.lower() in (".parquet", ".jsonl", ".json", ".arrow", ".csv")
    if looks_like_file or path_or_id.startswith((".", "/", "~")) or path_or_id.count("/") != 1:
        raise UserError(f"input not found: {path_or_id}")
    try:
        data = load_dataset(path_or_id, name=hub_config)
    except Exception as err:  # the hub raises many types; the user needs the first line
        raise UserError(f"cannot load dataset {path_or_id!r}: {first_line(err)}") from err
    return _single_split(data, split, path_or_id)


def _check_one_format(folder: Path, path_or_id: str) -> None:
    """A folder of parquet or of JSONL files, not both: reading one kind would drop the other's rows
    unmentioned (`datasets` picks the most common format)."""
    found = {
        kind: len(glob.glob(str(folder / "**" / pattern), recursive=True))
        for kind, pattern in (("parquet", "*.parquet"), ("JSONL", "*.jsonl"))
    }
    if all(found.values()):
        raise UserError(
            f"{path_or_id} holds both parquet ({found['parquet']}) and JSONL ({found['JSONL']}) files: pass one "
            "file or a folder of one kind"
        )
    if not any(found.values()):
        raise UserError(f"{path_or_id} holds no parquet, JSONL or save_to_disk dataset")


def load_input(path_or_id: str, hub_config: str | None = None, split: str | None = None):
    """(dataset with undecoded images, folder that relative image paths start from)."""
    path = Path(path_or_id).expanduser()
    base_dir = str(path) if path.is_dir() else str(path.parent) if path.is_file() else None
    return _no_decode(load_any(path_or_id, hub_config, split)), base_dir


def dataset_card(summary: dict[str, Any]) -> str:
    """A README.md whose YAML header makes `load_dataset(DIR)` read only the converted rows."""
    header = f"---\nconfigs:\n- config_name: default\n  data_files:\n  - split: train\n    path: {DATA_FILE}\n---\n"
    body = (
        f"# {summary['source']} -> {summary['task']}\n\n"
        f"Converted by `rl-critic convert` from `{summary['input']}` (seed {summary['seed']}).\n\n"
        f"```json\n{json.dumps(summary, indent=2)}\n```\n"
    )
    return header + body


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
