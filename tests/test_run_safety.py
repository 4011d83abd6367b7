"""What a run may write, and when: nothing before it can start, nothing lost by a refusal,
an exit code that says how it ended."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from tunefw.cli.main import main
from tunefw.errors import RecipeError
from tunefw.prepare.capacity import check_capacity
from tunefw.recipe.schema import Resources
from tunefw.running.runner import store_is_whole
from tunefw.store import columns as col
from tunefw.store.layout import ExperimentLocation, Storage
from tunefw.store.reader import final_rows, read_results

from .faults_helpers import REFUSED_FAST, env_with, experiment, function_recipe
from .test_damaged_store import rows, write_part


def tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` with its bytes."""
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def quick_recipe(tmp_path: Path, extra: str = "", space: str = "{x: {uniform: [0, 1]}}") -> Path:
    return function_recipe(
        tmp_path,
        f"""
        name: safe
        trainable: {{kind: function, function: "toy_trainables:quadratic"}}
        objective: {{metric: loss, mode: min}}
        search: {{num_samples: 2, seed: 0, space: {space}}}
        scheduler: {{type: none}}
        """
        + extra,
    )


def interrupt(experiment_dir: Path) -> None:
    """Make a finished experiment look interrupted: one trial's rows gone, status ``running``."""
    (part,) = (experiment_dir / "results").glob("*.parquet")
    table = pq.read_table(part)
    first = table[col.TRIAL_ID][0].as_py()
    pq.write_table(table.filter(pc.field(col.TRIAL_ID) != first), part)
    manifest = json.loads((experiment_dir / "manifest.json").read_text())
    manifest["status"] = "running"
    (experiment_dir / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.usefixtures("ray_session")
@pytest.mark.parametrize("command", ["run", "resume"])
def test_a_run_that_cannot_reach_ray_keeps_the_experiment_byte_for_byte(tmp_path, capsys, command):
    """``--overwrite`` deleted the old results before a wrong address stopped the new run;
    a failed resume rewrote the manifest."""
    recipe = quick_recipe(tmp_path)
    assert main(["run", str(recipe)]) == 0
    root = tmp_path / "results"
    if command == "resume":
        interrupt(root / "safe")
    before = tree(root)
    storage = str(root)
    args = {
        "run": ["run", str(recipe), "--overwrite"],
        "resume": ["resume", "safe", "--storage", storage],
    }[command]
    done = subprocess.run(  # `auto` finds the session's Ray, which wants a token it lacks
        ["tunefw", *args, "--address", "auto"],
        env=env_with(REFUSED_FAST),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("error: --address auto: cannot join")
    assert tree(root) == before


@pytest.mark.usefixtures("ray_session")
def test_resuming_a_completed_experiment_without_ray_state_changes_nothing(tmp_path, capsys):
    recipe = quick_recipe(tmp_path)
    assert main(["run", str(recipe)]) == 0
    root = tmp_path / "results"
    for path in sorted((root / "safe" / "ray").rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    before = tree(root)
    assert main(["resume", "safe", "--storage", str(root)]) == 0
    assert tree(root) == before


@pytest.mark.usefixtures("ray_session")
@pytest.mark.parametrize(
    ("resources", "field"),
    [
        ("{cpu: 64}", "resources.cpu: 64 per trial"),
        ("{gpu: 1}", "resources.gpu: 1 per trial"),
        ("{memory: 4096GiB}", "resources.memory: 4.1e+03 GiB per trial"),
        ("{cpu: 1, workers: [{cpu: 1}, {cpu: 1}], placement: STRICT_PACK}", "resources.cpu: 3"),
    ],
)
def test_resources_no_node_has_are_refused_at_once_on_the_embedded_ray(
    tmp_path, capsys, resources, field
):
    recipe = quick_recipe(tmp_path, f"resources: {resources}\n")
    assert main(["run", str(recipe)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {field}"), err
    assert err[0].endswith("which no node of the embedded Ray has")
    assert not (tmp_path / "results" / "safe").exists(), "nothing written"


@pytest.mark.usefixtures("ray_session")
def test_on_a_cluster_missing_resources_are_waited_for_then_refused():
    with pytest.raises(RecipeError, match=r"resources\.gpu: 2 per trial, .* after 1 s"):
        check_capacity(Resources(gpu=2), embedded=False, wait_s=1, poll_s=0.2)
    check_capacity(Resources(cpu=1), embedded=False, wait_s=1)  # fits: returns at once


@pytest.mark.usefixtures("ray_session")
def test_a_run_whose_every_trial_errors_exits_2_with_the_first_error(tmp_path, capsys):
    recipe = function_recipe(
        tmp_path,
        """
        name: doomed
        trainable: {kind: function, function: "toy_trainables:fails_above"}
        objective: {metric: loss, mode: min}
        search: {num_samples: 3, seed: 0, space: {x: {uniform: [0.6, 0.9]}}}
        scheduler: {type: none}
        """,
    )
    assert main(["run", str(recipe)]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(err) == 1
    assert err[0].startswith("error: every trial failed (3); the first: RuntimeError: diverged")
    finals = final_rows(read_results(experiment(tmp_path, "doomed"))).to_pylist()
    assert [r[col.STATUS] for r in finals] == [col.ERRORED] * 3, "the rows stay"


def test_a_store_is_whole_only_with_every_planned_trial_finished(tmp_path):
    location = ExperimentLocation(Storage.open(str(tmp_path)), "exp")
    results = tmp_path / "exp" / "results"
    write_part(results, "part-a.parquet", rows(1))
    assert store_is_whole(location, 1)
    assert not store_is_whole(location, 2), "a planned trial is missing"
    write_part(results, "part-b.parquet", [{**rows(1, offset=1)[0], col.STATUS: col.RUNNING}])
    assert not store_is_whole(location, 2), "one never finished"
