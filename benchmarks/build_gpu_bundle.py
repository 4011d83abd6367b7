"""Build the offline bundle for ``benchmarks/gpu_check.py``: at most 64 MiB, for a GPU host
that has Python and torch but no network and no Ray.

The bundle holds ``wheels/`` (Ray core without ``ray/jars/``, Ray's own dependencies, this
project's wheel), ``gpu_check.py`` and ``run.sh``, and ``bundle.tar.gz`` of those three.
Ray Tune's extras do not fit (pyarrow alone is over 50 MiB), so the check uses Ray core.

    python -m benchmarks.build_gpu_bundle --out DIR [--python-version 3.11]
"""

from __future__ import annotations

import argparse
import csv
import importlib.metadata
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
LIMIT_BYTES = 64 * 2**20
MIB = 2**20
#: Most specific first; the Ray wheel itself is manylinux2014 (glibc 2.17).
PLATFORMS = ("manylinux2014_x86_64", "manylinux_2_17_x86_64", "manylinux_2_28_x86_64")
DROP = ("ray/jars/",)  # the Java worker: about 31 MiB of the Ray wheel

RUN_SH = """\
#!/bin/sh
# The GPU check, offline: a venv that sees this host's torch, Ray core from wheels/.
# Usage: ./run.sh [gpu_check.py flags]   (PYTHON=/path/to/python3.X to pick the interpreter)
set -eu
cd "$(dirname "$0")"
PYTHON="${{PYTHON:-python3}}"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info[:2] != ({major}, {minor}))' || {{
    echo "run.sh: $PYTHON is not Python {major}.{minor}, which these wheels are for" >&2; exit 2; }}
"$PYTHON" -c 'import torch' || {{ echo "run.sh: $PYTHON cannot import torch" >&2; exit 2; }}
[ -x .venv/bin/python ] || "$PYTHON" -m venv --system-site-packages .venv
.venv/bin/python -m pip install -q --disable-pip-version-check --no-index --find-links wheels \\
    "ray=={ray_version}"
# tunefw without its heavy dependencies: gpu_check.py imports nothing from it, and records
# its version only.
.venv/bin/python -m pip install -q --disable-pip-version-check --no-index --find-links wheels \\
    --no-deps tunefw
exec .venv/bin/python gpu_check.py "$@"
"""


def record_path(line: str) -> str:
    """The file a RECORD line names (its first CSV field)."""
    return next(csv.reader([line]))[0] if line.strip() else ""


def strip_wheel(src: Path, dest: Path, drop: Sequence[str] = DROP) -> list[str]:
    """Copy wheel ``src`` to ``dest`` without the files under the ``drop`` prefixes.

    Their lines leave ``*.dist-info/RECORD``; every other entry keeps its bytes, its RECORD
    line and its permission bits. Returns the names dropped.
    """
    dropped: list[str] = []
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            name = info.filename
            if name.startswith(tuple(drop)):
                dropped.append(name)
                continue
            out = zipfile.ZipInfo(name, info.date_time)
            out.external_attr = info.external_attr  # keeps the executables' x bits
            out.create_system = info.create_system
            out.compress_type = zipfile.ZIP_DEFLATED
            out.file_size = info.file_size  # zip64 only where the size needs it
            if is_record(name):
                text = zin.read(info).decode()
                kept = [
                    line
                    for line in text.splitlines(keepends=True)
                    if not record_path(line).startswith(tuple(drop))
                ]
                zout.writestr(out, "".join(kept))
            else:
                with zin.open(info) as f_in, zout.open(out, "w") as f_out:
                    shutil.copyfileobj(f_in, f_out, 1 << 20)
    return dropped


def is_record(name: str) -> bool:
    parts = name.split("/")
    return len(parts) == 2 and parts[0].endswith(".dist-info") and parts[1] == "RECORD"


def check_record(wheel: Path) -> None:
    """Raise ``ValueError`` unless the wheel's RECORD lists exactly the files it holds."""
    with zipfile.ZipFile(wheel) as z:
        names = {n for n in z.namelist() if not n.endswith("/")}
        records = [n for n in names if is_record(n)]
        if len(records) != 1:
            raise ValueError(f"{wheel.name}: {len(records)} RECORD files")
        listed = {p for p in map(record_path, z.read(records[0]).decode().splitlines()) if p}
        if listed != names:
            extra, missing = sorted(listed - names)[:3], sorted(names - listed)[:3]
            raise ValueError(f"{wheel.name}: RECORD lists {extra} not held, omits {missing}")
        bad = z.testzip()
        if bad:
            raise ValueError(f"{wheel.name}: {bad} is corrupt")


def pip(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", *args], check=True)


def download_ray(wheels: Path, ray_version: str, python_version: str) -> None:
    """Ray and its whole dependency closure, as binary wheels for the target interpreter."""
    platforms = [arg for p in PLATFORMS for arg in ("--platform", p)]
    pip(
        "download", "--quiet", "--only-binary=:all:", "--implementation", "cp",
        "--python-version", python_version, *platforms,
        "--dest", str(wheels), f"ray=={ray_version}",
    )  # fmt: skip


def sizes(paths: Sequence[Path]) -> list[tuple[str, int]]:
    """(name, bytes), largest first."""
    return sorted(((p.name, p.stat().st_size) for p in paths), key=lambda s: -s[1])


def check_size(label: str, total: int, parts: Sequence[tuple[str, int]]) -> None:
    if total > LIMIT_BYTES:
        largest = ", ".join(f"{n} {b / MIB:.1f} MiB" for n, b in parts[:4])
        sys.exit(
            f"build_gpu_bundle: {label} is {total / MIB:.1f} MiB, over the "
            f"{LIMIT_BYTES / MIB:.0f} MiB limit; largest: {largest}"
        )


def build(out: Path, python_version: str, ray_version: str) -> Path:
    """Write the bundle into ``out`` (its ``wheels/`` is replaced); the tarball's path."""
    wheels = out / "wheels"
    if wheels.exists():
        shutil.rmtree(wheels)
    wheels.mkdir(parents=True)
    download_ray(wheels, ray_version, python_version)
    (ray_wheel,) = wheels.glob(f"ray-{ray_version}-*.whl")
    full = ray_wheel.stat().st_size
    with tempfile.TemporaryDirectory(dir=out) as tmp:
        stripped = Path(tmp) / ray_wheel.name
        dropped = strip_wheel(ray_wheel, stripped)
        check_record(stripped)
        stripped.replace(ray_wheel)
    print(
        f"{ray_wheel.name}: dropped {len(dropped)} files under {', '.join(DROP)}, "
        f"{full / MIB:.1f} -> {ray_wheel.stat().st_size / MIB:.1f} MiB"
    )
    pip("wheel", "--no-deps", "--quiet", "-w", str(wheels), str(ROOT))
    shutil.copy2(HERE / "gpu_check.py", out / "gpu_check.py")
    major, minor = python_version.split(".")[:2]
    run_sh = out / "run.sh"
    run_sh.write_text(RUN_SH.format(major=major, minor=minor, ray_version=ray_version))
    run_sh.chmod(0o755)

    members = [*sorted(wheels.glob("*.whl")), out / "gpu_check.py", run_sh]
    parts = sizes(members)
    for name, size in parts:
        print(f"  {size / MIB:7.2f} MiB  {name}")
    total = sum(s for _, s in parts)
    print(f"  {total / MIB:7.2f} MiB  total, {len(parts)} files")
    check_size("the bundle directory", total, parts)

    tarball = out / "bundle.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:
        for path in (wheels, out / "gpu_check.py", run_sh):
            tar.add(path, arcname=f"gpu_bundle/{path.relative_to(out)}")
    print(f"  {tarball.stat().st_size / MIB:7.2f} MiB  {tarball}")
    check_size(tarball.name, tarball.stat().st_size, parts)
    return tarball


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, required=True, help="the bundle directory")
    parser.add_argument(
        "--python-version",
        default=f"{sys.version_info.major}.{sys.version_info.minor}",
        help="the GPU host's Python, major.minor (default: this interpreter's)",
    )
    parser.add_argument("--ray-version", help="default: the Ray installed here")
    args = parser.parse_args(argv)
    ray_version = args.ray_version or importlib.metadata.version("ray")
    build(args.out.resolve(), args.python_version, ray_version)


if __name__ == "__main__":
    main()
