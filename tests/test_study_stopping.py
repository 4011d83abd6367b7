"""Study-level stop rules (plateau, target, converged) and multi-objective ASHA, on real Ray.

Each rule must fire where it should and not before, leave its reason in the manifest, the
summary and ``--json``, and resume with the evidence it had; MO-ASHA must stop dominated
trials and keep the Pareto front's.
"""

from __future__ import annotations

import json
import signal

import numpy as np
import pytest

from tunefw.cli.main import main
from tunefw.errors import TunefwError
from tunefw.prepare.pareto_asha import promotable
from tunefw.recipe.objective import Objective
from tunefw.recipe.space import LogUniform
from tunefw.recipe.stop_sections import Converged
from tunefw.report.figures import history
from tunefw.report.trials import load_experiment
from tunefw.running.stopping.evidence import Evidence, FinishedTrial, fold_noise, fold_scores
from tunefw.running.stopping.judges import ConvergedJudge
from tunefw.store import columns as col
from tunefw.store.manifest import load_manifest
from tunefw.store.reader import final_rows, read_results

from .faults_helpers import experiment, function_recipe, start_driver, wait_until

pytestmark = pytest.mark.usefixtures("ray_session")

# Improvements at the first three trials, then none: patience 3 fires after the sixth.
PLATEAU_GRID = [0.9, 0.6, 0.3, 0.35, 0.45, 0.5, 0.55, 0.7, 0.8]


def plateau_recipe(tmp_path, trainable="quadratic"):
    return function_recipe(
        tmp_path,
        f"""
        name: plateau
        trainable: {{kind: function, function: "toy_trainables:{trainable}"}}
        objective: {{metric: loss, mode: min}}
        search:
          strategy: grid
          max_concurrent: 1
          space: {{x: {{grid: {PLATEAU_GRID}}}}}
        scheduler: {{type: none}}
        stop: {{plateau: {{patience: 3}}}}
        """,
    )


def finished(tmp_path, name):
    return final_rows(read_results(experiment(tmp_path, name))).to_pylist()


def test_plateau_fires_after_patience_trials_without_improvement(tmp_path, capsys):
    path = plateau_recipe(tmp_path)
    assert main(["run", str(path)]) == 0
    rows = finished(tmp_path, "plateau")
    assert sorted(r["config.x"] for r in rows) == sorted(PLATEAU_GRID[:6]), "not one more"
    stopped = load_manifest(experiment(tmp_path, "plateau"))["stopped_by"]
    sixth = next(r[col.TRIAL_ID] for r in rows if r["config.x"] == PLATEAU_GRID[5])
    assert stopped["rule"] == "plateau" and stopped["trials"] == 6
    assert stopped["trial_id"] == sixth
    assert "over the last 3 finished trials" in stopped["reason"]
    out = capsys.readouterr().out
    assert "stopped by stop.plateau after 6 trials" in out
    assert load_manifest(experiment(tmp_path, "plateau"))["status"] == "completed"
    drawn = history(load_experiment(str(tmp_path / "results"), "plateau"))
    (line,) = drawn.layout.shapes
    assert line.x0 == line.x1 == 6, "the report marks the trial the rule fired after"
    assert [a.text for a in drawn.layout.annotations] == ["stop.plateau"]


def test_a_resumed_study_keeps_the_evidence_its_rule_fired_on(tmp_path):
    """A driver killed after three trials resumes to the verdict an unkilled run reaches: the
    stored trials count towards the patience."""
    path = plateau_recipe(tmp_path, "paced_quadratic")
    driver = start_driver(path)

    def three_finished() -> bool:
        try:
            rows = finished(tmp_path, "plateau")
        except TunefwError:  # not created yet
            return False
        return sum(r[col.STATUS] == col.TERMINATED for r in rows) >= 3

    wait_until(three_finished)
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    assert main(["resume", "plateau", "--storage", str(tmp_path / "results")]) == 0
    rows = finished(tmp_path, "plateau")
    assert sorted(r["config.x"] for r in rows) == sorted(PLATEAU_GRID[:6])
    assert {r[col.STATUS] for r in rows} == {col.TERMINATED}
    stopped = load_manifest(experiment(tmp_path, "plateau"))["stopped_by"]
    assert (stopped["rule"], stopped["trials"]) == ("plateau", 6)
    assert main(["resume", "plateau", "--storage", str(tmp_path / "results")]) == 0
    assert len(finished(tmp_path, "plateau")) == 6, "a stopped study starts nothing more"


def test_target_stops_at_the_first_trial_that_reaches_it(tmp_path, capsys):
    path = function_recipe(
        tmp_path,
        """
        name: target
        trainable: {kind: function, function: "toy_trainables:quadratic"}
        objective: {metric: loss, mode: min}
        search:
          strategy: random
          num_samples: 40
          max_concurrent: 1
          seed: 3
          space: {x: {uniform: [0, 1]}}
        scheduler: {type: none}
        stop: {target: {value: 0.345}}
        """,
    )
    assert main(["run", str(path), "--json"]) == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    stopped = next(e for e in events if e["event"] == "study_stopped")
    assert events[-1]["event"] == "run_finished"
    rows = sorted(finished(tmp_path, "target"), key=lambda r: r[col.TIMESTAMP])
    reached = [r[col.TRIAL_ID] for r in rows if r["metric.loss"] <= 0.345]
    assert len(rows) < 40 and reached[0] == stopped["trial_id"]
    assert rows[-1][col.TRIAL_ID] == stopped["trial_id"], "no trial started after it"
    assert stopped["rule"] == "target" and stopped["estimates"]["value"] <= 0.345


def test_a_running_trial_stops_at_its_next_rung_once_the_study_is_over(tmp_path):
    """Under ASHA, a trial still running when a rule fires trains on only to its next rung
    (3 here), not to max_t (9): stored as stopped early, at that rung."""
    path = function_recipe(
        tmp_path,
        f"""
        name: rung
        trainable: {{kind: function, function: "toy_trainables:finishes_before_the_other"}}
        objective: {{metric: loss, mode: min}}
        search:
          strategy: grid
          max_concurrent: 2
          space: {{x: {{grid: [0, 1]}}, marker: "{tmp_path / "finished"}"}}
        scheduler: {{type: asha, max_t: 9, grace_period: 1, reduction_factor: 3}}
        stop: {{target: {{value: 1.2}}}}
        resources: {{cpu: 0.5}}
        """,
    )
    assert main(["run", str(path)]) == 0
    rows = {r["config.x"]: r for r in finished(tmp_path, "rung")}
    assert rows[0][col.STATUS] == col.TERMINATED and rows[0]["metric.step"] == 9
    assert rows[1][col.STATUS] == col.STOPPED_EARLY and rows[1]["metric.step"] == 3
    stopped = load_manifest(experiment(tmp_path, "rung"))["stopped_by"]
    assert stopped["rule"] == "target" and stopped["trial_id"] == rows[0][col.TRIAL_ID]


def test_converged_fires_once_the_regret_bound_is_below_the_fold_noise(tmp_path, capsys):
    """Logistic regression on iris barely depends on C in this range, and 5 folds of 30
    flowers disagree by several points: the room left is soon below the noise."""
    path = function_recipe(
        tmp_path,
        """
        name: converged
        trainable: {kind: sklearn, estimator: sklearn.linear_model.LogisticRegression}
        data: {loader: "sklearn.datasets:load_iris"}
        objective: {metric: accuracy, mode: max}
        search:
          strategy: random
          num_samples: 30
          max_concurrent: 1
          seed: 0
          space: {C: {loguniform: [1.0, 10.0]}}
        validation: {strategy: stratified_kfold, folds: 5}
        scheduler: {type: none}
        stop: {converged: {min_trials: 6}}
        """,
    )
    assert main(["run", str(path)]) == 0
    rows = finished(tmp_path, "converged")
    stopped = load_manifest(experiment(tmp_path, "converged"))["stopped_by"]
    assert stopped["rule"] == "converged" and 6 <= stopped["trials"] == len(rows) < 30
    estimates = stopped["estimates"]
    assert estimates["noise_from"] == "folds" and estimates["regret_bound"] < estimates["noise"]
    table = read_results(experiment(tmp_path, "converged"))
    best = max(rows, key=lambda r: r["metric.accuracy"])
    folds = [
        r["metric.accuracy_fold"]
        for r in sorted(table.to_pylist(), key=lambda r: r[col.ITERATION])
        if r[col.TRIAL_ID] == best[col.TRIAL_ID]
    ]
    assert estimates["noise"] == pytest.approx(fold_noise(folds)), "the best trial's folds"


def test_fold_scores_come_back_from_running_means():
    scores = [0.9, 0.8, 1.0, 0.7]
    means = [float(np.mean(scores[: k + 1])) for k in range(len(scores))]
    assert fold_scores(means) == pytest.approx(scores)
    assert fold_noise([0.5]) is None


def _evidence(values, objective, noise_scale=0.0):
    evidence = Evidence(objective)
    rng = np.random.default_rng(0)
    for i, c in enumerate(values):
        loss = (np.log10(c) - 0.5) ** 2
        folds = list(loss + noise_scale * rng.standard_normal(5))
        means = [float(np.mean(folds[: k + 1])) for k in range(5)]
        evidence.add(FinishedTrial(f"t{i}", {"C": c}, {"loss": means[-1]}, True, means))
    return evidence


def test_converged_waits_for_min_trials_and_for_the_bound_to_fall_below_the_noise():
    objective = Objective(metric="loss", mode="min")
    space = {"C": LogUniform.model_validate({"loguniform": [1.0, 10.0]})}
    cs = list(np.geomspace(1.0, 10.0, 30))
    noisy = _evidence(cs, objective, noise_scale=0.5)
    judge = ConvergedJudge(Converged(min_trials=10), objective, space, seed=0)
    verdicts = [judge.after(noisy, t) for t in _growing(noisy)]
    fired = [i for i, v in enumerate(verdicts, 1) if v is not None]
    assert fired and fired[0] == 10, "noise this large hides any room left, once trusted"
    exact = _evidence(cs, objective)
    strict = ConvergedJudge(Converged(noise=1e-9, min_trials=10), objective, space, seed=0)
    assert all(strict.after(exact, t) is None for t in _growing(exact)), "a tiny floor never"


def _growing(evidence):
    """Yield each trial with ``evidence`` holding the trials up to it, as the monitor does."""
    trials, evidence.trials = list(evidence.trials), []
    for trial in trials:
        evidence.add(trial)
        yield trial


def test_mo_asha_promotes_by_pareto_rank_then_crowding():
    front = [np.array([0.2, 0.8, 0.0]), np.array([0.8, 0.2, 0.0])]
    assert promotable(front[:1], front[1], 3), "a tie on the front goes on, as in ASHA"
    dominated = np.array([1.5, 1.5, 0.0])
    assert not promotable(front, dominated, 3)
    assert promotable([*front, *[dominated + i for i in range(4)]], np.array([0.5, 0.5, 0.0]), 3)
    infeasible = np.array([0.0, 0.0, 2.0])
    assert not promotable([dominated, dominated + 1, dominated + 2], infeasible, 3), (
        "a trial breaking a constraint ranks after every feasible one"
    )


def test_mo_asha_stops_dominated_trials_and_keeps_the_pareto_front(tmp_path):
    path = function_recipe(
        tmp_path,
        """
        name: moasha
        trainable: {kind: function, function: "toy_trainables:two_costs"}
        objective: {metrics: {a: min, b: min}}
        search:
          strategy: grid
          max_concurrent: 1
          space: {k: {grid: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]}}
        scheduler: {type: asha, max_t: 9, grace_period: 1, reduction_factor: 3}
        """,
    )
    assert main(["run", str(path)]) == 0
    rows = finished(tmp_path, "moasha")
    status = {r["config.k"]: r[col.STATUS] for r in rows}
    assert status[0] == status[1] == col.TERMINATED, "the Pareto front runs to its end"
    stopped = [k for k, s in status.items() if s == col.STOPPED_EARLY]
    assert len(stopped) >= 5 and min(stopped) >= 2, "only dominated trials are stopped"


BAD = [
    ("stop={patience: 3}", "stop.patience: unknown field"),
    ("stop={plateau: {patience: -1}}", "stop.plateau.patience: Input should be greater than 0"),
    ("stop={}", "stop: name at least one rule: converged, plateau, target"),
    ("stop={target: {metric: accuracy, value: 0.9}}", "stop.target.metric: 'accuracy' is not"),
    ("stop={converged: {}}", "stop.converged: the noise floor comes from fold scores"),
    ("stop={converged: {noise: 0}}", "stop.converged: noise must be > 0"),
]


@pytest.mark.parametrize(("override", "message"), BAD)
def test_bad_stop_rules_are_one_line_and_exit_2(tmp_path, capsys, override, message):
    path = plateau_recipe(tmp_path)
    assert main(["validate", str(path), "--set", override]) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert message in lines[0], lines[0]
    assert not (tmp_path / "results").exists()


def test_converged_with_several_objectives_is_refused(tmp_path, capsys):
    path = plateau_recipe(tmp_path)
    args = ["validate", str(path), "--set", "objective={metrics: {loss: min, step: max}}"]
    assert main([*args, "--set", "stop={converged: {noise: 0.1}}"]) == 2
    assert "stop.converged: bounds the regret of one objective" in capsys.readouterr().err
