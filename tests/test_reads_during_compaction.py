"""A store read while its run compacts it: every row, no part named damaged, no error.

Compaction (at the end of every run) writes the merged part whole, then deletes the parts it
merged, so a reader's listing may name parts that are gone by the time it opens them. The
stores are written with pyarrow, so no test here starts Ray.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

from tunefw.store.compaction import compact
from tunefw.store.layout import Storage, find_experiment
from tunefw.store.reader import read_results, scan_parts

from .test_damaged_store import make_experiment, rows, write_part


def add_part(results: Path, index: int, trials: int) -> None:
    """``trials`` new trials in a part of their own, written whole, as the writer does."""
    write_part(results, f".part-{index:06d}.tmp", rows(trials, offset=index * trials))
    os.replace(results / f".part-{index:06d}.tmp", results / f"part-{index:06d}-x.parquet")


def test_a_listing_from_before_compaction_still_reads_every_row(tmp_path, caplog):
    results = make_experiment(tmp_path, trials=3) / "results"
    add_part(results, 1, 3)
    location = find_experiment(Storage.open(str(tmp_path)), "exp")
    listed = scan_parts(location)
    assert len(listed.paths) == 2
    assert compact(location)  # deletes both listed parts
    with caplog.at_level(logging.WARNING):
        table = read_results(location, parts=listed)
    assert table.num_rows == 6
    assert "skipped" not in caplog.text


def test_reads_racing_compaction_never_lose_a_row(tmp_path, caplog):
    results = make_experiment(tmp_path, trials=2) / "results"
    location = find_experiment(Storage.open(str(tmp_path)), "exp")
    written = [2]  # rows in the store before each compaction starts
    done = threading.Event()

    def write_and_compact() -> None:
        try:
            for index in range(1, 41):
                add_part(results, index, 2)
                written.append(written[-1] + 2)
                compact(location)
        finally:
            done.set()

    writer = threading.Thread(target=write_and_compact)
    reads = 0
    with caplog.at_level(logging.WARNING):
        writer.start()
        while not done.is_set():
            before = written[-1]
            assert read_results(location).num_rows >= before
            reads += 1
        writer.join()
    assert "skipped" not in caplog.text
    assert read_results(location).num_rows == written[-1] == 82
    assert reads > 10, "the reads overlapped the compactions"
