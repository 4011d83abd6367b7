"""The recipe's ``loggers``: TensorBoard, MLflow and W&B (offline) on real runs, and their
one-line errors."""

from __future__ import annotations

import struct
import sys
from pathlib import Path

import pytest
from tensorboardX.proto.event_pb2 import Event

from tunefw.cli.main import main
from tunefw.store import columns as col
from tunefw.store.layout import Storage, find_experiment, read_json
from tunefw.store.reader import read_results

from .faults_helpers import function_recipe

RECIPE = """
    name: logged
    trainable: {kind: function, function: "toy_trainables:quadratic"}
    objective: {metric: loss, mode: min}
    search: {num_samples: 2, seed: 3, space: {x: {uniform: [0, 1]}}}
    scheduler: {type: none}
    """


def errors(err: str) -> list[str]:
    """The error lines of the CLI's stderr (W&B's own deprecation warning, which Ray's API-key
    check triggers, comes before the error), once it is sure no traceback is among the rest."""
    assert "Traceback (most recent call last)" not in err, err
    return [line for line in err.splitlines() if line.startswith("error: ")]


def logged_recipe(tmp_path: Path, loggers: str) -> Path:
    return function_recipe(tmp_path, RECIPE + f"loggers: {loggers}\n")


def stored_losses(tmp_path: Path) -> dict[str, list[float]]:
    """Each trial's reported losses, by trial id, in order, from the Parquet store."""
    table = read_results(find_experiment(Storage.open(str(tmp_path / "results")), "logged"))
    rows = sorted(table.to_pylist(), key=lambda r: (r[col.TRIAL_ID], r[col.ITERATION]))
    losses: dict[str, list[float]] = {}
    for row in rows:
        losses.setdefault(row[col.TRIAL_ID], []).append(row["metric.loss"])
    return losses


def trial_dir(tmp_path: Path, trial_id: str) -> Path:
    [found] = (tmp_path / "results" / "logged" / "ray").glob(f"*_{trial_id}_*")
    return found


def scalars(path: Path, tag: str) -> list[tuple[int, float]]:
    """(step, value) of every scalar ``tag`` in a TensorBoard event file (TFRecord framing:
    length, its CRC, the event, its CRC)."""
    data, at, found = path.read_bytes(), 0, []
    while at < len(data):
        (length,) = struct.unpack("<Q", data[at : at + 8])
        event = Event.FromString(data[at + 12 : at + 12 + length])
        at += 12 + length + 4
        found += [(event.step, v.simple_value) for v in event.summary.value if v.tag == tag]
    return found


def test_tensorboard_writes_each_trials_metrics_under_the_experiment(tmp_path, ray_session):
    assert main(["run", str(logged_recipe(tmp_path, "[{type: tensorboard}]"))]) == 0
    losses = stored_losses(tmp_path)
    assert len(losses) == 2
    for trial_id, reported in losses.items():
        [events] = trial_dir(tmp_path, trial_id).glob("events.out.tfevents.*")
        logged = scalars(events, "ray/tune/loss")
        assert [step for step, _ in logged] == [1, 2, 3]
        assert [value for _, value in logged] == pytest.approx(reported, rel=1e-6)


def test_mlflow_records_one_run_per_trial(tmp_path, ray_session, monkeypatch):
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 asks for it
    uri = (tmp_path / "mlruns").as_uri()
    loggers = f"[{{type: mlflow, tracking_uri: '{uri}', tags: {{team: search}}}}]"
    assert main(["run", str(logged_recipe(tmp_path, loggers))]) == 0
    losses = stored_losses(tmp_path)
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("logged")  # the experiment's name by default
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == len(losses) == 2
    for run in runs:
        trial_id = run.data.tags["trial_name"].removeprefix("tunefw_trial_")
        assert run.data.tags["team"] == "search"
        assert 0 <= float(run.data.params["x"]) <= 1
        history = client.get_metric_history(run.info.run_id, "loss")
        assert [m.step for m in history] == [1, 2, 3]
        assert [m.value for m in history] == pytest.approx(losses[trial_id])
        assert run.info.status == "FINISHED"


@pytest.mark.slow
def test_wandb_offline_keeps_a_run_per_trial_under_the_experiment(
    tmp_path, ray_session, monkeypatch
):
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    path = logged_recipe(tmp_path, "[{type: wandb, project: tunefw-test, mode: offline}]")
    assert main(["run", str(path)]) == 0
    runs = tmp_path / "results" / "logged" / "wandb" / "wandb"
    for trial_id, reported in stored_losses(tmp_path).items():
        [run] = runs.glob(f"offline-run-*-{trial_id}/run-{trial_id}.wandb")
        data = run.read_bytes()
        assert b"tunefw-test" in data and b"loss" in data
        for loss in reported:
            assert repr(loss).encode() in data, "every reported loss is in the offline run"


@pytest.mark.parametrize(
    ("loggers", "message"),
    [
        (
            "[{type: comet}]",
            "loggers[0]: type must be one of tensorboard, mlflow, wandb, optuna_journal",
        ),
        ("[{type: mlflow, tracking_url: x}]", "loggers[0].tracking_url: unknown field"),
        ("[{type: wandb, mode: later}]", "loggers[0].mode: Input should be 'online', 'offline'"),
        ("[{type: optuna_journal, file: j.log}]", "loggers[0].file: unknown field"),
    ],
)
def test_a_bad_loggers_section_is_one_line(tmp_path, capsys, loggers, message):
    assert main(["validate", str(logged_recipe(tmp_path, loggers))]) == 2
    [line] = errors(capsys.readouterr().err)
    assert message in line


def test_a_logger_whose_package_is_missing_is_one_line_and_stores_nothing(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.setitem(sys.modules, "mlflow", None)  # what an uninstalled package looks like
    path = logged_recipe(tmp_path, "[{type: tensorboard}, {type: mlflow}]")
    expected = ["error: loggers[1].type: mlflow needs the mlflow package: pip install mlflow"]
    for command in ("validate", "run"):
        assert main([command, str(path)]) == 2
        assert errors(capsys.readouterr().err) == expected
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize(
    ("logger", "message"),
    [
        ("{type: mlflow, tracking_uri: 'nowhere://x'}", "loggers[0]: mlflow cannot start: "),
        ("{type: wandb, mode: online}", "loggers[0]: wandb cannot start: "),
    ],
)
def test_a_logger_that_cannot_start_fails_the_run_on_one_line(
    tmp_path, capsys, monkeypatch, ray_session, logger, message
):
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("WANDB_MODE", raising=False)
    assert main(["run", str(logged_recipe(tmp_path, f"[{logger}]"))]) == 2
    [line] = errors(capsys.readouterr().err)
    assert line.startswith(f"error: {message}")
    location = find_experiment(Storage.open(str(tmp_path / "results")), "logged")
    assert read_json(location.storage, location.manifest_path)["status"] == "failed"
