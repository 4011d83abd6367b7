"""Where an experiment's files live, on any filesystem pyarrow.fs understands, and what a
location holds.

<storage>/<experiment>/manifest.json      the recipe as run, versions, times, status
<storage>/<experiment>/results/part-*.parquet
<storage>/<experiment>/ray/               Ray Tune's own experiment files

Only a directory tunefw made counts as an experiment: its manifest says
``"format": "tunefw-experiment"`` (see ``manifest_problem``). Anything else at an
experiment's path is left alone: not run into, not deleted, not read.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit, urlunsplit

import pyarrow as pa
from pyarrow import fs as pafs

from tunefw.errors import StoreError
from tunefw.recipe.names import EXPERIMENT_NAME
from tunefw.store.hadoop import SCHEMES as HADOOP_SCHEMES
from tunefw.store.hadoop import missing_hadoop

MANIFEST = "manifest.json"
RESULTS = "results"
RAY = "ray"
#: The longest file name common filesystems take (NAME_MAX), in bytes.
NAME_MAX = 255
#: ``manifest.json``'s ``format``: the directory is a tunefw experiment.
FORMAT = "tunefw-experiment"


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
        """Open a local path (``""`` is the working directory) or any URI pyarrow.fs
        understands (``s3://``, ``gs://``...)."""
        if "://" in uri:
            shown = redact(uri)
            scheme = urlsplit(uri).scheme
            missing = missing_hadoop() if scheme in HADOOP_SCHEMES else []
            if missing:
                raise StoreError(f"storage: {shown} needs Hadoop: {'; '.join(missing)}")
            try:
                filesystem, root = pafs.FileSystem.from_uri(uri)
            except pa.ArrowInvalid as exc:
                if "Unrecognized filesystem type" not in str(exc):
                    raise StoreError(f"storage: cannot open {shown}: {first_line(exc)}") from None
                raise StoreError(
                    f"storage: {shown}: unknown scheme {scheme!r}; use a local path or a URI "
                    "such as s3://bucket/path, gs://bucket/path or hdfs://host/path"
                ) from None
            except Exception as exc:
                raise StoreError(f"storage: cannot open {shown}: {first_line(exc)}") from None
            return cls(filesystem, root.rstrip("/"), shown.rstrip("/"))
        path = str(Path(uri or os.getcwd()).expanduser().resolve())
        return cls(pafs.LocalFileSystem(), path, path)

    @property
    def is_local(self) -> bool:
        return isinstance(self.fs, pafs.LocalFileSystem)

    def shown(self, path: str) -> str:
        """``path``, a path on ``fs`` under the root, as users name it."""
        return self.display + path.removeprefix(self.root)

    def directories(self) -> list[str]:
        """The directories in this root that could be experiments: those with a valid name."""
        selector = pafs.FileSelector(self.root, allow_not_found=True)
        try:
            infos = self.fs.get_file_info(selector)
        except OSError as exc:
            raise StoreError(f"storage: cannot read {self.display}: {reason(exc)}") from None
        return sorted(
            i.base_name
            for i in infos
            if i.type == pafs.FileType.Directory and _valid_name(i.base_name)
        )

    def experiments(self) -> list[str]:
        """The names of the tunefw experiments in this root."""
        return [
            name
            for name in self.directories()
            if classify(ExperimentLocation(self, name)).kind is Kind.EXPERIMENT
        ]


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

    @property
    def shown(self) -> str:
        """The experiment's directory as users name it (no credentials)."""
        return f"{self.storage.display}/{self.name}"

    def exists(self) -> bool:
        """Whether a tunefw experiment is here; a ``StoreError`` if something else is."""
        found = classify(self)
        if found.kind is Kind.OTHER:
            raise StoreError(
                f"{self.shown} exists and is not a tunefw experiment ({found.why}); "
                "choose another --name"
            )
        return found.kind is Kind.EXPERIMENT


class Kind(Enum):
    ABSENT = "absent"
    """Nothing there, or an empty directory."""
    EXPERIMENT = "experiment"
    OTHER = "other"
    """A file, or a directory tunefw did not make (or whose manifest is unreadable)."""


@dataclass(frozen=True)
class Found:
    """What a location holds and, when it is ``OTHER``, why it is no experiment."""

    kind: Kind
    why: str = ""


def classify(location: ExperimentLocation) -> Found:
    """What is at ``location``: the one check behind run, overwrite, resume and every read."""
    fs = location.storage.fs
    try:
        here = fs.get_file_info(location.path).type
        if here == pafs.FileType.NotFound:
            return Found(Kind.ABSENT)
        if here != pafs.FileType.Directory:
            return Found(Kind.OTHER, "it is a file")
        manifest = fs.get_file_info(location.manifest_path).type
        if manifest == pafs.FileType.NotFound:
            held = fs.get_file_info(pafs.FileSelector(location.path))
            if [info for info in held if not _is_temporary(info.base_name)]:
                return Found(Kind.OTHER, f"it holds no {MANIFEST}")
            return Found(Kind.ABSENT)  # empty, or a start killed while writing its manifest
        if manifest != pafs.FileType.File:
            return Found(Kind.OTHER, f"its {MANIFEST} is not a file")
        data = read_json(location.storage, location.manifest_path)
    except ValueError as exc:
        return Found(Kind.OTHER, f"its {MANIFEST} is not JSON: {first_line(exc)}")
    except OSError as exc:
        raise StoreError(f"storage: cannot read {location.shown}: {reason(exc)}") from None
    problem = manifest_problem(data, location.name)
    return Found(Kind.OTHER, problem) if problem else Found(Kind.EXPERIMENT)


def manifest_problem(data: object, name: str) -> str | None:
    """Why ``data``, the manifest of directory ``name``, is not a tunefw manifest; None if it is.

    Manifests written before the ``format`` marker count when they have a schema version,
    name their own directory and hold a recipe.
    """
    if not isinstance(data, dict):
        return f"its {MANIFEST} is not a JSON object"
    marker = data.get("format")
    if marker == FORMAT:
        return None
    if marker is not None:
        return f"its {MANIFEST} has format {marker!r}, not {FORMAT!r}"
    legacy = "schema_version" in data and data.get("experiment") == name
    if legacy and isinstance(data.get("recipe"), dict):
        return None
    return f'its {MANIFEST} has no "format": "{FORMAT}"'


def check_name(name: str) -> str:
    """``name`` if it is a plain experiment name that stays inside the storage root and fits
    in a file name."""
    size = len(name.encode())
    if size > NAME_MAX:
        raise StoreError(
            f"experiment name {name[:24]!r}... is {size} bytes long; at most {NAME_MAX} fit in "
            "a file name"
        )
    if not EXPERIMENT_NAME.match(name):
        raise StoreError(
            f"experiment name {name!r} must be letters, digits, '_', '.' or '-', "
            "starting with a letter or digit"
        )
    return name


def _valid_name(name: str) -> bool:
    return bool(EXPERIMENT_NAME.match(name)) and len(name.encode()) <= NAME_MAX


def find_experiment(storage: Storage, name: str) -> ExperimentLocation:
    """The experiment ``name`` in ``storage``; a ``StoreError`` listing the known ones if absent,
    or saying why what is there is not one."""
    location = ExperimentLocation(storage, check_name(name))
    found = classify(location)
    if found.kind is Kind.OTHER:
        raise StoreError(f"{location.shown} is not a tunefw experiment: {found.why}")
    if found.kind is Kind.ABSENT:
        known = ", ".join(storage.experiments()) or "none"
        raise StoreError(f"no experiment {name!r} in {storage.display} (known: {known})")
    return location


def check_storage(storage: Storage, name: str) -> None:
    """Refuse, in one line and without writing anything, a storage root or experiment name a
    run could not use: a name too long or unsafe, a root that is a file or lies under one,
    an unwritable directory, or something not tunefw's where the experiment would go."""
    check_name(name)
    if storage.is_local:
        _check_local_root(storage.root)
    else:
        try:
            root = storage.fs.get_file_info(storage.root).type
        except OSError as exc:
            raise StoreError(f"storage: cannot reach {storage.display}: {reason(exc)}") from None
        if root not in (pafs.FileType.Directory, pafs.FileType.NotFound):
            raise StoreError(f"storage: {storage.display} is a file, not a directory")
    ExperimentLocation(storage, name).exists()


def _check_local_root(root: str) -> None:
    """The nearest existing path at or above ``root`` must be a directory, and writable."""
    path = Path(root)
    existing = next(p for p in (path, *path.parents) if os.path.exists(p))
    where = f"storage: {root}" if existing == path else f"storage: cannot create {root}: {existing}"
    if not existing.is_dir():
        what = "is a file, not a directory" if existing.is_file() else "is not a directory"
        raise StoreError(f"{where} {what}")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise StoreError(f"{where} is not writable")


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


def _is_temporary(name: str) -> bool:
    """A file ``write_atomic`` was writing when its process died."""
    return name.startswith(".") and name.endswith(".tmp")


def _exists(filesystem: pafs.FileSystem, path: str) -> bool:
    return bool(filesystem.get_file_info(path).type != pafs.FileType.NotFound)


def json_bytes(obj: Any) -> bytes:
    """``obj`` as the store writes JSON: indented, keys sorted."""
    return json.dumps(obj, indent=2, sort_keys=True, default=str).encode()


def write_json(storage: Storage, path: str, obj: Any) -> None:
    data = json_bytes(obj)
    try:
        write_atomic(storage, path, lambda out: out.write(data))
    except OSError as exc:
        raise StoreError(f"storage: cannot write {path}: {reason(exc)}") from None


def read_json(storage: Storage, path: str) -> Any:
    with storage.fs.open_input_stream(path) as f:
        return json.loads(f.read())


def prepare(location: ExperimentLocation, manifest: Any) -> None:
    """Create the experiment, its ``manifest`` first (a directory without one is no tunefw
    experiment, so a start killed here leaves nothing that blocks the name), then its results
    directory, proving it writable before any trial runs."""
    data = json_bytes(manifest)
    try:
        location.storage.fs.create_dir(location.path, recursive=True)
        write_atomic(location.storage, location.manifest_path, lambda out: out.write(data))
        location.storage.fs.create_dir(location.results_dir, recursive=True)
        probe = f"{location.results_dir}/.write-probe.tmp"
        write_atomic(location.storage, probe, lambda out: out.write(b"ok"))
        location.storage.fs.delete_file(probe)
    except OSError as exc:
        where = f"{location.storage.display}/{location.name}"
        raise StoreError(f"storage: cannot write to {where}: {reason(exc)}") from None


def remove(location: ExperimentLocation) -> None:
    """Delete an experiment's directory (``--overwrite``); nothing but a tunefw experiment."""
    found = classify(location)
    if found.kind is not Kind.EXPERIMENT:
        why = found.why or "there is nothing there"
        raise StoreError(
            f"--overwrite: {location.shown} is not a tunefw experiment ({why}); nothing deleted"
        )
    try:
        location.storage.fs.delete_dir(location.path)
    except OSError as exc:
        raise StoreError(f"--overwrite: cannot delete {location.name}: {reason(exc)}") from None


def first_line(exc: Exception) -> str:
    """The first line of ``exc``'s message (pyarrow's go on with details), or its type."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def reason(exc: OSError) -> str:
    """The OS's reason, without pyarrow's restatement of the path."""
    detail = re.search(r"\[errno \d+\] (.+)", str(exc))
    if detail:
        return detail.group(1)
    return exc.strerror or str(exc).splitlines()[0]
