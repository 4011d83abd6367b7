"""Remote storage on a real local S3 server (moto), through pyarrow's S3 filesystem."""

from __future__ import annotations

import socket

import boto3
import pytest

import tunefw
from tunefw.cli.main import main
from tunefw.store import columns as col
from tunefw.store.layout import Storage, find_experiment
from tunefw.store.manifest import load_manifest
from tunefw.store.reader import final_rows, read_results

from .conftest import S3_SECRET
from .faults_helpers import function_recipe

pytestmark = pytest.mark.usefixtures("ray_session")

RECIPE = """
name: remote
trainable: {kind: function, function: "toy_trainables:quadratic"}
objective: {metric: loss, mode: min}
search: {num_samples: 4, seed: 0, space: {x: {uniform: [0, 1]}}}
"""


def test_run_results_and_resume_on_s3(tmp_path, s3_server, s3_bucket, capsys):
    uri = f"s3://{s3_bucket}/team/tuning"
    path = function_recipe(tmp_path, RECIPE)
    assert main(["run", str(path), "--storage", uri]) == 0
    out = capsys.readouterr()
    assert "best loss" in out.out
    assert S3_SECRET not in out.out + out.err

    keys = [
        o["Key"]
        for o in boto3.client("s3", endpoint_url=s3_server)
        .list_objects_v2(Bucket=s3_bucket)
        .get("Contents", [])
    ]
    assert "team/tuning/remote/manifest.json" in keys
    assert any(k.startswith("team/tuning/remote/results/part-") for k in keys)
    assert any(k.startswith("team/tuning/remote/ray/experiment_state") for k in keys), (
        "Ray Tune's own experiment files go to the same storage"
    )
    s3 = boto3.client("s3", endpoint_url=s3_server)
    for key in keys:
        body = s3.get_object(Bucket=s3_bucket, Key=key)["Body"].read()
        assert S3_SECRET.encode() not in body, f"credentials leaked into {key}"

    location = find_experiment(Storage.open(uri), "remote")
    assert load_manifest(location)["storage"] == f"s3://{s3_bucket}/team/tuning"
    finals = final_rows(read_results(location)).to_pylist()
    assert len(finals) == 4
    assert {r[col.STATUS] for r in finals} <= {col.TERMINATED, col.STOPPED_EARLY}
    assert tunefw.open_results(uri, "remote", where="iteration == 1").num_rows == 4

    capsys.readouterr()
    assert main(["results", "remote", "--storage", uri, "--format", "csv"]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 5
    assert main(["resume", "remote", "--storage", uri]) == 0, "a finished run resumes as a no-op"
    assert final_rows(read_results(location)).num_rows == 4


def test_an_unknown_storage_scheme_is_one_line(tmp_path, capsys):
    path = function_recipe(tmp_path, RECIPE)
    assert main(["run", str(path), "--storage", "nosuchscheme://bucket/x"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("error: storage: nosuchscheme://bucket/x: unknown scheme")


def test_an_unreachable_storage_server_is_one_line(tmp_path, capsys):
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    uri = f"s3://bucket/x?endpoint_override=127.0.0.1:{port}&scheme=http"
    assert main(["run", str(function_recipe(tmp_path, RECIPE)), "--storage", uri]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: storage: cannot reach s3://bucket/x:")
    assert "Could not connect" in err[0]


def test_credentials_in_a_uri_are_not_shown(tmp_path, capsys):
    assert main(["results", "x", "--storage", f"s3://bucket/p?secret_key={S3_SECRET}"]) == 2
    err = capsys.readouterr().err
    assert S3_SECRET not in err and "s3://bucket/p" in err
