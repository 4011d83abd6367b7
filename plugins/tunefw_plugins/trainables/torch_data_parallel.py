"""One trial trained data-parallel by several workers: Ray Train's ``TorchTrainer`` with DDP.

The trial's own process stays the Tune trial. It starts a ``TorchTrainer`` whose workers (each
holding ``worker_resources``, reserved by Ray Train in a placement group of its own) train the
model with DDP on equal shards of the training rows. After each epoch, rank 0 sends the
epoch's figures and state through a queue; the trial reports them (so ASHA, early stopping and
checkpoints work as for one process) and answers go on or stop, which rank 0 passes to the
others.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from tunefw.plugin_api.torch_target import TorchTarget
from tunefw_plugins.trainables.torch_loop import Epochs, make_optimizer

GO, STOP = "go", "stop"


@dataclass
class DataParallelJob:
    """Everything the workers need, shipped to them once through the object store."""

    model: nn.Module
    target: TorchTarget  # holds ``model`` itself: penalties apply to the workers' copy
    X: torch.Tensor
    y: torch.Tensor
    train_rows: torch.Tensor
    valid_rows: torch.Tensor
    settings: dict[str, Any]  # optimizer, lr, momentum, batch_size, epochs, amp, augment_shift
    image_shape: tuple[int, int, int] | None
    restored: dict[str, Any] | None
    first_epoch: int
    seed: int


OnEpoch = Callable[[dict[str, Any], int, Callable[[], dict[str, Any]]], bool]


def train_data_parallel(
    job: DataParallelJob, workers: int, worker_resources: dict[str, float], on_epoch: OnEpoch
) -> dict[str, Any] | None:
    """Train ``job`` on ``workers`` workers; ``on_epoch(metrics, epoch, state)`` reports each
    epoch and says whether to stop. Returns the last epoch's state."""
    from ray.train import RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer
    from ray.util.queue import Queue

    reports, answers = Queue(actor_options={"num_cpus": 0}), Queue(actor_options={"num_cpus": 0})
    scratch = tempfile.mkdtemp(prefix="tunefw-train-")  # Ray Train's run files; no checkpoints
    trainer = TorchTrainer(
        _train_worker,
        train_loop_config={"job": job, "reports": reports, "answers": answers},
        scaling_config=ScalingConfig(
            num_workers=workers,
            use_gpu=worker_resources.get("GPU", 0) > 0,
            resources_per_worker=worker_resources,
        ),
        run_config=RunConfig(name=f"tunefw-dp-{uuid.uuid4().hex[:8]}", storage_path=scratch),
    )
    failure: list[BaseException] = []

    def fit() -> None:
        try:
            trainer.fit()
        except BaseException as exc:
            failure.append(exc)
        finally:
            reports.put(None)

    thread = threading.Thread(target=fit, name="tunefw-data-parallel", daemon=True)
    thread.start()
    last = None
    try:
        while (item := reports.get()) is not None:
            epoch, metrics, state = item
            last = state
            answers.put(STOP if on_epoch(metrics, epoch, lambda s=state: s) else GO)
    except BaseException:
        answers.put(STOP)  # rank 0 waits for an answer after every epoch
        raise
    finally:
        thread.join(timeout=120)
        shutil.rmtree(scratch, ignore_errors=True)
    if failure:
        raise RuntimeError(f"data-parallel training failed: {failure[0]}") from failure[0]
    return last


def _train_worker(config: dict[str, Any]) -> None:
    """One Ray Train worker: DDP over its shard; rank 0 reports and relays go/stop."""
    import ray.train
    import ray.train.torch
    import torch.distributed as dist

    job: DataParallelJob = config["job"]
    context = ray.train.get_context()
    rank, world = context.get_world_rank(), context.get_world_size()
    device = ray.train.torch.get_device()
    s = job.settings
    forward = ray.train.torch.prepare_model(job.model)  # DDP when world > 1, on ``device``
    optimizer = make_optimizer(
        s["optimizer"], job.model, s["lr"], s["momentum"], job.target.weight_decay
    )
    epochs = Epochs(
        model=job.model,
        target=job.target,
        optimizer=optimizer,
        X=job.X,
        y=job.y,
        device=device,
        batch_size=max(1, s["batch_size"] // world),  # the same global batch
        amp=bool(s["amp"]) and device.type == "cuda",
        augment_shift=s["augment_shift"],
        image_shape=job.image_shape,
        forward=forward,
    )
    if job.restored:
        epochs.restore(job.restored)
    generator = torch.Generator().manual_seed(job.seed)  # the same order on every rank
    for epoch in range(job.first_epoch, s["epochs"] + 1):
        started = time.perf_counter()
        order = job.train_rows[torch.randperm(len(job.train_rows), generator=generator)]
        order = order[: len(order) - len(order) % world]  # equal shards, equal batch counts
        loss = torch.tensor(epochs.train(order[rank::world], generator), device=device)
        if world > 1:
            dist.all_reduce(loss)
        go = torch.tensor(1, device=device)
        if rank == 0:
            metrics = {
                **epochs.evaluate(job.valid_rows),
                "train_loss": float(loss) / len(order),
                "epoch_seconds": time.perf_counter() - started,
                "workers": world,
            }
            config["reports"].put((epoch, metrics, epochs.state(epoch)))
            go = torch.tensor(int(config["answers"].get() == GO), device=device)
        if world > 1:
            dist.broadcast(go, src=0)
        if not go:
            break
