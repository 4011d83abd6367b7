"""The torch trainable on real Ray: per-epoch reports, regularizers, checkpoints, retries."""

from __future__ import annotations

import pickle
import textwrap
from pathlib import Path

import pytest

from tunefw.cli.main import main
from tunefw.store import columns as col
from tunefw.store.reader import final_rows, read_results

from .faults_helpers import (
    assert_resumed_once_from_a_checkpoint,
    experiment,
    trials_killed_at_their_third_checkpoint,
)

pytestmark = pytest.mark.usefixtures("ray_session")


def torch_recipe(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "recipe.yaml"
    path.write_text(textwrap.dedent(body) + f"storage: {tmp_path / 'results'}\n")
    return path


@pytest.mark.slow
def test_a_cnn_on_digits_with_searched_regularization(tmp_path):
    path = torch_recipe(
        tmp_path,
        """
        name: cnn
        trainable: {kind: torch, model: cnn, model_params: {image_shape: [1, 8, 8]}, epochs: 4}
        data: {loader: "sklearn.datasets:load_digits"}
        objective: {metric: accuracy, mode: max}
        search: {num_samples: 3, seed: 0, space: {lr: {loguniform: [1.0e-3, 1.0e-2]}, channels: 8}}
        validation: {strategy: holdout, stratify: true}
        regularization: [{name: l2, range: [1.0e-6, 1.0e-3]}, {name: dropout}]
        scheduler: {type: none}
        """,
    )
    assert main(["run", str(path)]) == 0
    table = read_results(experiment(tmp_path, "cnn"))
    assert table.num_rows == 12, "one report per epoch"
    finals = final_rows(table).to_pylist()
    assert all(r[col.STATUS] == col.TERMINATED for r in finals)
    assert max(r["metric.accuracy"] for r in finals) > 0.9
    assert {"config.l2", "config.dropout", "config.lr"} <= set(table.column_names)


def test_early_stopping_ends_a_stalled_trial_and_says_why(tmp_path):
    path = torch_recipe(
        tmp_path,
        """
        name: stall
        trainable: {kind: torch, model: mlp, epochs: 30, optimizer: sgd}
        data: {loader: "sklearn.datasets:load_digits"}
        objective: {metric: accuracy, mode: max}
        search: {num_samples: 1, space: {lr: 1.0e-7}}
        regularization: [{name: early_stopping, patience: 2, min_delta: 0.01}]
        scheduler: {type: none}
        """,
    )
    assert main(["run", str(path)]) == 0
    (last,) = final_rows(read_results(experiment(tmp_path, "stall"))).to_pylist()
    assert last[col.ITERATION] < 30
    assert last["metric.stopped_reason"].startswith("early_stopping: accuracy did not improve")


@pytest.mark.slow
def test_a_killed_actor_resumes_the_torch_trial_from_its_checkpoint(tmp_path):
    path = torch_recipe(
        tmp_path,
        """
        name: killed-torch
        trainable: {kind: torch, model: mlp, epochs: 40, batch_size: 8, checkpoint_every: 1}
        data: {loader: "sklearn.datasets:load_digits"}
        objective: {metric: accuracy, mode: max}
        search: {num_samples: 1, space: {hidden: 32}}
        scheduler: {type: none}
        failure: {max_retries: 1}
        """,
    )
    with trials_killed_at_their_third_checkpoint(tmp_path / "results" / "killed-torch" / "ray"):
        assert main(["run", str(path)]) == 0
    assert_resumed_once_from_a_checkpoint(experiment(tmp_path, "killed-torch"), epochs=40)


@pytest.mark.parametrize(
    ("scheduler", "epochs_checkpointed"),
    [
        ("{type: none}", [3]),  # epochs of well under 30 s: only the last
        ("{type: asha, max_t: 3}", [3]),
        ("{type: hyperband, max_t: 3}", [1, 2, 3]),  # a paused trial goes on from its last
    ],
)
def test_a_trial_checkpoints_when_due_and_at_its_last_epoch(
    tmp_path, scheduler, epochs_checkpointed
):
    path = torch_recipe(
        tmp_path,
        f"""
        name: due
        trainable: {{kind: torch, model: mlp, epochs: 3}}
        data: {{loader: "sklearn.datasets:load_digits"}}
        objective: {{metric: accuracy, mode: max}}
        search: {{num_samples: 1, space: {{hidden: 8}}}}
        scheduler: {scheduler}
        """,
    )
    assert main(["run", str(path)]) == 0
    ray_dir = tmp_path / "results" / "due" / "ray"
    states = sorted(ray_dir.glob("*/checkpoint_*/state.pkl"))
    assert [pickle.loads(p.read_bytes())["epoch"] for p in states] == epochs_checkpointed
    table = read_results(experiment(tmp_path, "due"))
    assert sorted(table[col.ITERATION].to_pylist()) == [1, 2, 3], "every epoch stored"


def test_transfer_loads_matching_tensors_and_freezes(tmp_path):
    import torch

    from tunefw_plugins.trainables.torch_models import MLP
    from tunefw_plugins.trainables.torch_trainable import load_state, save_state, transfer

    source = MLP(64, 5, hidden=16)
    save_state(source, str(tmp_path / "w.pt"))
    target = MLP(64, 3, hidden=16)  # a new head: 3 classes
    transfer(target, load_state(str(tmp_path / "w.pt")), freeze=["body.0.*"])
    assert torch.equal(target.body[0].weight, source.body[0].weight)
    assert torch.equal(target.body[3].weight, source.body[3].weight)
    assert target.body[6].weight.shape == (3, 16), "the mismatched head stays fresh"
    frozen = {n for n, p in target.named_parameters() if not p.requires_grad}
    assert frozen == {"body.0.weight", "body.0.bias"}


def test_missing_pretrained_weights_fail_validation(tmp_path, capsys):
    path = torch_recipe(
        tmp_path,
        f"""
        name: missing-weights
        trainable: {{kind: torch, pretrained: "{tmp_path / "nope.pt"}"}}
        data: {{loader: "sklearn.datasets:load_digits"}}
        objective: {{metric: accuracy, mode: max}}
        search: {{space: {{lr: 0.01}}}}
        """,
    )
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "trainable.pretrained: cannot load" in err[0]


def test_shifted_images_are_the_originals_moved_by_at_most_the_given_pixels():
    import torch

    from tunefw_plugins.trainables.torch_augment import shift_images

    images = torch.zeros(200, 1, 6, 6)
    images[:, 0, 2:4, 2:4] = torch.arange(1, 201, dtype=torch.float32).reshape(-1, 1, 1)
    shifted = shift_images(images.reshape(200, -1), (1, 6, 6), 1, torch.Generator().manual_seed(0))
    shifted = shifted.reshape(200, 1, 6, 6)
    moves = set()
    for before, after in zip(images, shifted, strict=True):
        assert torch.equal(before.sum(), after.sum()), "the block stays whole inside the border"
        (y0, x0), (y1, x1) = before[0].nonzero()[0].tolist(), after[0].nonzero()[0].tolist()
        moves.add((y1 - y0, x1 - x0))
    assert moves == {(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)}


def test_augmenting_rows_that_are_not_images_fails_validation(tmp_path, capsys):
    path = torch_recipe(
        tmp_path,
        """
        name: shift-mlp
        trainable: {kind: torch, model: mlp, augment_shift: 1}
        data: {loader: "sklearn.datasets:load_digits"}
        objective: {metric: accuracy, mode: max}
        search: {space: {lr: 0.01}}
        """,
    )
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "trainable.augment_shift: needs images" in err[0]


@pytest.mark.slow
def test_data_parallel_trials_train_with_ddp_across_ray_train_workers(tmp_path):
    """Two Ray Train workers per trial (gloo on the CPU): every epoch reported, checkpointed
    and early-stoppable as in one process, and the model learns."""
    path = torch_recipe(
        tmp_path,
        f"""
        name: ddp
        trainable:
          kind: torch
          model: mlp
          epochs: 4
          standardize: true
          data_parallel: 2
          worker_resources: {{CPU: 0.25}}
          save_model: {tmp_path / "ddp.pt"}
        data: {{loader: "sklearn.datasets:load_digits"}}
        objective: {{metric: accuracy, mode: max}}
        search: {{num_samples: 1, seed: 0, space: {{lr: 3.0e-3, hidden: 32}}}}
        validation: {{strategy: holdout, stratify: true}}
        regularization: [{{name: l2, range: [1.0e-6, 1.0e-4]}}]
        resources: {{cpu: 0.25}}
        scheduler: {{type: none}}
        """,
    )
    assert main(["run", str(path)]) == 0
    table = read_results(experiment(tmp_path, "ddp"))
    rows = sorted(table.to_pylist(), key=lambda r: r[col.ITERATION])
    assert [r["metric.epoch"] for r in rows] == [1, 2, 3, 4], "one report per epoch"
    assert {r["metric.workers"] for r in rows} == {2}
    assert rows[-1]["metric.accuracy"] > 0.85
    assert rows[-1]["metric.train_loss"] < rows[0]["metric.train_loss"]
    import torch

    weights = torch.load(tmp_path / "ddp.pt", weights_only=True)
    assert "body.0.weight" in weights, "the plain model's weights, not DDP's module.*"


@pytest.mark.parametrize(
    ("workers", "message"),
    [
        ("{CPU: 1}", "trainable.worker_resources: 2 workers and the trial hold CPU 2.25 together"),
        ("{cpu: 0.25}", "trainable.worker_resources: cpu 0.25 per worker"),
    ],
)
def test_data_parallel_workers_no_node_can_hold_are_refused_at_once(
    tmp_path, capsys, workers, message
):
    """Ray Train reserves the workers apart from the trial: on the one-CPU test Ray, two
    1-CPU workers beside a 0.25-CPU trial (or workers holding a resource no node has, such
    as a lowercase ``cpu``) would wait forever; the run is refused before it writes."""
    path = torch_recipe(
        tmp_path,
        f"""
        name: ddp-too-big
        trainable: {{kind: torch, model: mlp, epochs: 1, data_parallel: 2,
                    worker_resources: {workers}}}
        data: {{loader: "sklearn.datasets:load_digits"}}
        objective: {{metric: accuracy, mode: max}}
        search: {{num_samples: 1, space: {{lr: 1.0e-3}}}}
        resources: {{cpu: 0.25}}
        scheduler: {{type: none}}
        """,
    )
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: {message}, which no node of the embedded Ray has"]
    assert not (tmp_path / "results" / "ddp-too-big").exists(), "nothing written"


@pytest.mark.slow
def test_a_data_parallel_trial_stops_all_its_workers_when_its_metric_stalls(tmp_path):
    path = torch_recipe(
        tmp_path,
        """
        name: ddp-stall
        trainable: {kind: torch, epochs: 20, data_parallel: 2, worker_resources: {CPU: 0.25}}
        data: {loader: "sklearn.datasets:load_digits"}
        objective: {metric: accuracy, mode: max}
        search: {num_samples: 1, seed: 0, space: {lr: 1.0e-3}}
        regularization: [{name: early_stopping, patience: 1, min_delta: 1.0}]
        resources: {cpu: 0.25}
        scheduler: {type: none}
        """,
    )
    assert main(["run", str(path)]) == 0
    rows = sorted(read_results(experiment(tmp_path, "ddp-stall")).to_pylist(),
                  key=lambda r: r[col.ITERATION])  # fmt: skip
    assert [r["metric.epoch"] for r in rows] == [1, 2], "no improvement of 1.0: stop at epoch 2"
    assert rows[-1]["metric.stopped_reason"].startswith("early_stopping")
