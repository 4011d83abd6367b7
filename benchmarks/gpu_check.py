"""GPU packing check: Ray trials of a small torch model at 1, 0.5 and 0.25 GPU each.

Standalone (torch, Ray core and the standard library; nothing from tunefw), so that it runs
from the offline bundle ``benchmarks/build_gpu_bundle.py`` makes. Each trial is a Ray task
with ``num_gpus=fraction`` that trains an MLP on synthetic data. Per fraction it reports the
trials, the wall time, the most trials that ran at once on one GPU, GPU utilisation (sampled
with nvidia-smi every 0.5 s) and throughput; it prints a table and writes JSON.

    python gpu_check.py                          # every local GPU
    python gpu_check.py --address HOST:6379      # an existing cluster
    python gpu_check.py --allow-cpu --steps 20   # no GPU: one fake GPU, torch on CPU
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import logging
import os
import platform
import secrets
import shutil
import subprocess
import sys
import threading
import time
import warnings
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

#: (GPU key, start, end): one trial's time on one GPU.
Interval = tuple[str, float, float]
#: (time, GPU index, utilisation %, memory used MiB).
Sample = tuple[float, str, float, float]


def max_concurrent_per_gpu(intervals: Iterable[Interval]) -> dict[str, int]:
    """The most intervals open at once, per GPU key.

    Intervals are half-open, ``[start, end)``: one that ends as another starts does not
    overlap it.
    """
    events: dict[str, list[tuple[float, int]]] = defaultdict(list)
    for key, start, end in intervals:
        if end < start:
            raise ValueError(f"an interval on GPU {key} ends before it starts: {start} > {end}")
        events[key] += [(start, 1), (end, -1)]
    most: dict[str, int] = {}
    for key, points in events.items():
        running = peak = 0
        for _, change in sorted(points):  # at equal times an end (-1) sorts before a start
            running += change
            peak = max(peak, running)
        most[key] = peak
    return most


def trial_intervals(trials: Iterable[dict[str, Any]], begin: str = "entered") -> list[Interval]:
    """One interval per trial and GPU it held, keyed ``node/gpu``, from ``begin`` to its end.

    ``entered``: the task began (the trial holds its GPU share); ``start``: training began.
    """
    return [(f"{t['node'][:8]}/{gpu}", t[begin], t["end"]) for t in trials for gpu in t["gpu_ids"]]


def slots_per_gpu(fraction: float) -> int:
    """Trials that fit on one GPU at ``fraction`` each."""
    if not 0 < fraction <= 1:
        raise ValueError(f"a GPU fraction must be in (0, 1], not {fraction}")
    return int(1 / fraction + 1e-9)


def summarize(
    fraction: float, trials: Sequence[dict[str, Any]], samples: Sequence[Sample], wall: float
) -> dict[str, Any]:
    """One fraction's figures from its trial records and the GPU samples taken meanwhile."""
    per_gpu = max_concurrent_per_gpu(trial_intervals(trials))
    training = max_concurrent_per_gpu(trial_intervals(trials, begin="start"))
    used = {str(g) for t in trials for g in t["gpu_ids"]}
    if any(s[1] in used for s in samples):  # only the GPUs Ray gave out, where they match
        samples = [s for s in samples if s[1] in used]
    util = [s[2] for s in samples]
    slots = slots_per_gpu(fraction)
    peak = max(per_gpu.values(), default=0)
    return {
        "fraction": fraction,
        "trials": len(trials),
        "wall_s": round(wall, 3),
        "slots_per_gpu": slots,
        "max_concurrent_per_gpu": peak,
        "packed": peak == slots,
        "concurrent_by_gpu": per_gpu,
        "max_training_per_gpu": max(training.values(), default=0),
        "gpu_util_mean": round(sum(util) / len(util), 1) if util else None,
        "gpu_util_peak": max(util) if util else None,
        "gpu_mem_peak_mib": max((s[3] for s in samples), default=None),
        "gpu_samples": len(samples),
        "trials_per_s": round(len(trials) / wall, 4) if wall > 0 else None,
        "samples_per_s": round(sum(t["steps"] * t["batch"] for t in trials) / wall, 1)
        if wall > 0
        else None,
        "train_s_mean": round(sum(t["end"] - t["start"] for t in trials) / len(trials), 3)
        if trials
        else None,
        "devices": sorted({t["device"] for t in trials}),
    }


class GpuSampler:
    """Every local GPU's utilisation and memory, sampled in a thread: nvidia-smi, else pynvml."""

    QUERY = (
        "nvidia-smi",
        "--query-gpu=index,utilization.gpu,memory.used",
        "--format=csv,noheader,nounits",
    )

    def __init__(self, period: float = 0.5) -> None:
        self.period = period
        self.samples: list[Sample] = []
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="gpu-sampler", daemon=True)
        self._nvml: Any = None
        if shutil.which("nvidia-smi"):
            self.source: str | None = "nvidia-smi"
        else:
            try:
                import pynvml  # type: ignore[import-not-found]

                pynvml.nvmlInit()
                self._nvml, self.source = pynvml, "pynvml"
            except Exception:  # no NVML on this host: utilisation is n/a
                self.source = None

    def __enter__(self) -> GpuSampler:
        if self.source:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def between(self, t0: float, t1: float) -> list[Sample]:
        return [s for s in self.samples if t0 <= s[0] <= t1]

    def _read(self) -> list[tuple[str, float, float]]:
        if self._nvml is not None:
            nvml = self._nvml
            rows = []
            for i in range(nvml.nvmlDeviceGetCount()):
                handle = nvml.nvmlDeviceGetHandleByIndex(i)
                util = nvml.nvmlDeviceGetUtilizationRates(handle).gpu
                mem = nvml.nvmlDeviceGetMemoryInfo(handle).used / 2**20
                rows.append((str(i), float(util), mem))
            return rows
        out = subprocess.run(self.QUERY, capture_output=True, text=True, timeout=10, check=True)
        rows = []
        for line in out.stdout.strip().splitlines():
            index, util, mem = (field.strip() for field in line.split(","))
            if util.replace(".", "").isdigit() and mem.replace(".", "").isdigit():
                rows.append((index, float(util), float(mem)))
        return rows

    def _loop(self) -> None:
        while not self._stop.is_set():
            now = time.time()
            try:
                self.samples += [(now, *row) for row in self._read()]
            except Exception as e:  # a failing tool: keep what was sampled, say why it stopped
                self.error = f"{self.source}: {e}"
                return
            self._stop.wait(self.period)


def train_trial(index: int, steps: int, batch: int, width: int, allow_cpu: bool) -> dict[str, Any]:
    """A Ray trial: an MLP trained on one synthetic batch, on CUDA when Ray gave it a GPU."""
    entered = time.time()
    warnings.filterwarnings("ignore", message="Failed to initialize NumPy")  # torch w/o numpy
    import ray
    import torch

    gpu_ids = [str(g) for g in ray.get_gpu_ids()]
    cuda = bool(gpu_ids) and torch.cuda.is_available()
    if not cuda and not allow_cpu:
        raise RuntimeError(f"trial {index}: Ray gave it GPUs {gpu_ids}, but torch sees no CUDA")
    device = torch.device("cuda" if cuda else "cpu")
    torch.manual_seed(index)
    model = torch.nn.Sequential(
        torch.nn.Linear(width, width),
        torch.nn.ReLU(),
        torch.nn.Linear(width, width),
        torch.nn.ReLU(),
        torch.nn.Linear(width, 10),
    ).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)
    x = torch.randn(batch, width, device=device)
    y = torch.randint(0, 10, (batch,), device=device)

    def step() -> torch.Tensor:
        optimizer.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        return loss.detach()

    float(step())  # warm-up (CUDA context, kernels); float() waits for the device
    start = time.time()
    for _ in range(steps):
        loss = step()
    final = float(loss) if steps else float("nan")
    end = time.time()
    return {
        "index": index,
        "node": ray.get_runtime_context().get_node_id(),
        "gpu_ids": gpu_ids,
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "device": torch.cuda.get_device_name(device) if cuda else "cpu",
        "entered": entered,
        "start": start,
        "end": end,
        "steps": steps,
        "batch": batch,
        "loss": final,
        "gpu_mem_peak_mib": torch.cuda.max_memory_allocated(device) / 2**20 if cuda else None,
    }


def run_fraction(
    fraction: float, gpus: int, args: argparse.Namespace, sampler: GpuSampler
) -> dict[str, Any]:
    """Launch ``rounds x slots x gpus`` trials at ``fraction`` GPU each; their summary."""
    import ray
    from ray.exceptions import RayError

    count = args.rounds * slots_per_gpu(fraction) * gpus
    # num_gpus in @ray.remote makes each trial a fresh worker (max_calls=1), as a Tune trial is.
    remote = ray.remote(num_gpus=fraction, num_cpus=args.cpus_per_trial)(train_trial)
    started = time.time()
    refs = [
        remote.remote(i, args.steps, args.batch, args.width, args.allow_cpu) for i in range(count)
    ]
    try:
        trials = ray.get(refs, timeout=args.timeout)
    except RayError as e:  # a trial that failed, or GetTimeoutError
        for ref in refs:
            ray.cancel(ref, force=True)
        last = str(e).strip().splitlines()[-1] if str(e).strip() else ""
        return {"fraction": fraction, "trials": count, "error": f"{type(e).__name__}: {last}"}
    wall = time.time() - started
    summary = summarize(fraction, trials, sampler.between(started, started + wall), wall)
    return {**summary, "trial_records": sorted(trials, key=lambda t: t["index"])}


def table(results: Sequence[dict[str, Any]]) -> str:
    """The results as a fixed-width text table."""

    def cell(value: Any, spec: str = "") -> str:
        return "n/a" if value is None else format(value, spec)

    header = (
        f"{'GPU/trial':>9} {'trials':>6} {'wall s':>7} {'max/GPU':>8} {'training':>8} "
        f"{'util %':>6} {'peak %':>6} {'mem MiB':>8} {'trials/s':>8} {'samples/s':>10}"
    )
    lines = [header, "-" * len(header)]
    for r in results:
        if "error" in r:
            lines.append(f"{r['fraction']:>9} {r['trials']:>6}  failed: {r['error']}")
            continue
        packing = f"{r['max_concurrent_per_gpu']}/{r['slots_per_gpu']}"
        lines.append(
            f"{r['fraction']:>9} {r['trials']:>6} {r['wall_s']:>7.2f} {packing:>8} "
            f"{r['max_training_per_gpu']:>8} "
            f"{cell(r['gpu_util_mean'], '.1f'):>6} {cell(r['gpu_util_peak'], '.0f'):>6} "
            f"{cell(r['gpu_mem_peak_mib'], '.0f'):>8} {r['trials_per_s']:>8.3f} "
            f"{r['samples_per_s']:>10.0f}"
        )
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--fractions", type=float, nargs="+", default=[1.0, 0.5, 0.25])
    parser.add_argument("--steps", type=int, default=500, help="training steps per trial")
    parser.add_argument("--batch", type=int, help="default 4096 on CUDA, 256 on CPU")
    parser.add_argument("--width", type=int, help="hidden width; default 2048 on CUDA, 256 on CPU")
    parser.add_argument("--rounds", type=int, default=2, help="trials per GPU slot (default 2)")
    parser.add_argument("--cpus-per-trial", type=float, default=1.0)
    parser.add_argument("--timeout", type=float, default=900, help="seconds per fraction")
    parser.add_argument("--address", help="an existing Ray cluster (default: start one here)")
    parser.add_argument(
        "--allow-cpu",
        action="store_true",
        help="with no CUDA device, run on CPU with one fake GPU (to test the logic)",
    )
    parser.add_argument("--out", type=Path, default=Path("gpu_check.json"))
    args = parser.parse_args(argv)
    for fraction in args.fractions:
        try:
            slots_per_gpu(fraction)
        except ValueError as e:
            parser.error(str(e))
    return args


def version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if not args.address:
        # Read by Ray at import and by its child processes: a single node on 127.0.0.1.
        os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
        if "RAY_AUTH_MODE" not in os.environ and "RAY_AUTH_TOKEN" not in os.environ:
            os.environ["RAY_AUTH_TOKEN"] = secrets.token_hex(32)  # never ~/.ray/auth_token
    warnings.filterwarnings("ignore", message="Failed to initialize NumPy")  # torch w/o numpy
    import torch

    cuda = torch.cuda.is_available()
    if not args.address and not cuda and not args.allow_cpu:
        print(
            f"no CUDA device: torch {torch.__version__} (CUDA {torch.version.cuda}) finds none; "
            "--allow-cpu runs the check on CPU with one fake GPU",
            file=sys.stderr,
        )
        return 2
    import ray

    if args.address:
        ray.init(address=args.address, logging_level=logging.WARNING)
        gpus = int(ray.cluster_resources().get("GPU", 0))
        if gpus == 0:
            print(f"no CUDA device: the cluster at {args.address} has no GPUs", file=sys.stderr)
            ray.shutdown()
            return 2
        cuda = True
    else:
        gpus = torch.cuda.device_count() if cuda else 1
        slots = max(slots_per_gpu(f) for f in args.fractions)
        cpus = max(os.cpu_count() or 1, int(slots * gpus * args.cpus_per_trial + 0.999))
        auth_log = logging.getLogger("ray._private.authentication.authentication_token_setup")
        auth_log.setLevel(logging.ERROR)  # "token auth enabled" is intended, not news
        ray.init(  # "local": a new instance, even where `ray start` left one running
            address="local",
            num_gpus=gpus,
            num_cpus=cpus,
            include_dashboard=False,
            logging_level=logging.WARNING,
        )
    args.batch = args.batch or (4096 if cuda else 256)
    args.width = args.width or (2048 if cuda else 256)
    mode = "cuda" if cuda else "cpu, 1 fake GPU"
    print(
        f"{gpus} GPU(s) ({mode}); {args.steps} steps of batch {args.batch}, width {args.width}",
        flush=True,
    )
    results = []
    try:
        with GpuSampler() as sampler:
            for fraction in args.fractions:
                result = run_fraction(fraction, gpus, args, sampler)
                results.append(result)
                status = result.get("error") or f"{result['wall_s']:.1f} s"
                print(f"  {fraction} GPU/trial: {result['trials']} trials, {status}", flush=True)
    finally:
        ray.shutdown()
    report = {
        "host": platform.node(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "ray": ray.__version__,
        "tunefw": version("tunefw"),
        "gpus": gpus,
        "mode": mode,
        "steps": args.steps,
        "batch": args.batch,
        "width": args.width,
        "cpus_per_trial": args.cpus_per_trial,
        "util_source": sampler.source,
        "util_error": sampler.error,
        "results": results,
    }
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print()
    print(table(results))
    print(
        "max/GPU: most trials holding one GPU at once / slots; training: most training at once; "
        f"GPU utilisation from {sampler.source or 'n/a (no nvidia-smi or pynvml)'}"
    )
    print(f"wrote {args.out}")
    return 1 if any("error" in r for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
