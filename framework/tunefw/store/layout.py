"""Where an experiment's files live, on any filesystem pyarrow.fs understands.

    <storage>/<experiment>/<run_id>/manifest.json      the recipe as run, versions, times
    <storage>/<experiment>/<run_id>/results/part-*.parquet
    <storage>/<experiment>/<run_id>/ray/                Ray Tune's own experiment files

Each ``tunefw run`` is a new run of its experiment; readers default to the latest run.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from pyarrow import fs as pafs

from tunefw.errors import StoreError

MANIFEST = "manifest.json"
RESULTS = "results"


@dataclass(frozen=True)
class Storage:
    """A storage root: a filesystem, the root's path on it, and the URI the user gave."""

    fs: pafs.FileSystem
    root: str
    uri: str

    @classmethod
    def open(cls, uri: str) -> Storage:
        """Open a local path or any URI pyarrow.fs understands (``s3://``, ``gs://``...)."""
        if "://" in uri:
            try:
                filesystem, root = pafs.FileSystem.from_uri(uri)
            except Exception as exc:
                raise StoreError(f"storage: cannot open {uri!r}: {exc}") from None
            return cls(filesystem, root.rstrip("/"), uri.rstrip("/"))
        path = str(Path(uri).expanduser().resolve())
        return cls(pafs.LocalFileSystem(), path, path)

    @property
    def is_local(self) -> bool:
        return isinstance(self.fs, pafs.LocalFileSystem)

    def _children(self, path: str) -> list[str]:
        selector = pafs.FileSelector(path, allow_not_found=True)
        infos = self.fs.get_file_info(selector)
        return sorted(i.base_name for i in infos if i.type == pafs.FileType.Directory)

    def experiments(self) -> list[str]:
        return self._children(self.root)

    def runs(self, experiment: str) -> list[str]:
        return self._children(f"{self.root}/{experiment}")


@dataclass(frozen=True)
class RunLocation:
    """One run of one experiment in a storage root."""

    storage: Storage
    experiment: str
    run_id: str

    @property
    def run_dir(self) -> str:
        return f"{self.storage.root}/{self.experiment}/{self.run_id}"

    @property
    def results_dir(self) -> str:
        return f"{self.run_dir}/{RESULTS}"

    @property
    def manifest_path(self) -> str:
        return f"{self.run_dir}/{MANIFEST}"

    @property
    def ray_storage_path(self) -> str:
        """The ``storage_path`` handed to Ray Tune: this run's directory, as a path or URI."""
        return f"{self.storage.uri}/{self.experiment}/{self.run_id}"


def new_run(storage: Storage, experiment: str) -> RunLocation:
    """A fresh run id, ordered by time: ``20261127-101500-a1b2``."""
    run_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"
    return RunLocation(storage, experiment, run_id)


def latest_run(storage: Storage, experiment: str, run_id: str | None = None) -> RunLocation:
    """The given run, or the newest run of ``experiment``; a ``StoreError`` if none exists."""
    runs = storage.runs(experiment)
    if not runs:
        known = ", ".join(storage.experiments()) or "none"
        raise StoreError(f"no experiment {experiment!r} in {storage.uri} (known: {known})")
    if run_id is None:
        return RunLocation(storage, experiment, runs[-1])
    if run_id not in runs:
        raise StoreError(f"--run: experiment {experiment!r} has no run {run_id!r}")
    return RunLocation(storage, experiment, run_id)


def write_atomic(storage: Storage, path: str, write: Callable[[BinaryIO], object]) -> None:
    """Write a whole file or nothing: a temp file renamed into place on local disks.

    Object stores publish an object only when its upload completes, so there the file is
    written in place.
    """
    if not storage.is_local:
        with storage.fs.open_output_stream(path) as out:
            write(out)
        return
    parent, _, name = path.rpartition("/")
    tmp = f"{parent}/.{name}.{secrets.token_hex(4)}.tmp"
    try:
        with storage.fs.open_output_stream(tmp) as out:
            write(out)
        storage.fs.move(tmp, path)
    except BaseException:
        if _exists(storage.fs, tmp):
            storage.fs.delete_file(tmp)
        raise


def _exists(filesystem: pafs.FileSystem, path: str) -> bool:
    return bool(filesystem.get_file_info(path).type != pafs.FileType.NotFound)


def write_json(storage: Storage, path: str, obj: Any) -> None:
    data = json.dumps(obj, indent=2, sort_keys=True, default=str).encode()
    write_atomic(storage, path, lambda out: out.write(data))


def read_json(storage: Storage, path: str) -> Any:
    with storage.fs.open_input_stream(path) as f:
        return json.loads(f.read())


def prepare(location: RunLocation) -> None:
    """Create the run's directories and prove they are writable, before any trial runs."""
    try:
        location.storage.fs.create_dir(location.results_dir, recursive=True)
        probe = f"{location.run_dir}/.write-probe"
        write_atomic(location.storage, probe, lambda out: out.write(b"ok"))
        location.storage.fs.delete_file(probe)
    except OSError as exc:
        raise StoreError(f"storage: cannot write to {location.run_dir}: {_reason(exc)}") from None


def _reason(exc: OSError) -> str:
    """The OS's reason, without pyarrow's restatement of the path."""
    if exc.strerror:
        return exc.strerror
    detail = re.search(r"\[errno \d+\] (.+)", str(exc))
    return detail.group(1) if detail else str(exc).splitlines()[0]
