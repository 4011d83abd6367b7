"""An S3 server that goes away mid-run and comes back.

The driver reaches the (moto) S3 server through a TCP forwarder on 127.0.0.1 that the test
takes down, dropping every open connection, and brings back on the same port; moto keeps its
objects meanwhile. The run stops with one line, what it wrote stays readable, and resume, once
the server answers again, completes the run.
"""

from __future__ import annotations

import contextlib
import os
import socket
import socketserver
import subprocess
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from tunefw.cli.main import main
from tunefw.store import columns as col
from tunefw.store.layout import Storage, find_experiment
from tunefw.store.manifest import load_manifest
from tunefw.store.reader import final_rows, read_results

from .faults_helpers import function_recipe, start_driver, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("ray_session")]


class Forwarder:
    """Forwards 127.0.0.1:port to the S3 server; ``down`` refuses and drops connections."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        self._server: socketserver.ThreadingTCPServer | None = None
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()

    def up(self) -> None:
        forwarder = self

        class Pump(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                upstream = socket.create_connection(forwarder.target)
                with forwarder._lock:
                    forwarder._open |= {self.request, upstream}
                pumps = [
                    threading.Thread(target=_copy, args=(self.request, upstream), daemon=True),
                    threading.Thread(target=_copy, args=(upstream, self.request), daemon=True),
                ]
                for pump in pumps:
                    pump.start()
                for pump in pumps:
                    pump.join()

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", self.port), Pump)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def down(self) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            for sock in self._open:
                _close(sock)
            self._open.clear()


def _copy(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        _close(sink)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


@pytest.fixture
def forwarder(s3_server: str) -> Iterator[Forwarder]:
    host, port = s3_server.removeprefix("http://").rsplit(":", 1)
    proxy = Forwarder((host, int(port)))
    proxy.up()
    yield proxy
    proxy.down()


def _keys(endpoint: str, bucket: str, prefix: str) -> list[str]:
    listing: Any = boto3.client("s3", endpoint_url=endpoint).list_objects_v2(
        Bucket=bucket, Prefix=prefix
    )
    return [o["Key"] for o in listing.get("Contents", [])]


def test_an_s3_outage_mid_run_is_one_line_and_resume_completes(
    tmp_path, capsys, s3_server, s3_bucket, forwarder
):
    uri = f"s3://{s3_bucket}/runs"
    recipe = function_recipe(
        tmp_path,
        """
        name: outage
        trainable: {kind: function, function: "toy_trainables:steady"}
        objective: {metric: loss, mode: min}
        search: {num_samples: 6, seed: 5, max_concurrent: 2, space: {x: {uniform: [0, 1]}}}
        scheduler: {type: none}
        resources: {cpu: 0.5}
        """,
    )
    recipe.write_text(recipe.read_text().replace(str(tmp_path / "results"), uri))
    driver = start_driver(
        recipe,
        env={**os.environ, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{forwarder.port}"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_until(lambda: _keys(s3_server, s3_bucket, "runs/outage/results/part-"))
    written = _keys(s3_server, s3_bucket, "runs/outage/results/")
    forwarder.down()  # the server goes away
    _, err = driver.communicate(timeout=180)
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert driver.returncode == 2 and len(errors) == 1, err
    assert errors[0].startswith("error: storage: cannot write ") and "/results/part-" in errors[0]
    location = find_experiment(Storage.open(uri), "outage")  # read past the forwarder
    before = read_results(location)
    assert before.num_rows >= 1, "what was written stays readable"
    assert set(written) <= set(_keys(s3_server, s3_bucket, "runs/outage/results/"))

    forwarder.up()  # ... and comes back, listening from the moment it returns
    assert main(["resume", "outage", "--storage", uri]) == 0, capsys.readouterr().err
    assert load_manifest(location)["status"] == "completed"
    finals = final_rows(read_results(location)).to_pylist()
    assert len(finals) == 6 and {r[col.STATUS] for r in finals} == {col.TERMINATED}
    assert read_results(location).num_rows == 6 * 10
