"""Search strategies, schedulers, conditional spaces and multi-objective runs, end to end on
the session's real Ray: recipe in, Parquet out, read back by the CLI."""

from __future__ import annotations

import json
import textwrap

import pytest

from tunefw.cli.main import main
from tunefw.store import columns as col
from tunefw.store.reader import final_rows, read_results

from .faults_helpers import experiment, function_recipe

pytestmark = pytest.mark.usefixtures("ray_session")

SVC_CONDITIONAL = """
    name: {name}
    trainable: {{kind: sklearn, estimator: sklearn.svm.SVC}}
    data: {{loader: "sklearn.datasets:load_iris"}}
    objective: {objective}
    search:
      strategy: {strategy}
      params: {params}
      num_samples: 6
      max_concurrent: 2
      seed: 3
      space:
        kernel: {{choice: [rbf, linear]}}
        C: {{loguniform: [0.1, 10]}}
        gamma: {{loguniform: [1.0e-3, 1.0], when: {{kernel: rbf}}}}
        tol: {{uniform: [0.001, 0.01], step: 0.001}}
    validation: {{strategy: kfold, folds: 2}}
    scheduler: {scheduler}
"""


def svc_recipe(tmp_path, name, strategy="bayesian", params="{}", objective=None, scheduler=None):
    return function_recipe(
        tmp_path,
        SVC_CONDITIONAL.format(
            name=name,
            strategy=strategy,
            params=params,
            objective=objective or "{metric: accuracy, mode: max}",
            scheduler=scheduler or "{type: asha, max_t: 2, grace_period: 1}",
        ),
    )


def results_json(tmp_path, name, capsys) -> list[dict]:
    """``tunefw results NAME --format json``, parsed."""
    capsys.readouterr()
    storage = str(tmp_path / "results")
    assert main(["results", name, "--storage", storage, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def finals(tmp_path, name):
    return final_rows(read_results(experiment(tmp_path, name))).to_pylist()


def sized_recipe(tmp_path, name, objective, scheduler):
    return function_recipe(
        tmp_path,
        f"""
        name: {name}
        trainable: {{kind: function, function: "toy_trainables:sized_quadratic"}}
        objective: {objective}
        search:
          num_samples: 8
          max_concurrent: 2
          seed: 0
          space: {{x: {{uniform: [0, 1]}}, width: {{choice: [64, 8, 16, 32]}}}}
        scheduler: {scheduler}
        """,
    )


def test_auto_is_the_default_with_asha_constraints_and_trials_in_flight(
    tmp_path, capsys, monkeypatch
):
    objective = '{metric: loss, mode: min, constraints: ["size <= 32"]}'
    path = sized_recipe(tmp_path, "auto", objective, "{type: asha, max_t: 3, grace_period: 1}")
    assert main(["validate", str(path)]) == 0
    assert "auto search (8 trials)" in capsys.readouterr().out
    assert main(["run", str(path)]) == 0, capsys.readouterr().err
    rows = results_json(tmp_path, "auto", capsys)
    assert sorted(r[col.SUGGESTED_BY] for r in rows) == ["gp"] * 4 + ["sobol"] * 4
    assert {type(r["config.width"]) for r in rows} == {int}
    assert {r["config.width"] for r in rows} <= {8, 16, 32, 64}
    assert all(r["feasible"] == (r["config.width"] <= 32) for r in rows)
    monkeypatch.setenv("COLUMNS", "200")  # the table's width: every header whole
    assert main(["results", "auto", "--storage", str(tmp_path / "results")]) == 0
    assert "suggested_by" in capsys.readouterr().out


def test_auto_with_several_objectives(tmp_path, capsys):
    objective = "{metrics: {loss: min, size: min}}"
    path = sized_recipe(tmp_path, "auto-mo", objective, "{type: none}")
    assert main(["run", str(path)]) == 0, capsys.readouterr().err
    rows = results_json(tmp_path, "auto-mo", capsys)
    assert sorted(r[col.SUGGESTED_BY] for r in rows) == ["gp"] * 4 + ["sobol"] * 4
    assert any(r["pareto"] for r in rows)


def test_bayesian_search_honours_a_conditional_space(tmp_path):
    path = svc_recipe(tmp_path, "tpe", params="{n_startup_trials: 3}")
    assert main(["run", str(path)]) == 0
    rows = finals(tmp_path, "tpe")
    assert len(rows) == 6
    for row in rows:
        assert (row["config.gamma"] is not None) == (row["config.kernel"] == "rbf"), row
        tol = row["config.tol"]
        assert 0.001 <= tol <= 0.01 and round(tol * 1000, 6) == round(tol * 1000)
    assert {row["config.kernel"] for row in rows} == {"rbf", "linear"}


def test_multi_objective_results_and_best_show_the_pareto_front(tmp_path, capsys):
    path = svc_recipe(
        tmp_path,
        "pareto",
        strategy="nsga2",
        params="{population_size: 4}",
        objective="{metrics: {accuracy: max, fit_time: min}}",
        scheduler="{type: none}",
    )
    assert main(["run", str(path)]) == 0
    rows = results_json(tmp_path, "pareto", capsys)
    front = [r for r in rows if r["pareto"]]
    assert front and rows[: len(front)] == front, "the front comes first"
    for a in front:  # nobody dominates a member of the front
        for b in rows:
            better = b["metric.accuracy"] >= a["metric.accuracy"] and (
                b["metric.fit_time"] <= a["metric.fit_time"]
            )
            strictly = b["metric.accuracy"] > a["metric.accuracy"] or (
                b["metric.fit_time"] < a["metric.fit_time"]
            )
            assert not (better and strictly), (a, b)
    assert main(["best", "pareto", "--storage", str(tmp_path / "results")]) == 0
    out = capsys.readouterr().out
    assert f"Pareto front: {len(front)} trials" in out
    assert all(r[col.TRIAL_ID] in out for r in front)


def test_constraints_mark_trials_infeasible(tmp_path, capsys):
    path = svc_recipe(
        tmp_path,
        "constrained",
        params="{n_startup_trials: 2}",
        objective="{metric: accuracy, mode: max, constraints: ['accuracy >= 0.95']}",
    )
    assert main(["run", str(path)]) == 0
    rows = results_json(tmp_path, "constrained", capsys)
    accuracies = sorted(r["metric.accuracy"] for r in rows)
    assert {r["feasible"] for r in rows} == {True, False}, f"both sides tried: {accuracies}"
    assert all(r["feasible"] == (r["metric.accuracy"] >= 0.95) for r in rows)


@pytest.mark.parametrize(
    ("strategy", "scheduler"),
    [
        ("random", "{type: hyperband, max_t: 9, reduction_factor: 3}"),
        ("bayesian", "{type: bohb, max_t: 9, reduction_factor: 3}"),
        ("random", "{type: pbt, perturbation_interval: 3}"),
        ("random", "{type: median, grace_period: 2, min_samples_required: 2}"),
    ],
)
def test_schedulers_run_resumable_trials(tmp_path, strategy, scheduler):
    kind = scheduler.split(",")[0].removeprefix("{type: ")
    path = function_recipe(
        tmp_path,
        f"""
        name: sched-{kind}
        trainable: {{kind: function, function: "toy_trainables:resumable_curve"}}
        objective: {{metric: score, mode: max}}
        search:
          strategy: {strategy}
          num_samples: 9
          seed: 0
          space: {{x: {{uniform: [0.0, 1.0]}}}}
        resources: {{cpu: 0.5}}
        scheduler: {scheduler}
        """,
    )
    assert main(["run", str(path)]) == 0
    rows = finals(tmp_path, f"sched-{kind}")
    assert len(rows) == 9
    assert all(r[col.STATUS] in (col.TERMINATED, col.STOPPED_EARLY) for r in rows)
    assert max(r[col.ITERATION] for r in rows) == 9, "the best trials ran to the end"
    assert all(0.0 <= r["config.x"] <= 1.0 for r in rows), "PBT's perturbations stay in range"
    if kind != "pbt":
        assert any(r[col.STATUS] == col.STOPPED_EARLY for r in rows), "weak trials were cut"
    every = read_results(experiment(tmp_path, f"sched-{kind}")).to_pylist()
    by_trial: dict[str, list[dict]] = {}
    for row in sorted(every, key=lambda r: r[col.ITERATION]):
        by_trial.setdefault(row[col.TRIAL_ID], []).append(row)
    for trial_rows in by_trial.values():
        iterations = [r[col.ITERATION] for r in trial_rows]
        assert iterations == list(range(1, len(iterations) + 1)), "each step stored once"
    if kind in ("hyperband", "bohb", "pbt"):
        assert any(r["metric.resumed"] for r in every), "a paused trial went on from its state"
    if kind == "pbt":
        explored = [t for t in by_trial.values() if len({r["config.x"] for r in t}) > 1]
        assert explored, "PBT perturbed some trial's x"


BAD = [
    (
        ["search.strategy=cmaes"],
        "search.space.kernel: cmaes samples numbers, not categories",
    ),
    (
        ["search.space.gamma={loguniform: [0.001, 1], when: {kernel_type: rbf}}"],
        "search.space.gamma.when.kernel_type: the space has no parameter 'kernel_type'",
    ),
    (
        [
            "search.space.C={loguniform: [0.1, 10], when: {gamma: 0.5}}",
            "search.space.gamma={uniform: [0, 1], when: {C: 1.0}}",
        ],
        "conditions form a cycle",
    ),
    (
        ["search.space.gamma={loguniform: [0.001, 1], when: {kernel: poly}}"],
        "search.space.gamma.when.kernel: kernel never takes ['poly']",
    ),
    (
        ["search.strategy=qmc"],
        "search.space.gamma.when: qmc cannot take conditional parameters",
    ),
    (
        ["search.space.kernel={grid: [rbf, linear]}"],
        "search.space.kernel: grid visits every value, which bayesian search does not do",
    ),
    (
        [
            "objective={metrics: {accuracy: max, fit_time: min}}",
            "scheduler={type: none}",
            "search.strategy=cmaes",
            "search.space={C: {loguniform: [0.1, 10]}}",
        ],
        "search.strategy: cmaes optimises a single objective",
    ),
    (
        ["objective={metrics: {accuracy: max, fit_time: min}}", "scheduler={type: median}"],
        "scheduler.type: median stops or pauses trials by one metric",
    ),
    (
        ["objective={metric: accuracy, mode: max, constraints: ['memory <= 3']}"],
        "objective.constraints[0]: the sklearn trainable never reports 'memory'",
    ),
    (
        ["objective={metric: accuracy, mode: max, constraints: ['accuracy < 3']}"],
        "objective.constraints[0]",
    ),
    (
        ["search.strategy=random", "search.space.gamma=0.1", "scheduler={type: bohb}"],
        "scheduler.type: bohb fills HyperBand's brackets from a model-based searcher",
    ),
    (
        ["scheduler={type: pbt}"],
        "scheduler.type: pbt explores by mutating running trials itself",
    ),
    (
        ["search.strategy=random", "scheduler={type: hyperband}"],
        "scheduler.type: hyperband pauses trials and resumes them from checkpoints",
    ),
    (
        ["scheduler={type: median, reduction_factor: 2}"],
        "scheduler.reduction_factor: unknown field",
    ),
    (
        ["search.space.tol={uniform: [0.001, 0.01], step: 0.004}"],
        "search.space.tol.uniform: high - low",
    ),
    (["search.space.tol={ordinal: [0.001]}"], "search.space.tol.ordinal: List should have at"),
    (
        ["search.space.tol={ordinal: [0.001, fast]}"],
        "search.space.tol.ordinal: ordered values must be all numbers or all strings",
    ),
    (
        ["search.space.C={loguniform: [0.1, 10], prior: 20}"],
        "search.space.C.loguniform: prior 20 is outside the parameter (loguniform [0.1, 10.0])",
    ),
    (
        ["search.space.kernel={choice: [rbf, linear], prior: poly}"],
        "search.space.kernel.choice: prior 'poly' is outside the parameter (values",
    ),
    (["search.strategy=auto", "search.params={gp: 3}"], "search.params.gp: unknown field"),
]


@pytest.mark.parametrize(("overrides", "message"), BAD)
def test_bad_search_input_is_one_line_and_exit_2(tmp_path, capsys, overrides, message):
    path = svc_recipe(tmp_path, "bad")
    args = ["validate", str(path)]
    for override in overrides:
        args += ["--set", override]
    assert main(args) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert message in lines[0], lines[0]


STAGED_BASE = """
name: staged
trainable: {{kind: function, function: "toy_trainables:quadratic"}}
objective: {{metric: loss, mode: min}}
search: {{strategy: random, num_samples: {samples}, seed: 1, space: {{x: {{uniform: [0, 1]}}}}}}
scheduler: {{type: none}}
"""
"""The staged tests' recipe before its stages."""


def test_stages_run_coarse_to_fine_as_one_family(tmp_path, capsys):
    path = function_recipe(
        tmp_path,
        STAGED_BASE.format(samples=5)
        + textwrap.dedent(
            """
        stages:
          - name: coarse
          - name: fine
            top_k: 2
            search: {strategy: bayesian, num_samples: 4, params: {n_startup_trials: 2}}
          - name: other-model
            trainable: {kind: function, function: "toy_trainables:returns_metrics"}
            objective: {metric: score, mode: max}
            search: {strategy: qmc, num_samples: 3, space: {a: {uniform: [0, 1]}, b: 1.0}}
        """
        ),
    )
    assert main(["run", str(path)]) == 2, "a stage may not change the objective"
    assert "stages[2].objective: unknown field" in capsys.readouterr().err
    lines = [line for line in path.read_text().splitlines() if "metric: score" not in line]
    path.write_text("\n".join(lines).replace("returns_metrics", "quadratic_of_a") + "\n")
    assert main(["run", str(path)]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "stage fine (staged.fine): 4 trials" in out and "warm-started from staged.coarse" in out
    assert "stage other-model (staged): 3 trials" in out
    coarse = sorted(finals(tmp_path, "staged.coarse"), key=lambda r: r["metric.loss"])
    fine = {r["config.x"] for r in finals(tmp_path, "staged.fine")}
    assert {r["config.x"] for r in coarse[:2]} <= fine, "fine starts from coarse's best two"
    rows = results_json(tmp_path, "staged", capsys)
    assert sorted(r["stage"] for r in rows) == ["coarse"] * 5 + ["fine"] * 4 + ["other-model"] * 3


def test_a_staged_run_resumes_its_last_stage_as_it_ran(tmp_path, capsys):
    """The last stage ran warm-started from the one before it; ``--resume`` continues it
    under that recipe, warm start included, and does not take it for a changed one."""
    path = function_recipe(
        tmp_path,
        STAGED_BASE.format(samples=3) + "stages: [{name: coarse}, {name: fine, top_k: 2}]\n",
    )
    assert main(["run", str(path)]) == 0, capsys.readouterr().err
    stored = finals(tmp_path, "staged")
    capsys.readouterr()
    assert main(["run", str(path), "--resume"]) == 0, capsys.readouterr().err
    assert finals(tmp_path, "staged") == stored, "every trial of the last stage was stored"


@pytest.mark.parametrize(
    ("strategy", "params", "trials"),
    [
        ("random", "{}", 4),
        ("grid", "{points: 2}", 4),  # points apply to the int range too
        ("bayesian", "{n_startup_trials: 2}", 4),
        ("cmaes", "{}", 4),
        ("qmc", "{}", 4),
        ("nsga2", "{population_size: 2}", 4),
        ("auto", "{n_startup_trials: 2}", 4),
        ("smac", "{n_initial: 2}", 4),
    ],
)
def test_every_strategy_runs_through_tunefw(tmp_path, strategy, params, trials):
    path = function_recipe(
        tmp_path,
        f"""
        name: {strategy}
        trainable: {{kind: function, function: "toy_trainables:returns_metrics"}}
        objective: {{metric: score, mode: max}}
        search:
          strategy: {strategy}
          params: {params}
          num_samples: {1 if strategy == "grid" else trials}
          max_concurrent: 2
          seed: 0
          space: {{a: {{uniform: [0, 1]}}, b: {{int: [1, 3]}}}}
        scheduler: {{type: none}}
        """,
    )
    assert main(["run", str(path)]) == 0
    rows = finals(tmp_path, strategy)
    assert len(rows) == trials
    assert all(r["metric.score"] == r["config.a"] * 10 + r["config.b"] for r in rows)
