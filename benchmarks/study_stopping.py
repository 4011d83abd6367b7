"""What the stop rules save (issue 17): trials out of a 200-trial budget, and the score lost.

For each problem and seed, ``auto`` runs the whole budget one trial at a time (as
``search_efficiency`` drives it). The rules then read that run's trials in order through
tunefw's own ``StudyMonitor``, exactly as a run feeds it, and the trial they fire at is where
the study would have ended: a rule only stops new trials, so the trials before it are those of
the whole run. Reported per problem and rule: the median trials used, the share of the budget
saved, the median score lost (best at the stop less best at 200, in the problem's units), and
for ``converged`` the median noise floor it measured.

Problems: every ``search_efficiency`` problem (``plateau`` only: their scores are one number
per config, so ``converged`` would need a noise floor given), and a k-fold problem with
``converged`` reading its noise from the folds: an SVC on digits over a 16 x 16 grid of C
and gamma, scored by 5-fold stratified accuracy, each fold's score tabled
(``benchmarks/data/svm-digits-folds.parquet``, built on first use, about 3 minutes).

    python -m benchmarks.study_stopping --quick     # the k-fold problem, 3 seeds, 100 trials
    python -m benchmarks.study_stopping             # every problem, 5 seeds, 200 trials

Goal: ``converged`` with k-fold validation saves >= 40 % of the trials at a median loss
smaller than the fold noise it measured.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from benchmarks.common import emit
from benchmarks.search_efficiency import tunefw_space
from benchmarks.search_problems import PROBLEMS, Levels, Problem
from tunefw.plugin_api import registry
from tunefw.plugin_api.protocols import SearchSettings
from tunefw.recipe.objective import Objective
from tunefw.recipe.stop_sections import StopSection
from tunefw.running.stopping.monitor import StudyMonitor
from tunefw.store import columns as col
from tunefw.store.history import StoredTrial

DATA = Path(__file__).resolve().parent / "data"
FOLDS_TABLE = DATA / "svm-digits-folds.parquet"
FOLDS = 5
C_VALUES = tuple(float(v) for v in np.geomspace(1e-2, 1e3, 16).round(6))
GAMMA_VALUES = tuple(float(v) for v in np.geomspace(1e-5, 1e-1, 16).round(8))
RULES = {
    "plateau 30": {"plateau": {"patience": 30}},
    "converged (folds)": {"converged": {}},
}


def _fold_scores(config: tuple[float, float]) -> list[float]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.svm import SVC

    X, y = load_digits(return_X_y=True)
    cv = StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=0)
    model = SVC(C=config[0], gamma=config[1])
    return [float(s) for s in cross_val_score(model, X, y, cv=cv, scoring="accuracy")]


def build_folds_table() -> None:
    grid = [(c, g) for c in C_VALUES for g in GAMMA_VALUES]
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        scores = pool.map(_fold_scores, grid)
    columns = {"C": [c for c, _ in grid], "gamma": [g for _, g in grid]}
    for k in range(FOLDS):
        columns[f"fold{k}"] = [s[k] for s in scores]
    DATA.mkdir(exist_ok=True)
    pq.write_table(pa.table(columns), FOLDS_TABLE)


def folds_lookup() -> dict[tuple[float, float], list[float]]:
    if not FOLDS_TABLE.exists():
        build_folds_table()
    rows = pq.read_table(FOLDS_TABLE).to_pylist()
    return {(r["C"], r["gamma"]): [r[f"fold{k}"] for k in range(FOLDS)] for r in rows}


def folds_problem() -> Problem:
    """The k-fold problem: error (1 - accuracy) averaged over the folds, as searched."""
    table = folds_lookup()

    def evaluate(config: dict[str, Any]) -> float:
        return 1.0 - float(np.mean(table[(config["C"], config["gamma"])]))

    levels: dict[str, Any] = {"C": Levels(C_VALUES), "gamma": Levels(GAMMA_VALUES)}
    return Problem("svm-digits-5fold", levels, evaluate, real=True)


def run_auto(problem: Problem, seed: int, trials: int) -> list[dict[str, Any]]:
    """``auto``'s configs over the whole budget, in order."""
    plugin = registry.load("search", "auto")
    settings = SearchSettings(
        num_samples=trials, max_concurrent=1, seed=seed, metric="value", mode="min"
    )
    searcher = plugin(plugin.Params()).plan(tunefw_space(problem), settings).search_alg
    configs = []
    for i in range(trials):
        trial_id = f"t{i:05d}"
        config = searcher.suggest(trial_id)
        result = {"value": problem.evaluate(config), "training_iteration": 1}
        searcher.on_trial_complete(trial_id, result)
        configs.append(config)
    return configs


def stored_trials(problem: Problem, configs: list[dict[str, Any]]) -> list[StoredTrial]:
    """The run as the store would hold it: one result per fold (running means of the error)
    for the k-fold problem, else one result."""
    table = folds_lookup() if problem.name == "svm-digits-5fold" else None
    trials = []
    for i, config in enumerate(configs):
        if table is None:
            results = [{"value": problem.evaluate(config)}]
        else:
            errors = [1.0 - s for s in table[(config["C"], config["gamma"])]]
            results = [{"value": float(np.mean(errors[: k + 1]))} for k in range(FOLDS)]
        iterations = list(range(1, len(results) + 1))
        trials.append(
            StoredTrial(f"t{i:05d}", config, results, iterations, col.TERMINATED, ended=float(i))
        )
    return trials


def judge(
    problem: Problem, trials: list[StoredTrial], rule: dict[str, Any], seed: int
) -> dict[str, Any]:
    """Where the rule stops the run, what that costs, and its estimates."""
    monitor = StudyMonitor(
        StopSection.model_validate(rule),
        Objective(metric="value", mode="min"),
        tunefw_space(problem),
        seed,
        set(),
    )
    monitor.replay(trials)
    values = [t.results[-1]["value"] for t in trials]
    used = monitor.verdict.trials if monitor.verdict else len(trials)
    return {
        "used": used,
        "lost": min(values[:used]) - min(values),
        "noise": monitor.verdict.estimates.get("noise") if monitor.verdict else None,
    }


def run_job(job: tuple[str, int, int]) -> tuple[str, int, list[dict[str, Any]]]:
    import optuna
    import torch

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    torch.set_num_threads(1)
    name, seed, trials = job
    problem = folds_problem() if name == "svm-digits-5fold" else PROBLEMS[name]
    configs = run_auto(problem, seed, trials)
    stored = stored_trials(problem, configs)
    rules = RULES if name == "svm-digits-5fold" else {"plateau 30": RULES["plateau 30"]}
    judged = [{"rule": r, **judge(problem, stored, rule, seed)} for r, rule in rules.items()]
    return name, seed, judged


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="the k-fold problem, 3 seeds")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--trials", type=int, default=200)
    args = parser.parse_args()
    folds_lookup()  # built once, before the workers read it
    names = ["svm-digits-5fold"] if args.quick else ["svm-digits-5fold", *PROBLEMS]
    seeds, trials = (3, 100) if args.quick else (args.seeds, args.trials)
    jobs = [(name, seed, trials) for name in names for seed in range(seeds)]
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        done = pool.map(run_job, jobs)
    outcomes: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for name, _, judged in done:
        for outcome in judged:
            outcomes.setdefault((name, outcome["rule"]), []).append(outcome)
    for (name, rule), runs in sorted(outcomes.items()):
        used = statistics.median(r["used"] for r in runs)
        noises = [r["noise"] for r in runs if r["noise"] is not None]
        emit(
            "study_stopping",
            problem=name,
            rule=rule,
            budget=trials,
            seeds=len(runs),
            median_trials_used=used,
            saved_share=1 - used / trials,
            median_lost=statistics.median(r["lost"] for r in runs),
            median_noise=statistics.median(noises) if noises else None,
            fired=sum(r["used"] < trials for r in runs),
        )


if __name__ == "__main__":
    main()
