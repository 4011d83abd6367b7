"""Damaged and foreign stores (issue 15): every bad input is one line, exit 2, nothing changed.

Stores are built by hand (a manifest and Parquet parts written with pyarrow), so no test here
starts Ray.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tunefw.cli.main import main
from tunefw.errors import StoreError
from tunefw.plugin_api.resolve import resolve
from tunefw.recipe.loading import validate_recipe
from tunefw.running.manifests import new_manifest
from tunefw.store import columns as col
from tunefw.store.compaction import compact
from tunefw.store.layout import (
    FORMAT,
    ExperimentLocation,
    Kind,
    Storage,
    check_name,
    check_storage,
    classify,
    find_experiment,
    remove,
)
from tunefw.store.manifest import load_manifest
from tunefw.store.query import parse_where

from .faults_helpers import snapshot

START = datetime(2024, 1, 1, tzinfo=timezone.utc)


def recipe(name: str) -> dict[str, Any]:
    """A valid recipe, as a manifest records it."""
    data = {
        "name": name,
        "trainable": {"kind": "function", "function": "toy_trainables:branin"},
        "objective": {"metric": "acc", "mode": "max"},
        "search": {"num_samples": 4, "seed": 0, "space": {"x": {"uniform": [0, 1]}}},
        "scheduler": {"type": "none"},
    }
    return validate_recipe(data, name).model_dump(mode="json", by_alias=True)


def manifest(name: str, **changes: Any) -> dict[str, Any]:
    """A tunefw manifest of a completed experiment; ``changes`` replace (None: drop) keys."""
    data = {
        "format": FORMAT,
        "schema_version": col.SCHEMA_VERSION,
        "experiment": name,
        "storage": "somewhere",
        "status": "completed",
        "started_at": START.isoformat(),
        "ended_at": START.isoformat(),
        "resumed_at": [],
        "seed": 0,
        "recipe": recipe(name),
        "config_columns": ["x"],
    }
    data |= changes
    return {k: v for k, v in data.items() if v is not None}


def rows(trials: int, offset: int = 0) -> list[dict[str, Any]]:
    """One final row per trial, every reserved column filled in."""
    return [
        {
            col.EXPERIMENT: "exp",
            col.TRIAL_ID: f"t{offset + i}",
            col.ITERATION: 1,
            col.TIMESTAMP: START + timedelta(minutes=offset + i),
            col.TRIAL_TIME: 1.0,
            col.NODE_ID: "n",
            col.NODE_IP: "127.0.0.1",
            col.HOSTNAME: "h",
            col.GPU_IDS: "",
            col.CPU_SECONDS: 1.0,
            col.GPU_SECONDS: 0.0,
            col.STATUS: col.TERMINATED,
            col.ERROR: None,
            "config.x": (offset + i) / 10,
            "config.kernel": "rbf" if i % 2 else "linear",
            "metric.acc": 0.5 + (offset + i) / 100,
        }
        for i in range(trials)
    ]


def write_part(results: Path, name: str, data: list[dict[str, Any]]) -> Path:
    """A Parquet part, its reserved columns typed as the writer types them."""
    results.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pylist(data)
    reserved = col.RESERVED_SCHEMA
    schema = pa.schema(
        reserved.field(n) if n in reserved.names else table.schema.field(n)
        for n in table.column_names
    )
    pq.write_table(table.cast(schema), results / name)
    return results / name


def make_experiment(
    root: Path, name: str = "exp", data: dict[str, Any] | None = None, trials: int = 4
) -> Path:
    """An experiment directory with a manifest and one part of ``trials`` trials."""
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text(json.dumps(data or manifest(name)))
    if trials:
        write_part(folder / "results", "part-000000-a.parquet", rows(trials))
    return folder


def refused(capsys: pytest.CaptureFixture[str], args: list[str], *naming: str) -> str:
    """Run the CLI: exit 2 and one ``error:`` line naming each of ``naming``."""
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("error: ") and "Traceback" not in err[0], err
    for text in naming:
        assert text in err[0], err
    return err[0]


def warned(capsys: pytest.CaptureFixture[str], args: list[str]) -> tuple[str, list[str]]:
    """Run the CLI: exit 0; stdout and the ``warning:`` lines on stderr."""
    capsys.readouterr()
    assert main(args) == 0
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert all(line.startswith("warning: ") for line in lines), lines
    return out, lines


# 1. Only a directory tunefw made counts as an experiment.

WEB_APP = {"name": "My App", "short_name": "app", "start_url": "/", "display": "standalone"}
LEGACY = {k: v for k, v in manifest("data").items() if k != "format"}


def user_files(folder: Path) -> None:
    (folder / "notes.txt").write_text("mine")


FOREIGN = {
    "files, no manifest": lambda d: user_files(d),
    "a web app's manifest": lambda d: (d / "manifest.json").write_text(json.dumps(WEB_APP)),
    "an empty object": lambda d: (d / "manifest.json").write_text("{}"),
    "a list": lambda d: (d / "manifest.json").write_text("[]"),
    "not JSON": lambda d: (d / "manifest.json").write_text("{'format': "),
    "another experiment's legacy manifest": lambda d: (d / "manifest.json").write_text(
        json.dumps(LEGACY | {"experiment": "other"})
    ),
    "a legacy manifest without a recipe": lambda d: (d / "manifest.json").write_text(
        json.dumps({k: v for k, v in LEGACY.items() if k != "recipe"})
    ),
    "another format": lambda d: (d / "manifest.json").write_text(
        json.dumps(manifest("data", format="something-else"))
    ),
}


@pytest.fixture(params=sorted(FOREIGN))
def foreign(request: pytest.FixtureRequest, tmp_path: Path) -> ExperimentLocation:
    """A directory ``data`` in a storage root that is not a tunefw experiment."""
    folder = tmp_path / "data"
    folder.mkdir()
    user_files(folder)
    FOREIGN[request.param](folder)
    return ExperimentLocation(Storage.open(str(tmp_path)), "data")


def test_a_users_directory_is_not_an_experiment_to_run_into(foreign, tmp_path):
    before = snapshot(tmp_path)
    assert classify(foreign).kind is Kind.OTHER
    with pytest.raises(StoreError) as raised:
        foreign.exists()
    message = str(raised.value)
    assert f"{tmp_path}/data exists and is not a tunefw experiment" in message
    assert message.endswith("choose another --name") and "\n" not in message
    with pytest.raises(StoreError, match=r"--overwrite: .* is not a tunefw experiment"):
        remove(foreign)
    assert snapshot(tmp_path) == before


def test_a_file_where_the_experiment_would_be_is_refused(tmp_path):
    (tmp_path / "data").write_text("mine")
    location = ExperimentLocation(Storage.open(str(tmp_path)), "data")
    with pytest.raises(StoreError, match="exists and is not a tunefw experiment"):
        location.exists()
    with pytest.raises(StoreError, match="is not a tunefw experiment"):
        remove(location)
    assert (tmp_path / "data").read_text() == "mine"


def test_a_missing_or_empty_directory_is_absent(tmp_path):
    storage = Storage.open(str(tmp_path))
    (tmp_path / "empty").mkdir()
    for name in ("missing", "empty"):
        location = ExperimentLocation(storage, name)
        assert classify(location).kind is Kind.ABSENT
        assert not location.exists()


@pytest.mark.parametrize("data", [manifest("exp"), LEGACY | {"experiment": "exp"}])
def test_tunefw_manifests_old_and_new_make_an_experiment(tmp_path, data):
    make_experiment(tmp_path, "exp", data)
    location = ExperimentLocation(Storage.open(str(tmp_path)), "exp")
    assert classify(location).kind is Kind.EXPERIMENT and location.exists()
    assert load_manifest(location)["status"] == "completed"
    remove(location)
    assert not (tmp_path / "exp").exists()


def test_new_manifests_carry_the_marker(tmp_path):
    loaded = validate_recipe(recipe("exp"), "recipe")
    location = ExperimentLocation(Storage.open(str(tmp_path)), "exp")
    written = new_manifest(location, loaded, resolve(loaded))
    assert written["format"] == FORMAT and written["schema_version"] == col.SCHEMA_VERSION


def test_storage_lists_only_tunefw_experiments(foreign, tmp_path):
    make_experiment(tmp_path, "exp")
    make_experiment(tmp_path, "old", LEGACY | {"experiment": "old"})
    assert foreign.storage.experiments() == ["exp", "old"]


def test_reading_a_foreign_directory_names_it(foreign, capsys, tmp_path):
    for command in ("results", "best", "report"):
        refused(
            capsys,
            [command, "data", "--storage", str(tmp_path)],
            f"{tmp_path}/data is not a tunefw experiment",
        )


# 2. Manifest contents are checked before they are used.


def outside_experiment(tmp_path: Path) -> Path:
    """An experiment beside the storage root, which no manifest may send a command to."""
    make_experiment(tmp_path / "elsewhere", "outside")
    return tmp_path / "store"


STAGE = {
    "stage": "coarse",
    "experiment": "exp",
    "warm_started_from": None,
    "trials": 4,
    "best": 0.5,
}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"stages": [STAGE | {"experiment": "../elsewhere/outside"}]}, "stages"),
        ({"stages": [STAGE | {"experiment": "/etc"}]}, "stages"),
        ({"stages": [STAGE | {"warm_started_from": "../x"}]}, "warm_started_from"),
        ({"experiment": "../elsewhere/outside"}, "experiment"),
        (
            {"nested": {"metric": "acc", "outer_scores": [0.5], "mean": 0.5, "std": 0.0,
                        "outer_experiments": ["../outside"]}},
            "outer_experiments",
        ),
    ],
)  # fmt: skip
def test_names_read_from_a_manifest_are_checked(tmp_path, capsys, changes, field):
    root = outside_experiment(tmp_path)
    make_experiment(root, "exp", manifest("exp", **changes))
    for command in ("results", "best"):
        refused(capsys, [command, "exp", "--storage", str(root)], "exp/manifest.json", field)
    with pytest.raises(StoreError, match="must be letters"):
        load_manifest(find_experiment(Storage.open(str(root)), "exp"))


DAMAGED = {
    "missing status": manifest("exp", status=None),
    "an unknown status": manifest("exp", status="exploded"),
    "a bad objective mode": manifest(
        "exp", recipe=recipe("exp") | {"objective": {"metric": "acc", "mode": "maximum"}}
    ),
    "no objective": manifest("exp", recipe={"name": "exp"}),
    "a recipe that is a string": manifest("exp", recipe="exp"),
    "stages that are not a list": manifest("exp", stages={"coarse": "exp"}),
    "a stage without its experiment": manifest(
        "exp", stages=[{"stage": "coarse", "trials": 4, "best": None}]
    ),
    "a nested section without scores": manifest("exp", nested={"metric": "acc"}),
}

READS = [
    ["results", "exp"],
    ["best", "exp"],
    ["compare", "exp", "good"],
    ["report", "exp"],
    ["export", "exp", "study.log", "--to", "optuna-journal"],
]


@pytest.mark.parametrize("damage", sorted(DAMAGED))
@pytest.mark.parametrize("args", READS, ids=lambda a: a[0])
def test_a_damaged_manifest_is_one_line_naming_it(tmp_path, capsys, monkeypatch, damage, args):
    monkeypatch.chdir(tmp_path)
    make_experiment(tmp_path, "exp", DAMAGED[damage])
    make_experiment(tmp_path, "good")
    before = snapshot(tmp_path)
    refused(capsys, [*args, "--storage", str(tmp_path)], f"{tmp_path}/exp/manifest.json")
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize(
    "text",
    ["[]", "{}", json.dumps(WEB_APP), "{'format': ", "", json.dumps(DAMAGED["no objective"])],
)
@pytest.mark.parametrize("args", READS, ids=lambda a: a[0])
def test_a_manifest_that_is_not_tunefws_is_one_line(tmp_path, capsys, monkeypatch, text, args):
    monkeypatch.chdir(tmp_path)
    make_experiment(tmp_path, "good")
    make_experiment(tmp_path, "exp")
    (tmp_path / "exp" / "manifest.json").write_text(text)
    refused(capsys, [*args, "--storage", str(tmp_path)], f"{tmp_path}/exp", "manifest.json")


@pytest.mark.parametrize("damage", sorted(DAMAGED))
def test_resume_reads_a_damaged_manifest_as_one_line(tmp_path, damage):
    make_experiment(tmp_path, "exp", DAMAGED[damage])
    location = ExperimentLocation(Storage.open(str(tmp_path)), "exp")
    with pytest.raises(StoreError) as raised:
        load_manifest(location)
    message = str(raised.value)
    assert message.startswith(f"{tmp_path}/exp/manifest.json: ") and "\n" not in message


def test_the_listing_skips_damaged_experiments_and_says_which(tmp_path, capsys):
    make_experiment(tmp_path, "good")
    for i, data in enumerate(DAMAGED.values()):
        make_experiment(tmp_path, f"bad{i}", data | {"experiment": f"bad{i}"})
    (tmp_path / "not-json").mkdir()
    (tmp_path / "not-json" / "manifest.json").write_text("{")
    out, warnings = warned(capsys, ["experiments", "--storage", str(tmp_path)])
    assert "good" in out and "bad" not in out
    assert len(warnings) == len(DAMAGED) + 1
    for i in range(len(DAMAGED)):
        assert sum(f"{tmp_path}/bad{i}/manifest.json" in line for line in warnings) == 1
    assert sum(f"{tmp_path}/not-json" in line for line in warnings) == 1


# 3. Damaged Parquet parts: read what is whole, name what is skipped.


def truncated(path: Path) -> None:
    write_part(path.parent, path.name, rows(3, offset=50))
    path.write_bytes(path.read_bytes()[:-20])


def corrupt_pages(path: Path) -> None:
    """Data pages scrambled, the footer intact: only reading the rows finds it."""
    write_part(path.parent, path.name, rows(200, offset=50))
    data = bytearray(path.read_bytes())
    footer = int.from_bytes(data[-8:-4], "little") + 8
    for i in range(4, len(data) - footer):
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))


def clashing(path: Path) -> None:
    write_part(path.parent, path.name, [r | {"metric.acc": "high"} for r in rows(2, offset=50)])


def without_keys(path: Path) -> None:
    pq.write_table(pa.table({"a": [1, 2]}), path)


def string_iterations(path: Path) -> None:
    pq.write_table(pa.Table.from_pylist([r | {col.ITERATION: "one"} for r in rows(1, 50)]), path)


PART_DAMAGE = {
    "truncated": truncated,
    "empty": lambda p: p.write_bytes(b""),
    "garbage": lambda p: p.write_bytes(b"not parquet at all " * 20),
    "a directory": lambda p: p.mkdir(parents=True),
    "scrambled pages": corrupt_pages,
    "a clashing column type": clashing,
    "no trial_id": without_keys,
    "a string iteration": string_iterations,
}


def with_damaged_part(root: Path, damage: str) -> Path:
    """Experiments ``exp`` (four whole trials and a damaged part) and ``good``."""
    make_experiment(root, "good")
    folder = make_experiment(root, "exp")
    bad = folder / "results" / "part-000001-b.parquet"
    PART_DAMAGE[damage](bad)
    return bad


@pytest.fixture(params=sorted(PART_DAMAGE))
def damaged_part(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    return with_damaged_part(tmp_path, request.param)


@pytest.fixture(params=sorted(set(PART_DAMAGE) - {"a clashing column type"}))
def unreadable_part(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """``exp`` with only a part that cannot be read (a clashing part alone clashes with none)."""
    bad = with_damaged_part(tmp_path, request.param)
    (tmp_path / "exp" / "results" / "part-000000-a.parquet").unlink()
    return bad


def skip_named(warnings: list[str], part: Path) -> None:
    assert len(warnings) == 1, warnings
    assert "skipped" in warnings[0] and str(part) in warnings[0], warnings


def test_results_read_the_whole_parts_and_name_the_damaged_one(damaged_part, capsys, tmp_path):
    args = ["results", "exp", "--storage", str(tmp_path), "--format", "json"]
    out, warnings = warned(capsys, args)
    assert sorted(r[col.TRIAL_ID] for r in json.loads(out)) == ["t0", "t1", "t2", "t3"]
    skip_named(warnings, damaged_part)
    out, warnings = warned(capsys, [*args, "--all-rows", "--where", "acc > 0.505"])
    assert len(json.loads(out)) == 3
    skip_named(warnings, damaged_part)


@pytest.mark.parametrize(
    "args",
    [
        ["best", "exp"],
        ["compare", "exp", "good"],
        ["experiments"],
        ["report", "exp", "--out", "page.html"],
        ["export", "exp", "study.log", "--to", "optuna-journal"],
    ],
    ids=lambda a: a[0],
)
def test_every_read_command_skips_a_damaged_part(damaged_part, capsys, tmp_path, monkeypatch, args):
    monkeypatch.chdir(tmp_path)  # report and export write here
    _, warnings = warned(capsys, [*args, "--storage", str(tmp_path)])
    skip_named(warnings, damaged_part)


def test_nothing_readable_is_one_error_naming_the_part(unreadable_part, capsys, tmp_path):
    before = snapshot(tmp_path)
    for command in ("results", "best", "report"):
        refused(capsys, [command, "exp", "--storage", str(tmp_path)], str(unreadable_part))
    out, warnings = warned(capsys, ["experiments", "--storage", str(tmp_path)])
    assert "good" in out
    skip_named(warnings, unreadable_part)
    assert snapshot(tmp_path) == before


def test_compaction_keeps_a_damaged_part(damaged_part, tmp_path, caplog):
    location = find_experiment(Storage.open(str(tmp_path)), "exp")
    with caplog.at_level(logging.WARNING):
        assert compact(location)
    assert damaged_part.exists()
    assert str(damaged_part) in caplog.text
    parts = [p.name for p in (tmp_path / "exp" / "results").iterdir()]
    assert len(parts) == 2 and any(p.endswith("-compacted.parquet") for p in parts)


def test_open_results_skips_a_damaged_part(damaged_part, tmp_path, caplog):
    from tunefw.api import open_results

    with caplog.at_level(logging.WARNING):
        table = open_results(str(tmp_path), "exp", where="acc > 0.5")
    assert table.num_rows == 3
    assert f"skipped {damaged_part}" in caplog.text


def test_in_a_type_clash_the_part_with_more_rows_wins(tmp_path, capsys):
    folder = make_experiment(tmp_path, "exp", trials=0)
    small = write_part(folder / "results", "part-000000-a.parquet", rows(1))
    write_part(
        folder / "results",
        "part-000001-b.parquet",
        [r | {"metric.acc": "high"} for r in rows(3, offset=10)],
    )
    args = ["results", "exp", "--storage", str(tmp_path), "--format", "json"]
    out, warnings = warned(capsys, args)
    assert [r["metric.acc"] for r in json.loads(out)] == ["high"] * 3
    skip_named(warnings, small)
    assert "metric.acc" in warnings[0]


def test_a_stage_whose_columns_clash_is_skipped_and_named(tmp_path, capsys):
    stages = [STAGE | {"experiment": "exp.coarse"}, STAGE | {"stage": "fine"}]
    make_experiment(tmp_path, "exp.coarse")
    folder = make_experiment(tmp_path, "exp", manifest("exp", stages=stages), trials=0)
    write_part(folder / "results", "part-0.parquet", [r | {"metric.acc": "high"} for r in rows(2)])
    args = ["results", "exp", "--storage", str(tmp_path), "--format", "json"]
    out, warnings = warned(capsys, args)
    assert {r["stage"] for r in json.loads(out)} == {"coarse"}
    assert len(warnings) == 1 and "skipped stage fine (exp): " in warnings[0]
    shutil.rmtree(tmp_path / "exp.coarse")
    refused(capsys, args, "no experiment 'exp.coarse'")


def test_best_ranks_only_numeric_scores(tmp_path, capsys):
    folder = make_experiment(tmp_path, "exp", trials=0)
    write_part(
        folder / "results", "part-000000-a.parquet", [r | {"metric.acc": "high"} for r in rows(2)]
    )
    refused(capsys, ["best", "exp", "--storage", str(tmp_path)], "exp: no trial reported acc")


# 4. --where with a value of the wrong type.


@pytest.mark.parametrize(
    "where",
    [
        "acc > abc",
        "acc > 2024-01-01",
        "acc > 2024-01-01 10:00:00",
        "acc > true",
        "acc > 0.5 or kernel == rbf",
        "acc > or",
        "or",
        "kernel > 3",
        "kernel == 1.5",
        "kernel == yes",
        "timestamp > 3",
        "timestamp > soon",
    ],
)
def test_a_where_value_of_the_wrong_type_is_one_line(tmp_path, capsys, where):
    make_experiment(tmp_path)
    for extra in ([], ["--all-rows"]):
        refused(capsys, ["results", "exp", "--storage", str(tmp_path), "--where", where, *extra],
                "--where")  # fmt: skip


@pytest.mark.parametrize(
    ("where", "trials"),
    [
        ("acc > 1e-3", 4),
        ("acc >= .515", 2),
        ("kernel == rbf", 2),
        ("kernel == 'rbf' and x < 0.2", 1),
        ("timestamp > 2024-01-01 00:01:30", 2),
        ("timestamp >= 2024-01-01T00:01:00Z", 3),
        ("timestamp > 2023-12-31", 4),
        ("iteration == 1", 4),
    ],
)
def test_where_values_of_the_columns_type_are_compared(tmp_path, capsys, where, trials):
    make_experiment(tmp_path)
    args = ["results", "exp", "--storage", str(tmp_path), "--where", where, "--format", "json"]
    out, _ = warned(capsys, args)
    assert len(json.loads(out)) == trials


def test_parse_where_checks_types_against_the_schema():
    schema = pa.schema([("metric.acc", pa.float64()), ("config.on", pa.bool_())])
    parse_where("acc > 0.5 and on == true", schema)
    with pytest.raises(StoreError, match=r"--where: .*config\.on"):
        parse_where("on == 1", schema)


# 5. Storage checks that write nothing.


def test_an_empty_storage_is_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert Storage.open("").root == str(tmp_path)


def unwritable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A directory ``os.access`` calls unwritable (chmod does not bind root)."""
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    real = os.access
    monkeypatch.setattr(
        os, "access", lambda p, mode, **kw: str(p) != str(locked) and real(p, mode, **kw)
    )
    return str(locked / "results")


@pytest.mark.parametrize(
    ("where", "message"),
    [
        (lambda t, m: str(t / "file"), "is a file, not a directory"),
        (lambda t, m: str(t / "file" / "below"), "is a file, not a directory"),
        (lambda t, m: "/dev/null", "/dev/null is not a directory"),
        (lambda t, m: "/dev/null/x", "/dev/null is not a directory"),
        (unwritable, "locked is not writable"),
    ],
)
def test_check_storage_refuses_roots_a_run_could_not_write(tmp_path, monkeypatch, where, message):
    (tmp_path / "file").write_text("mine")
    storage = Storage.open(where(tmp_path, monkeypatch))
    before = snapshot(tmp_path)
    with pytest.raises(StoreError, match=message) as raised:
        check_storage(storage, "exp")
    assert str(raised.value).startswith("storage: ") and "\n" not in str(raised.value)
    assert snapshot(tmp_path) == before


def test_check_storage_refuses_a_users_directory(foreign, tmp_path):
    before = snapshot(tmp_path)
    with pytest.raises(StoreError, match="exists and is not a tunefw experiment"):
        check_storage(foreign.storage, "data")
    assert snapshot(tmp_path) == before


def test_check_storage_accepts_new_and_existing_experiments_and_writes_nothing(tmp_path):
    make_experiment(tmp_path / "store", "exp")
    before = snapshot(tmp_path)
    check_storage(Storage.open(str(tmp_path / "store")), "exp")
    check_storage(Storage.open(str(tmp_path / "store")), "new")
    check_storage(Storage.open(str(tmp_path / "not" / "yet")), "new")
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("foo://x", "storage: foo://x: unknown scheme 'foo'"),
        ("Nope://bucket/path?secret=1", "unknown scheme 'nope'"),
    ],
)
def test_an_unknown_scheme_is_one_line(uri, message):
    with pytest.raises(StoreError, match=message) as raised:
        Storage.open(uri)
    assert "\n" not in str(raised.value) and "secret" not in str(raised.value)


@pytest.mark.parametrize("uri", ["hdfs://namenode:8020/tuning", "viewfs://cluster/tuning"])
def test_hdfs_without_hadoop_says_what_is_missing(uri, monkeypatch, capfd):
    for name in ("HADOOP_HOME", "ARROW_LIBHDFS_DIR", "JAVA_HOME", "CLASSPATH"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(StoreError) as raised:
        Storage.open(uri)
    message = str(raised.value)
    assert "\n" not in message and message.startswith("storage: ")
    for missing in ("HADOOP_HOME", "JAVA_HOME", "CLASSPATH"):
        assert missing in message
    assert "libjvm" not in capfd.readouterr().err  # pyarrow was not asked


def test_hdfs_with_hadoop_libraries_but_no_classpath(tmp_path, monkeypatch):
    native = tmp_path / "hadoop" / "lib" / "native"
    native.mkdir(parents=True)
    (native / "libhdfs.so").write_bytes(b"")
    server = tmp_path / "jdk" / "lib" / "server"
    server.mkdir(parents=True)
    (server / "libjvm.so").write_bytes(b"")
    monkeypatch.setenv("HADOOP_HOME", str(tmp_path / "hadoop"))
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "jdk"))
    monkeypatch.delenv("ARROW_LIBHDFS_DIR", raising=False)
    monkeypatch.setenv("CLASSPATH", "/opt/other.jar")
    with pytest.raises(StoreError, match="CLASSPATH") as raised:
        Storage.open("hdfs://namenode:8020/tuning")
    assert "HADOOP_HOME" not in str(raised.value) and "JAVA_HOME" not in str(raised.value)


@pytest.mark.parametrize("name", ["a" * 256, "b" * 300, "x." * 200])
def test_names_too_long_for_a_filesystem_are_refused(tmp_path, name):
    with pytest.raises(StoreError, match=f"is {len(name)} bytes long; at most 255") as raised:
        check_name(name)
    assert name not in str(raised.value)  # a shortened name, still one readable line
    with pytest.raises(StoreError, match="at most 255"):
        check_storage(Storage.open(str(tmp_path)), name)
    assert check_name("a" * 255) == "a" * 255
