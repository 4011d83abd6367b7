"""``TunefwSearchCV``: a scikit-learn search estimator that tunes on Ray and stores in Parquet.

In the style of ``RandomizedSearchCV``: ``fit(X, y)`` runs one tunefw experiment (the
``sklearn`` trainable over the estimator, one report per fold, so ASHA can stop a weak
config after its first folds when ``early_stopping`` is on), then refits the best config on
all of ``X``. ``cv_results_`` has the keys and shapes scikit-learn's searches give, so code
written for ``GridSearchCV`` reads it unchanged; ``experiment_`` is the stored experiment.

The estimator reaches the trials pickled in the recipe (so a ``Pipeline`` of any steps
works, with ``step__param`` names in the space) and the data through the object store, as
any recipe's data does. The data lives in this process only: such an experiment is not
resumed from the command line.
"""

from __future__ import annotations

import base64
import pickle
import time
import uuid
from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow.compute as pc
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone, is_classifier
from sklearn.model_selection import GroupKFold, KFold, StratifiedKFold
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from tunefw.errors import RecipeError, SpaceError, TunefwError
from tunefw.experiment import Experiment
from tunefw.recipe.schema import DEFAULT_STORAGE
from tunefw.store import columns as col

_FIT_DATA: dict[str, tuple[Any, ...]] = {}
"""The data of each fit in progress, by key: what ``fit_data`` hands the run on the driver."""


def fit_data(key: str) -> tuple[Any, ...]:
    """The data loader of a ``TunefwSearchCV`` recipe: ``(X, y)`` or ``(X, y, groups)``."""
    if key not in _FIT_DATA:
        raise RecipeError(
            "data: this experiment was run by TunefwSearchCV.fit, whose data lived in that "
            "Python process; fit again rather than resume it"
        )
    return _FIT_DATA[key]


def _space(distributions: Mapping[str, Any]) -> dict[str, Any]:
    """``param_distributions`` as a tunefw space: tunefw's own entries as they are, a list as
    a choice, a scipy.stats uniform, loguniform or randint as its range."""
    space: dict[str, Any] = {}
    for name, value in distributions.items():
        if isinstance(value, Mapping):
            space[name] = dict(value)
        elif isinstance(value, (list, tuple)):
            space[name] = {"choice": list(value)}
        elif hasattr(value, "dist") and hasattr(value, "args"):
            space[name] = _scipy_range(name, value)
        else:
            space[name] = value
    return space


def _scipy_range(name: str, frozen: Any) -> dict[str, Any]:
    kind = frozen.dist.name
    low, high = (float(v) for v in frozen.support())
    if kind == "uniform":
        return {"uniform": [low, high]}
    if kind in ("loguniform", "reciprocal"):
        return {"loguniform": [low, high]}
    if kind == "randint":
        return {"int": [int(low), int(high)]}
    raise SpaceError(
        f"param_distributions.{name}: scipy.stats.{kind} has no tunefw equivalent; use "
        "uniform, loguniform, randint, a list, or a tunefw space entry"
    )


_TERMS = (  # the recipe's field, as TunefwSearchCV's parameter that set it
    ("search.num_samples", "n_trials"),
    ("search.max_concurrent", "n_jobs"),
    ("search.strategy", "strategy"),
    ("search.space.", "param_distributions."),
    ("search.seed", "random_state"),
    ("objective.metric", "scoring"),
    ("validation.", "cv: "),
)


def _in_search_terms(message: str) -> str:
    """A run's one-line error, naming the parameter rather than the recipe field it set."""
    message = message.removeprefix("recipe: ")
    for field, parameter in _TERMS:
        if message.startswith(field):
            return parameter + message[len(field) :]
    return message


def _validation(cv: Any, classifier: bool, groups: Any) -> dict[str, Any]:
    """``cv`` as a validation section: an int as scikit-learn reads it (stratified for a
    classifier, not shuffled), or a KFold, StratifiedKFold or GroupKFold."""
    if isinstance(cv, bool) or not isinstance(cv, (int, KFold, StratifiedKFold, GroupKFold)):
        raise RecipeError(
            "cv: give a number of folds, or a KFold, StratifiedKFold or GroupKFold "
            f"(not {type(cv).__name__})"
        )
    if isinstance(cv, GroupKFold) or (isinstance(cv, int) and groups is not None):
        if groups is None:
            raise RecipeError("cv: GroupKFold needs groups: fit(X, y, groups=...)")
        folds = cv if isinstance(cv, int) else cv.get_n_splits()
        return {"strategy": "group_kfold", "folds": folds}
    if isinstance(cv, int):
        strategy = "stratified_kfold" if classifier else "kfold"
        return {"strategy": strategy, "folds": cv, "shuffle": False}
    strategy = "stratified_kfold" if isinstance(cv, StratifiedKFold) else "kfold"
    seed = cv.random_state if isinstance(cv.random_state, int) else 0
    return {"strategy": strategy, "folds": cv.n_splits, "shuffle": cv.shuffle, "seed": seed}


def _delegated(method: str) -> Any:
    """The search's ``method``, calling the best estimator's: there (scikit-learn's
    ``available_if``) only when the search refits and its estimator has it, so duck-typing
    code sees what the best estimator can do."""

    def call(search: TunefwSearchCV, X: Any) -> Any:
        check_is_fitted(search, "best_estimator_")
        return getattr(search.best_estimator_, method)(X)

    def check(search: TunefwSearchCV) -> bool:
        return search._delegates_to(method)

    call.__name__ = call.__qualname__ = method
    call.__doc__ = f"``best_estimator_.{method}(X)``."
    return available_if(check)(call)


class TunefwSearchCV(MetaEstimatorMixin, BaseEstimator):  # type: ignore[misc]
    """Search ``param_distributions`` for ``estimator`` with tunefw: ``n_trials`` configs by
    ``strategy`` (``"grid"``: every combination once), each scored by ``cv`` folds with
    ``scoring``, then the best refit.

    ``early_stopping`` runs ASHA over the folds (a config below the best third after a fold
    goes no further); ``n_jobs`` is the trials at a time (None or -1: as many as fit);
    ``resources`` is the recipe's per-trial section (``{"cpu": 1}``);
    ``storage`` and ``name`` say where the experiment is stored (a fresh name per fit by
    default); ``address`` runs on a Ray cluster; ``verbose`` shows the live progress.
    """

    def __init__(
        self,
        estimator: Any,
        param_distributions: Mapping[str, Any],
        *,
        n_trials: int = 10,
        strategy: str = "auto",
        cv: Any = 5,
        scoring: str | None = None,
        refit: bool = True,
        early_stopping: bool = False,
        n_jobs: int | None = None,
        resources: Mapping[str, Any] | None = None,
        storage: str = DEFAULT_STORAGE,
        name: str | None = None,
        address: str | None = None,
        random_state: int | None = None,
        verbose: int = 0,
    ) -> None:
        self.estimator = estimator
        self.param_distributions = param_distributions
        self.n_trials = n_trials
        self.strategy = strategy
        self.cv = cv
        self.scoring = scoring
        self.refit = refit
        self.early_stopping = early_stopping
        self.n_jobs = n_jobs
        self.resources = resources
        self.storage = storage
        self.name = name
        self.address = address
        self.random_state = random_state
        self.verbose = verbose

    def _metric(self) -> str:
        if self.scoring is not None:
            return self.scoring
        return "accuracy" if is_classifier(self.estimator) else "r2"

    def _recipe(self, key: str, groups: Any) -> dict[str, Any]:
        pickled = base64.b64encode(pickle.dumps(clone(self.estimator))).decode()
        search: dict[str, Any] = {
            "strategy": self.strategy,
            "space": _space(self.param_distributions),
        }
        if self.strategy != "grid":  # the grid: every combination once
            search["num_samples"] = self.n_trials
        if self.random_state is not None:
            search["seed"] = self.random_state
        if self.n_jobs is not None and self.n_jobs > 0:  # -1, as in scikit-learn: all there are
            search["max_concurrent"] = self.n_jobs
        recipe: dict[str, Any] = {
            "name": self.name or f"searchcv-{type(self.estimator).__name__.lower()}-{key[:8]}",
            "trainable": {"kind": "sklearn", "pickled": pickled},
            "data": {"loader": "tunefw.sklearn:fit_data", "params": {"key": key}},
            "objective": {"metric": self._metric(), "mode": "max"},
            "search": search,
            "validation": _validation(self.cv, is_classifier(self.estimator), groups),
            "scheduler": {"type": "asha" if self.early_stopping else "none"},
            "storage": self.storage,
        }
        if self.resources is not None:
            recipe["resources"] = dict(self.resources)
        return recipe

    def fit(self, X: Any, y: Any = None, groups: Any = None, **fit_params: Any) -> TunefwSearchCV:
        """Run the search (one stored experiment), then refit the best config on all rows.

        ``fit_params`` go to that refit only: the trials' fits take none."""
        from tunefw.api import run

        key = uuid.uuid4().hex
        _FIT_DATA[key] = (X, y) if groups is None else (X, y, groups)
        try:
            self.experiment_ = run(
                self._recipe(key, groups), address=self.address, progress=self.verbose > 0
            )
        except TunefwError as exc:
            raise type(exc)(_in_search_terms(str(exc))) from None
        finally:
            del _FIT_DATA[key]
        self.cv_results_ = cv_results(self.experiment_, self._metric())
        self.n_splits_ = _splits_of(self.cv_results_)
        self.best_index_ = int(np.argmin(self.cv_results_["rank_test_score"]))
        self.best_params_ = self.cv_results_["params"][self.best_index_]
        self.best_score_ = float(self.cv_results_["mean_test_score"][self.best_index_])
        self.scorer_ = self._metric()
        self.multimetric_ = False
        if self.refit:
            self.best_estimator_ = clone(self.estimator).set_params(**self.best_params_)
            started = time.perf_counter()
            self.best_estimator_.fit(X, y, **fit_params)
            self.refit_time_ = time.perf_counter() - started
            if hasattr(self.best_estimator_, "classes_"):
                self.classes_ = self.best_estimator_.classes_
            if hasattr(self.best_estimator_, "n_features_in_"):
                self.n_features_in_ = self.best_estimator_.n_features_in_
        return self

    def _delegates_to(self, method: str) -> bool:
        """Whether ``method`` is there: ``best_estimator_`` refit, and the estimator has it."""
        if not self.refit:
            raise AttributeError(f"refit=False: no best_estimator_ to call {method} on")
        return hasattr(self.estimator, method)

    predict = _delegated("predict")
    predict_proba = _delegated("predict_proba")
    decision_function = _delegated("decision_function")
    transform = _delegated("transform")

    def _score(self, X: Any, y: Any = None) -> float:
        """The best estimator's score with ``scoring`` (its own ``score`` if None)."""
        from sklearn.metrics import get_scorer

        check_is_fitted(self, "best_estimator_")
        if self.scoring is None:
            return float(self.best_estimator_.score(X, y))
        return float(get_scorer(self.scoring)(self.best_estimator_, X, y))

    score = available_if(lambda search: search._delegates_to("score"))(_score)


def cv_results(experiment: Experiment, metric: str) -> dict[str, Any]:
    """A stored experiment of the ``sklearn`` trainable as scikit-learn's ``cv_results_``:
    one entry per trial, in the order trials started; a fold a trial did not reach (stopped
    early, or errored) is NaN, and such a trial ranks after every complete one."""
    table = experiment.results().sort_by([(col.TIMESTAMP, "ascending")])
    trial_ids = list(dict.fromkeys(table.column(col.TRIAL_ID).to_pylist()))
    rows = table.to_pylist()
    by_trial: dict[str, list[dict[str, Any]]] = {t: [] for t in trial_ids}
    for row in rows:
        by_trial[row[col.TRIAL_ID]].append(row)
    folds = int(pc.max(table.column(col.ITERATION)).as_py() or 0)
    names = sorted(
        c.removeprefix(col.CONFIG_PREFIX)
        for c in table.column_names
        if c.startswith(col.CONFIG_PREFIX)
    )
    fold_scores = np.full((len(trial_ids), folds), np.nan)
    fit_times = np.full((len(trial_ids), folds), np.nan)
    params: list[dict[str, Any]] = []
    for i, trial in enumerate(trial_ids):
        trial_rows = sorted(by_trial[trial], key=lambda r: r[col.ITERATION])
        params.append({n: trial_rows[0][col.CONFIG_PREFIX + n] for n in names})
        previous = 0.0
        for row in trial_rows:
            fold = row[col.ITERATION]
            score = row.get(f"{col.METRIC_PREFIX}{metric}_fold")
            fold_scores[i, fold - 1] = np.nan if score is None else score
            total = (row.get(col.METRIC_PREFIX + "fit_time") or 0.0) * fold
            fit_times[i, fold - 1], previous = total - previous, total
    complete = ~np.isnan(fold_scores).any(axis=1)
    with np.errstate(invalid="ignore"):
        means = np.nanmean(fold_scores, axis=1) if folds else np.full(len(trial_ids), np.nan)
        stds = np.nanstd(fold_scores, axis=1) if folds else np.full(len(trial_ids), np.nan)
    results: dict[str, Any] = {
        "mean_fit_time": np.nanmean(fit_times, axis=1),
        "std_fit_time": np.nanstd(fit_times, axis=1),
        "mean_score_time": np.full(len(trial_ids), np.nan),
        "std_score_time": np.full(len(trial_ids), np.nan),
    }
    for n in names:
        results[f"param_{n}"] = np.ma.MaskedArray([p[n] for p in params], dtype=object)
    results["params"] = params
    for k in range(folds):
        results[f"split{k}_test_score"] = fold_scores[:, k]
    results["mean_test_score"] = means
    results["std_test_score"] = stds
    results["rank_test_score"] = _ranks(means, complete)
    return results


def _ranks(means: np.ndarray, complete: np.ndarray) -> np.ndarray:
    """1 for the best mean, ties sharing the lowest rank (as scikit-learn ranks); a trial
    with a fold missing, or no score, after every complete one."""
    key = np.where(complete & ~np.isnan(means), -means, np.inf)
    order = np.sort(key)
    return np.searchsorted(order, key, side="left").astype(np.int32) + 1


def _splits_of(results: Mapping[str, Any]) -> int:
    return sum(1 for k in results if k.startswith("split") and k.endswith("_test_score"))
