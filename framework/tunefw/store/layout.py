"""Where an experiment's files live, on any filesystem pyarrow.fs understands.

<storage>/<experiment>/manifest.json      the recipe as run, versions, times, status
<storage>/<experiment>/results/part-*.parquet
<storage>/<experiment>/ray/               Ray Tune's own experiment files
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit, urlunsplit

from pyarrow import fs as pafs

from tunefw.errors import StoreError

MANIFEST = "manifest.json"
RESULTS = "results"
RAY = "ray"
EXPERIMENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class Storage:
    """A storage root: a filesystem, the root's path on it, and a printable name for it.

    ``display`` drops any credentials or options from the URI, so it can go in logs and
    manifests; credentials come from the usual environment variables.
    """

    fs: pafs.FileSystem
    root: str
    display: str

    @classmethod
    def open(cls, uri: str) -> Storage:
        """Open a local path or any URI pyarrow.fs understands (``s3://``, ``gs://``...)."""
        if "://" in uri:
            shown = redact(uri)
            try:
                filesystem, root = pafs.FileSystem.from_uri(uri)
            except Exception as exc:
                raise StoreError(f"storage: cannot open {shown}: {exc}") from None
            return cls(filesystem, root.rstrip("/"), shown.rstrip("/"))
        path = str(Path(uri).expanduser().resolve())
        return cls(pafs.LocalFileSystem(), path, path)

    @property
    def is_local(self) -> bool:
        return isinstance(self.fs, pafs.LocalFileSystem)

    def experiments(self) -> list[str]:
        """Names of the experiments in this root (directories holding a manifest)."""
        selector = pafs.FileSelector(self.root, allow_not_found=True)
        try:
            infos = self.fs.get_file_info(selector)
        except OSError as exc:
            raise StoreError(f"storage: cannot read {self.display}: {reason(exc)}") from None
        dirs = sorted(i.base_name for i in infos if i.type == pafs.FileType.Directory)
        return [d for d in dirs if _exists(self.fs, f"{self.root}/{d}/{MANIFEST}")]


def redact(uri: str) -> str:
    """``uri`` without user info or query options, which may hold credentials."""
    parts = urlsplit(uri)
    host = parts.hostname or ""
    return urlunsplit(
        (parts.scheme, host + (f":{parts.port}" if parts.port else ""), parts.path, "", "")
    )


@dataclass(frozen=True)
class ExperimentLocation:
    """One experiment in a storage root."""

    storage: Storage
    name: str

    @property
    def path(self) -> str:
        return f"{self.storage.root}/{self.name}"

    @property
    def results_dir(self) -> str:
        return f"{self.path}/{RESULTS}"

    @property
    def manifest_path(self) -> str:
        return f"{self.path}/{MANIFEST}"

    @property
    def ray_dir(self) -> str:
        """Ray Tune's experiment directory, as a path on ``storage.fs``."""
        return f"{self.path}/{RAY}"

    def exists(self) -> bool:
        try:
            return _exists(self.storage.fs, self.manifest_path)
        except OSError as exc:
            raise StoreError(
                f"storage: cannot reach {self.storage.display}: {reason(exc)}"
            ) from None


def check_name(name: str) -> str:
    """``name`` if it is a plain experiment name that stays inside the storage root."""
    if not EXPERIMENT_NAME.match(name):
        raise StoreError(
            f"experiment name {name!r} must be letters, digits, '_', '.' or '-', "
            "starting with a letter or digit"
        )
    return name


def find_experiment(storage: Storage, name: str) -> ExperimentLocation:
    """The experiment ``name`` in ``storage``; a ``StoreError`` listing the known ones if absent."""
    location = ExperimentLocation(storage, check_name(name))
    if not location.exists():
        known = ", ".join(storage.experiments()) or "none"
        raise StoreError(f"no experiment {name!r} in {storage.display} (known: {known})")
    return location


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
    try:
        write_atomic(storage, path, lambda out: out.write(data))
    except OSError as exc:
        raise StoreError(f"storage: cannot write {path}: {reason(exc)}") from None


def read_json(storage: Storage, path: str) -> Any:
    with storage.fs.open_input_stream(path) as f:
        return json.loads(f.read())


def prepare(location: ExperimentLocation) -> None:
    """Create the experiment's directories and prove they are writable, before any trial runs."""
    try:
        location.storage.fs.create_dir(location.results_dir, recursive=True)
        probe = f"{location.path}/.write-probe"
        write_atomic(location.storage, probe, lambda out: out.write(b"ok"))
        location.storage.fs.delete_file(probe)
    except OSError as exc:
        where = f"{location.storage.display}/{location.name}"
        raise StoreError(f"storage: cannot write to {where}: {reason(exc)}") from None


def remove(location: ExperimentLocation) -> None:
    """Delete an experiment's directory (``--overwrite``)."""
    try:
        location.storage.fs.delete_dir(location.path)
    except OSError as exc:
        raise StoreError(f"--overwrite: cannot delete {location.name}: {reason(exc)}") from None


def reason(exc: OSError) -> str:
    """The OS's reason, without pyarrow's restatement of the path."""
    detail = re.search(r"\[errno \d+\] (.+)", str(exc))
    if detail:
        return detail.group(1)
    return exc.strerror or str(exc).splitlines()[0]
