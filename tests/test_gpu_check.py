"""The GPU check's pure parts and the bundle builder's wheel stripping; no Ray is started."""

from __future__ import annotations

import hashlib
import zipfile
from base64 import urlsafe_b64encode
from pathlib import Path

import pytest

from benchmarks.build_gpu_bundle import check_record, strip_wheel
from benchmarks.gpu_check import max_concurrent_per_gpu, slots_per_gpu, summarize


def test_max_concurrent_per_gpu() -> None:
    intervals = [
        ("0", 0.0, 10.0),
        ("0", 1.0, 5.0),
        ("0", 2.0, 3.0),  # three open on GPU 0 from 2 to 3
        ("0", 5.0, 6.0),  # starts as one ends: still two at most from here
        ("1", 0.0, 4.0),
        ("1", 4.0, 8.0),  # back to back: never two
    ]
    assert max_concurrent_per_gpu(intervals) == {"0": 3, "1": 1}
    assert max_concurrent_per_gpu([]) == {}
    with pytest.raises(ValueError, match="ends before it starts"):
        max_concurrent_per_gpu([("0", 2.0, 1.0)])


def test_slots_per_gpu() -> None:
    assert [slots_per_gpu(f) for f in (1, 0.5, 0.25, 1 / 3)] == [1, 2, 4, 3]
    with pytest.raises(ValueError):
        slots_per_gpu(1.5)


def test_summarize_keys_by_node_and_gpu() -> None:
    def trial(node: str, gpu: str, start: float, end: float) -> dict[str, object]:
        return {
            "node": node, "gpu_ids": [gpu], "entered": start, "start": start, "end": end,
            "steps": 10, "batch": 4, "device": "cpu",
        }  # fmt: skip

    trials = [trial("a" * 8, "0", 0, 2), trial("a" * 8, "0", 1, 3), trial("b" * 8, "0", 1, 3)]
    trials[1]["start"] = 2.0  # set up until the first one finished: never trained together
    samples = [(1.0, "0", 50.0, 100.0), (2.0, "0", 100.0, 300.0), (2.0, "7", 0.0, 0.0)]
    summary = summarize(0.5, trials, samples, wall=4.0)
    assert summary["concurrent_by_gpu"] == {"aaaaaaaa/0": 2, "bbbbbbbb/0": 1}
    assert summary["max_concurrent_per_gpu"] == 2 and summary["packed"]
    assert summary["max_training_per_gpu"] == 1
    assert (summary["gpu_util_mean"], summary["gpu_util_peak"]) == (75.0, 100.0)  # GPU 7 unused
    assert summary["gpu_mem_peak_mib"] == 300.0
    assert summary["trials_per_s"] == 0.75 and summary["samples_per_s"] == 30.0
    no_samples = summarize(0.5, trials, [], wall=4.0)
    assert no_samples["gpu_util_mean"] is None and no_samples["gpu_util_peak"] is None


def _record_line(name: str, data: bytes) -> str:
    digest = urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}\n"


def _tiny_ray_wheel(path: Path) -> None:
    files = {
        "ray/__init__.py": b"__version__ = '0'\n",
        "ray/core/raylet": b"\x7fELF binary",
        "ray/jars/x.jar": b"PK java",
        "ray/jars/sub/y.jar": b"PK more java",
        "ray-0.dist-info/WHEEL": b"Wheel-Version: 1.0\nRoot-Is-Purelib: false\n",
        "ray-0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: ray\nVersion: 0\n",
    }
    record = "".join(_record_line(n, d) for n, d in files.items()) + "ray-0.dist-info/RECORD,,\n"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        for name, data in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o755 if name == "ray/core/raylet" else 0o644) << 16
            z.writestr(info, data)
        z.writestr("ray-0.dist-info/RECORD", record)


def test_strip_wheel_drops_jars_and_their_record_lines(tmp_path: Path) -> None:
    src, dest = tmp_path / "ray-0-py3-none-any.whl", tmp_path / "out" / "ray-0-py3-none-any.whl"
    dest.parent.mkdir()
    _tiny_ray_wheel(src)
    with pytest.raises(ValueError, match="RECORD"):  # the check sees a RECORD out of step
        bad = tmp_path / "bad.whl"
        with zipfile.ZipFile(src) as z, zipfile.ZipFile(bad, "w") as out:
            for info in z.infolist():
                if info.filename != "ray/jars/x.jar":
                    out.writestr(info, z.read(info))
        check_record(bad)

    dropped = strip_wheel(src, dest)

    assert sorted(dropped) == ["ray/jars/sub/y.jar", "ray/jars/x.jar"]
    check_record(dest)
    with zipfile.ZipFile(dest) as z:
        names = z.namelist()
        assert not [n for n in names if "jars" in n]
        record = z.read("ray-0.dist-info/RECORD").decode()
        assert "jar" not in record
        assert record.count("\n") == 5  # __init__, raylet, WHEEL, METADATA, RECORD
        assert z.read("ray/core/raylet") == b"\x7fELF binary"
        assert z.getinfo("ray/core/raylet").external_attr >> 16 == 0o755
        assert {i.compress_type for i in z.infolist()} == {zipfile.ZIP_DEFLATED}
