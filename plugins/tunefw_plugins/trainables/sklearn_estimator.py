"""``sklearn``: any scikit-learn estimator by import path, scored by a scikit-learn scorer.

Each split from the validation strategy is one report: the metric is the running mean over
the folds so far (so ASHA can stop after the first folds), with the fold's own score beside it.
Its iterations are folds (``ReportsOncePerSplit``), so a scheduler's ``max_t`` is the number
of splits: left out, it is set to it.
"""

from __future__ import annotations

import base64
import inspect
import pickle
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator
from scipy.sparse import issparse
from sklearn.base import clone
from sklearn.metrics import get_scorer, get_scorer_names
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from tunefw.errors import RecipeError
from tunefw.plugin_api.capabilities import ReportsOncePerSplit
from tunefw.plugin_api.context import TrialContext
from tunefw.plugin_api.imports import import_callable
from tunefw.plugin_api.protocols import Regularizer
from tunefw.plugin_api.user_code import call_user
from tunefw.recipe.objective import check_reported
from tunefw.recipe.space import ParamSpec

FIT_TIME = "fit_time"
"""Mean seconds to fit one fold so far: a metric for multi-objective searches."""


class SklearnTrainable(ReportsOncePerSplit):
    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")

        estimator: str | None = Field(None, description="Import path, e.g. sklearn.svm.SVC.")
        params: dict[str, Any] = Field(
            default_factory=dict, description="Fixed constructor arguments."
        )
        pickled: str | None = Field(
            None,
            description="Instead of `estimator`: an estimator object itself, pickled and "
            "base64-encoded (how tunefw.sklearn.TunefwSearchCV passes a Pipeline).",
        )
        standardize: bool = Field(
            False, description="Scale features to zero mean and unit variance (fit per split)."
        )

        @model_validator(mode="after")
        def _one_estimator(self) -> SklearnTrainable.Params:
            if (self.estimator is None) == (self.pickled is None):
                raise ValueError("give one of estimator (an import path) or pickled")
            if self.pickled is not None and self.params:
                raise ValueError("params: a pickled estimator carries its own parameters")
            return self

    def __init__(self, params: Params) -> None:
        self.params = params

    def _estimator(self) -> Any:
        """The estimator, constructed: user code, so a failure is one line naming it."""
        if self.params.pickled is not None:
            return _unpickled(self.params.pickled)
        path = self.params.estimator
        assert path is not None
        cls = import_callable(path, "trainable.estimator")
        if not (hasattr(cls, "fit") and hasattr(cls, "get_params")):
            raise RecipeError(f"trainable.estimator: {path!r} is not a scikit-learn estimator")
        try:
            inspect.signature(cls).bind(**self.params.params)
        except TypeError as exc:
            raise RecipeError(f"trainable.params: {path} {exc}") from None
        except ValueError:  # no signature to check against (a C type): the call will tell
            pass
        return call_user("trainable.estimator", path, cls, **self.params.params)

    def check(
        self,
        space: Mapping[str, ParamSpec],
        metrics: Mapping[str, str],
        regularizers: Sequence[Regularizer],
    ) -> None:
        examples = "accuracy, balanced_accuracy, f1_macro, roc_auc, r2, neg_mean_squared_error"
        check_reported(
            metrics,
            lambda m: m == FIT_TIME or m in get_scorer_names(),
            "the sklearn trainable",
            f"{FIT_TIME} and scikit-learn scorer names, e.g. {examples}",
        )
        estimator = self._estimator()
        shown = self.params.estimator or type(estimator).__name__
        own = set(call_user("trainable.estimator", shown, estimator.get_params))
        reg_keys = {k for r in regularizers for k in r.hyperparameters()}
        name = type(estimator).__name__
        for key in space:
            if key not in reg_keys and key not in own:
                raise RecipeError(f"search.space.{key}: {name} has no parameter {key!r}")
        for i, regularizer in enumerate(regularizers):
            regularizer.check(estimator)
            before = estimator.get_params(deep=False)
            sample = {k: s.grid_values(2)[0] for k, s in regularizer.hyperparameters().items()}
            after = regularizer.apply(clone(estimator), sample).get_params(deep=False)
            for param in sorted(k for k in after if not _same(after[k], before[k])):
                if param in space:
                    raise RecipeError(
                        f"regularization[{i}]: sets {name}'s {param!r}, "
                        f"which search.space.{param} also sets"
                    )

    def run(self, ctx: TrialContext) -> None:
        if ctx.data is None:
            raise RecipeError("data: the sklearn trainable needs a data section with a loader")
        base = self._estimator()
        hyper = ctx.hyperparameters
        if "random_state" in base.get_params() and "random_state" not in hyper:
            hyper["random_state"] = ctx.seed
        scorers = {m: get_scorer(m) for m in ctx.metrics or (ctx.metric,) if m != FIT_TIME}
        X, y = ctx.data.X, ctx.data.y
        scores: dict[str, list[float]] = {name: [] for name in scorers}
        fit_times: list[float] = []
        for fold, split in enumerate(ctx.splits, start=1):
            model = ctx.regularize(clone(base).set_params(**hyper))
            if self.params.standardize:
                model = make_pipeline(StandardScaler(with_mean=not issparse(X)), model)
            started = time.perf_counter()
            model.fit(_rows(X, split.train), _rows(y, split.train))
            fit_times.append(time.perf_counter() - started)
            report: dict[str, float] = {"fold": fold, FIT_TIME: float(np.mean(fit_times))}
            for name, scorer in scorers.items():
                scores[name].append(
                    float(scorer(model, _rows(X, split.valid), _rows(y, split.valid)))
                )
                report[name] = float(np.mean(scores[name]))
                report[f"{name}_fold"] = scores[name][-1]
                report[f"{name}_std"] = float(np.std(scores[name]))
            ctx.report(report)


def _unpickled(text: str) -> Any:
    """The estimator ``pickled`` holds; one line naming the field if it is not one."""
    try:
        estimator = pickle.loads(base64.b64decode(text, validate=True))
    except Exception as exc:  # bad base64, a truncated pickle, a class that is gone ...
        raise RecipeError(
            f"trainable.pickled: not a pickled estimator ({type(exc).__name__}: {exc})"
        ) from None
    if not (hasattr(estimator, "fit") and hasattr(estimator, "get_params")):
        raise RecipeError(
            f"trainable.pickled: a {type(estimator).__name__}, not a scikit-learn estimator"
        )
    return estimator


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except (TypeError, ValueError):  # arrays and other values without a single truth value
        return a is b


def _rows(a: Any, idx: np.ndarray) -> Any:
    """Rows ``idx`` of an array or a DataFrame."""
    return a.iloc[idx] if hasattr(a, "iloc") else a[idx]
