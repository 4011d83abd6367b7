"""The Python API: ``tunefw.run`` and friends, on the session's Ray, against ``tunefw run``."""

from __future__ import annotations

import textwrap

import nbformat
import pyarrow.compute as pc
import pytest
import ray
import yaml
from nbclient import NotebookClient

import tunefw
from tunefw.cli.main import main
from tunefw.errors import RecipeError, StoreError
from tunefw.recipe.loading import load_recipe
from tunefw.store import columns as col

from .conftest import REPO

pytestmark = pytest.mark.usefixtures("ray_session")

QUICK = {"search.num_samples": 4, "search.max_concurrent": 1}
"""The quickstart, small and one trial at a time: the same seed stores the same results."""


def _stored(experiment: tunefw.Experiment) -> list[tuple]:
    """What a run decides (configs, scores, ASHA's stops), not when it ran."""
    table = experiment.results(columns=["trial_id", "iteration", "C", "gamma", "accuracy"])
    rows = table.sort_by([(col.TRIAL_ID, "ascending"), (col.ITERATION, "ascending")])
    # a trial id is the run's random prefix, then the trial's number
    return [(r.pop(col.TRIAL_ID).rsplit("_", 1)[1], *r.values()) for r in rows.to_pylist()]


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory: pytest.TempPathFactory) -> tunefw.Experiment:
    storage = tmp_path_factory.mktemp("api")
    return tunefw.run(
        REPO / "recipes/quickstart.yaml", set=QUICK, storage=str(storage), progress=False
    )


@pytest.mark.slow
def test_run_stores_what_the_cli_stores_with_the_same_seed(quickstart, tmp_path, capsys):
    args = ["run", str(REPO / "recipes/quickstart.yaml"), "--storage", str(tmp_path), "-q"]
    args += [arg for key, value in QUICK.items() for arg in ("--set", f"{key}={value}")]
    assert main(args) == 0, capsys.readouterr().err
    by_cli = tunefw.load_experiment("quickstart", str(tmp_path))
    assert len(_stored(quickstart)) >= 4
    assert _stored(quickstart) == _stored(by_cli)


def test_the_experiment_reads_back_best_results_pareto_and_status(quickstart, tmp_path):
    assert quickstart.status == "completed"
    best = quickstart.best()
    finished = quickstart.results(where=f"status == {col.TERMINATED}")
    assert best.score == pc.max(finished.column("metric.accuracy")).as_py()
    assert set(best.config) == {"C", "gamma", "kernel"}
    assert best.trial_id in quickstart.results().column(col.TRIAL_ID).to_pylist()
    assert [row[col.TRIAL_ID] for row in quickstart.pareto()] == [best.trial_id]
    frame = quickstart.to_pandas(columns=["trial_id", "accuracy"])
    assert list(frame.columns) == [col.TRIAL_ID, "metric.accuracy"]
    assert len(frame) == quickstart.results().num_rows
    listed = tunefw.experiments(str(quickstart.location.storage.display))
    assert [e.name for e in listed] == ["quickstart"]


def test_export_recipe_reruns_the_best_config(quickstart, tmp_path):
    path = quickstart.export_recipe(tmp_path / "best.yaml")
    rerun = yaml.safe_load(path.read_text())
    assert rerun["search"]["space"] == quickstart.best().config
    assert load_recipe(path).search.num_samples == 1
    with pytest.raises(StoreError, match=r"^export_recipe: cannot write .*nowhere"):
        quickstart.export_recipe(tmp_path / "nowhere" / "best.yaml")


def test_report_writes_one_page(quickstart, tmp_path):
    page = quickstart.report(tmp_path / "r.html")
    assert page.read_text().lstrip().startswith("<!DOCTYPE html>")


@pytest.mark.slow
def test_a_recipe_from_a_mapping_or_a_model_runs_like_its_file(quickstart, tmp_path):
    data = yaml.safe_load((REPO / "recipes/quickstart.yaml").read_text())
    as_written = yaml.safe_load((REPO / "recipes/quickstart.yaml").read_text())
    model = tunefw.validate(data, set=QUICK)
    assert data == as_written, "the caller's mapping is left as it was"
    assert isinstance(model, tunefw.Recipe) and model.search.num_samples == 4
    from_model = tunefw.run(model, storage=str(tmp_path / "model"), progress=False)
    from_mapping = tunefw.run(
        data, set=QUICK, name="from-mapping", storage=str(tmp_path / "map"), progress=False
    )
    assert from_mapping.name == "from-mapping"
    assert _stored(from_model) == _stored(from_mapping) == _stored(quickstart)


def test_resume_continues_and_a_finished_run_has_nothing_left(quickstart):
    storage = str(quickstart.location.storage.display)
    before = quickstart.results().num_rows
    resumed = tunefw.resume("quickstart", storage=storage, progress=False)
    assert resumed.status == "completed"
    assert resumed.results().num_rows == before


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda p: tunefw.run(p, set={"search.num_samples": 0}), r"search\.num_samples"),
        (lambda p: tunefw.run(p, set={"search.space.C": {"choice": []}}), r"search\.space\.C"),
        (lambda p: tunefw.run(p, name=" "), r"^name: must not be empty$"),
        (lambda p: tunefw.run(42), r"^recipe: a path, a mapping or a tunefw.Recipe, not int$"),
        (lambda p: tunefw.run(p.parent / "missing.yaml"), r"missing\.yaml: file not found$"),
        (lambda p: tunefw.resume("never-ran", storage=str(p.parent)), r"never-ran"),
        (lambda p: tunefw.run(p, resume=True, overwrite=True), r"--resume and --overwrite"),
    ],
    ids=[
        "bad-field",
        "bad-space",
        "blank-name",
        "not-a-recipe",
        "missing-file",
        "no-experiment",
        "resume-and-overwrite",
    ],
)
def test_bad_input_raises_one_line_and_writes_nothing(call, message, tmp_path):
    path = tmp_path / "recipe.yaml"
    recipe = yaml.safe_load((REPO / "recipes/quickstart.yaml").read_text())
    path.write_text(yaml.safe_dump(recipe | {"storage": str(tmp_path / "results")}))
    before = sorted(tmp_path.rglob("*"))
    with pytest.raises(tunefw.TunefwError, match=message) as raised:
        call(path)
    assert "\n" not in str(raised.value)
    assert sorted(tmp_path.rglob("*")) == before
    assert isinstance(raised.value, RecipeError | StoreError)


@pytest.mark.slow
def test_a_notebook_runs_the_quickstart_and_shows_the_live_view(tmp_path):
    """A real kernel: what a user's notebook does, on the test session's Ray."""
    address = ray.get_runtime_context().gcs_address
    code = textwrap.dedent(
        f"""
        import tunefw
        exp = tunefw.run(
            {str(REPO / "recipes/quickstart.yaml")!r},
            set={{"search.num_samples": 2}},
            storage={str(tmp_path)!r},
            address={address!r},
        )
        print("status", exp.status, "best", round(exp.best().score, 4))
        """
    )
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    NotebookClient(notebook, timeout=240, kernel_name="python3").execute(cwd=str(REPO))
    outputs = notebook.cells[0].outputs
    printed = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "status completed best" in printed, outputs
    shown = [o for o in outputs if o.output_type in ("display_data", "update_display_data")]
    assert any("text/html" in o.data for o in shown), "rich renders the live view as HTML"
    assert tunefw.load_experiment("quickstart", str(tmp_path)).status == "completed"
