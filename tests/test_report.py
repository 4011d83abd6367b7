"""``tunefw report`` on real experiments, the page opened in a real headless Chromium."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import sync_playwright

from tunefw.cli.main import main
from tunefw.report import Skipped
from tunefw.report.importance import param_importances
from tunefw.report.payoff import payoff, payoff_point
from tunefw.report.trials import load_experiment
from tunefw.store import columns as col
from tunefw.store.layout import Storage, find_experiment
from tunefw.store.reader import final_rows, read_results

from .report_helpers import ASHA, FLAKY, PARETO

pytestmark = pytest.mark.usefixtures("ray_session")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ALL_PLOTS = {"history", "parallel", "importance", "curves", "slices", "pareto", "compute"}


@pytest.fixture
def storage(stored_experiments: Path) -> Path:
    """The experiments the report and export tests read (run once per session)."""
    return stored_experiments


def report(storage: Path, name: str, out: Path) -> Path:
    assert main(["report", name, "--storage", str(storage), "--out", str(out)]) == 0
    return out


def open_in_chromium(page_file: Path) -> dict[str, Any]:
    """Open the page in headless Chromium; what it logged, fetched and drew."""
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: apt-get install -y chromium"
    errors: list[str] = []
    fetched: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("request", lambda request: fetched.append(request.url))
            page.goto(page_file.as_uri(), wait_until="load")
            page.wait_for_function(
                "[...document.querySelectorAll('.plotly-graph-div')]"
                ".every(d => d._fullLayout && d.querySelector('.main-svg'))"
            )
            plots = page.evaluate(
                """[...document.querySelectorAll('.js-plotly-plot')].map(d => ({
                    id: d.id,
                    traces: d._fullData.length,
                    visible: d._fullData.filter(t => t.visible === true).length,
                    parcoords: d._fullData.filter(t => t.type === 'parcoords')
                        .map(t => t.dimensions.length).reduce((a, b) => a + b, 0),
                    axes: d.querySelectorAll('.parcoords .y-axis').length,
                    groups: d.querySelectorAll('.scatterlayer .trace, .barlayer .trace').length,
                    marks: d.querySelectorAll(
                        '.scatterlayer .point, .scatterlayer .js-line, .barlayer .point'
                    ).length,
                }))"""
            )
            notes = page.eval_on_selector_all("p.note", "ps => ps.map(p => p.textContent)")
            rows = page.eval_on_selector_all("#top tbody tr", "rows => rows.length")
        finally:
            browser.close()
    return {"errors": errors, "fetched": fetched, "plots": plots, "notes": notes, "rows": rows}


def drawn_plots(seen: dict[str, Any]) -> set[str]:
    """The plots that rendered with traces; fails on any that did not."""
    assert seen["errors"] == []
    assert {url.split(":")[0] for url in seen["fetched"]} == {"file"}, "no network"
    for plot in seen["plots"]:
        assert plot["traces"] > 0 and plot["visible"] == plot["traces"], plot
        if plot["parcoords"]:
            assert plot["axes"] == plot["parcoords"], plot
        else:
            assert plot["groups"] == plot["traces"] and plot["marks"] > 0, plot
    return {p["id"].removeprefix("plot-") for p in seen["plots"]}


@pytest.mark.browser
def test_asha_report_draws_every_single_objective_plot(storage, tmp_path):
    page_file = report(storage, ASHA, tmp_path / "asha.html")
    text = page_file.read_text()
    assert text.count("* plotly.js v") == 1, "plotly.js inlined once"
    assert "<script src=" not in text
    seen = open_in_chromium(page_file)
    assert drawn_plots(seen) == ALL_PLOTS - {"pareto"}
    assert seen["notes"] == ["Left out: the recipe has one objective: there is no Pareto front."]
    assert seen["rows"] == 8
    curves = next(p for p in seen["plots"] if p["id"] == "plot-curves")
    assert curves["traces"] >= 3, "completed and stopped-early lines, and the stopping marks"


@pytest.mark.browser
def test_pareto_report_has_the_front(storage, tmp_path):
    seen = open_in_chromium(report(storage, PARETO, tmp_path / "pareto.html"))
    assert drawn_plots(seen) == ALL_PLOTS
    assert seen["notes"] == []


@pytest.mark.browser
def test_plots_that_do_not_apply_are_left_out_with_a_note(storage, tmp_path):
    """One parameter: no importance; one objective: no front. Errored trials, a constraint."""
    seen = open_in_chromium(report(storage, FLAKY, tmp_path / "flaky.html"))
    assert drawn_plots(seen) == ALL_PLOTS - {"importance", "pareto"}
    assert seen["notes"] == [
        "Left out: importance ranks two or more parameters that every scored trial has and "
        "that take several values; this experiment has: x.",
        "Left out: the recipe has one objective: there is no Pareto front.",
    ]


def test_stopping_marks_sit_at_the_last_iteration_of_trials_stopped_early(storage):
    experiment = load_experiment(str(storage), ASHA)
    finals = final_rows(read_results(find_experiment(Storage.open(str(storage)), ASHA)))
    stopped = {r[col.TRIAL_ID]: r for r in finals.to_pylist() if r[col.STATUS] == col.STOPPED_EARLY}
    assert stopped, "ASHA stopped some of the 8 trials"
    for trial in experiment.trials:
        if trial.trial_id in stopped:
            row = stopped[trial.trial_id]
            assert max(trial.curve) == trial.iteration == row[col.ITERATION] < 5
            assert trial.curve[trial.iteration] == row["metric.accuracy"] == trial.score


def test_importance_ranks_every_varying_parameter(storage):
    asha = param_importances(load_experiment(str(storage), ASHA))
    assert isinstance(asha, dict) and set(asha) == {"C", "gamma"}
    assert sum(asha.values()) == pytest.approx(1.0)
    assert list(asha.values()) == sorted(asha.values(), reverse=True)
    experiment = load_experiment(str(storage), PARETO)
    pareto = param_importances(experiment)
    assert isinstance(pareto, dict)
    assert set(pareto) == {"n_estimators", "max_depth", "max_features"}
    finished = [t for t in experiment.trials if t.status == col.TERMINATED]
    few = param_importances(replace(experiment, trials=finished[:4]))
    assert few == Skipped("4 scored trials: too few to fit (it needs 5)")
    flaky = param_importances(load_experiment(str(storage), FLAKY))
    assert isinstance(flaky, Skipped) and flaky.reason.endswith("this experiment has: x")


def test_payoff_point_is_where_the_rest_gains_under_one_percent():
    assert payoff_point([None, 0.5, 0.5, 0.9, 0.9, 0.903, 0.9031]) == 3
    assert payoff_point([None, 0.5, 0.8, 0.9]) == 3
    assert payoff_point([2.0, 2.0, 2.0]) == 0, "no improvement: the first trial"
    assert payoff_point([None, None]) is None
    assert payoff_point([10.0, 4.0, 1.0, 0.99]) == 2, "minimising"


def test_payoff_counts_every_trials_compute(storage):
    spent = payoff(load_experiment(str(storage), FLAKY))
    finals = final_rows(read_results(find_experiment(Storage.open(str(storage)), FLAKY)))
    assert spent.resource == "CPU"
    assert spent.spent[-1] == pytest.approx(sum(finals[col.CPU_SECONDS].to_pylist()))
    assert spent.point is not None


def test_default_out_is_named_after_the_experiment(storage, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["report", FLAKY, "--storage", str(storage)]) == 0
    assert (tmp_path / f"{FLAKY}-report.html").stat().st_size > 1_000_000


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["report", "nope"], "error: no experiment 'nope' in "),
        (["report", FLAKY, "--out", "/nonexistent/dir/r.html"], "error: --out: cannot write "),
    ],
)
def test_bad_input_is_one_line_and_exit_2(storage, capsys, args, message):
    assert main([*args, "--storage", str(storage)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(message) and "\n" not in err
