"""Every built-in plugin passes its kind's shared contract (tunefw.testing.contracts)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from pydantic import TypeAdapter
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression, Ridge, SGDClassifier
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier

from tunefw.errors import PluginError
from tunefw.plugin_api import registry
from tunefw.plugin_api.context import TrialContext
from tunefw.plugin_api.protocols import Dataset, SearchSettings, Split
from tunefw.plugin_api.torch_target import TorchTarget
from tunefw.recipe.space import ParamSpec
from tunefw.testing import contracts
from tunefw_plugins.data.table import load_texts
from tunefw_plugins.trainables.torch_models import SmallCNN

from .conftest import DATA, REPO

PARAM = TypeAdapter(ParamSpec)
SPACE = {
    "C": PARAM.validate_python({"loguniform": [0.1, 10]}),
    "depth": PARAM.validate_python({"int": [1, 3]}),
    "kernel": PARAM.validate_python({"choice": ["rbf", "linear"]}),
    "tol": PARAM.validate_python(0.001),
}
IRIS = Dataset(*load_iris(return_X_y=True))

NUMERIC = {
    "lr": PARAM.validate_python({"loguniform": [1e-4, 1e-1]}),
    "x": PARAM.validate_python({"uniform": [0, 1], "step": 0.25}),
    "layers": PARAM.validate_python({"int": [1, 4]}),
    "width": PARAM.validate_python({"logint": [8, 64]}),
    "tol": PARAM.validate_python(0.001),
}
ORDERED = {
    **NUMERIC,
    "batch": PARAM.validate_python({"ordinal": [16, 32, 64, 128]}),
    "alpha": PARAM.validate_python({"choice": [1.0e-3, 1.0e-5, 1.0e-4]}),
}
CONDITIONAL = {
    **SPACE,
    "gamma": PARAM.validate_python({"loguniform": [1e-3, 1], "when": {"kernel": "rbf"}}),
    "degree": PARAM.validate_python({"int": [2, 6], "step": 2, "when": {"kernel": ["poly"]}}),
    "kernel": PARAM.validate_python({"choice": ["rbf", "linear", "poly"]}),
}
SEARCH_EXAMPLES: dict[str, tuple[dict[str, Any], dict[str, ParamSpec]]] = {
    "auto": ({"n_startup_trials": 2}, ORDERED),
    "random": ({}, CONDITIONAL),
    "grid": ({"points": 2}, SPACE),
    "bayesian": ({"n_startup_trials": 2}, CONDITIONAL),
    "cmaes": ({}, NUMERIC),
    "qmc": ({"sequence": "halton"}, SPACE),
    "nsga2": ({"population_size": 4}, CONDITIONAL),
    "hypergradient": ({"outer": "qmc"}, NUMERIC),
    "smac": ({"n_initial": 2}, CONDITIONAL),
}
VALIDATION_EXAMPLES: dict[str, dict[str, Any]] = {
    "holdout": {"fraction": 0.25, "stratify": True},
    "kfold": {"folds": 4},
    "stratified_kfold": {"folds": 3, "seed": 1},
    "group_kfold": {"folds": 3},
    "repeated_kfold": {"folds": 3, "repeats": 2, "stratify": True},
    "timeseries": {"folds": 4, "gap": 2},
    "leave_one_out": {},
    "nested": {"outer_folds": 2, "inner": {"strategy": "kfold", "folds": 3}},
}
SMALL = Dataset(IRIS.X[::10], IRIS.y[::10], groups=np.arange(15) % 5)


def _torch_target() -> TorchTarget:
    return TorchTarget(model=SmallCNN(64, 10))


SKLEARN = (lambda: LogisticRegression(), lambda t: t.get_params())
TORCH = (_torch_target, lambda t: t.snapshot())
REGULARIZER_EXAMPLES: dict[str, tuple[dict[str, Any], Any]] = {
    "l1": ({"range": [1e-3, 1.0]}, SKLEARN),
    "l2": ({"range": [1e-3, 1.0]}, SKLEARN),
    "elastic_net": ({"range": [1e-3, 1.0], "l1_ratio": [0.2, 0.8]}, SKLEARN),
    "dropout": ({"range": [0.1, 0.5]}, TORCH),
    "early_stopping": ({"patience": 2}, TORCH),
}


def _context(config: dict[str, Any], metric: str, data: Dataset = IRIS):
    def make(reporter):
        folds = StratifiedKFold(3, shuffle=True, random_state=0).split(data.X, data.y)
        splits = [Split(train=a, valid=b) for a, b in folds]
        return TrialContext(
            config=config, metric=metric, reporter=reporter, data=data, splits=splits, seed=0
        )

    return make


TOPICS = load_texts(str(REPO / "recipes" / "data" / "topics.csv"), "text", "topic")


TRAINABLE_EXAMPLES: dict[str, tuple[dict[str, Any], Any]] = {
    "torch": (
        {"model": "mlp", "epochs": 3, "batch_size": 32},
        _context({"hidden": 16}, "accuracy"),
    ),
    "sklearn": (
        {"estimator": "sklearn.svm.SVC"},
        _context({"C": 1.0, "kernel": "rbf"}, "accuracy"),
    ),
    "function": (
        {"function": "toy_trainables:quadratic", "metrics": ["loss"]},
        _context({"x": 0.1}, "loss"),
    ),
    "linear": (
        {"task": "classification", "epochs": 3},
        _context({"l2": 0.1}, "accuracy"),
    ),
    "lightning": (  # checkpoints every epoch: the contract resumes it from its first
        {
            "module": "lightning_digits:DigitsClassifier",
            "datamodule": "lightning_digits:DigitsData",
            "max_epochs": 3,
            "checkpoint_every": 1,
        },
        _context({"hidden": 16, "batch_size": 128}, "val_accuracy"),
    ),
    "transformers": (  # a tiny BERT on the topics texts, checkpointed every epoch
        {
            "model_params": {
                "hidden_size": 16,
                "num_hidden_layers": 1,
                "num_attention_heads": 1,
                "intermediate_size": 32,
            },
            "vocab_size": 200,
            "max_length": 12,
            "epochs": 3,
            "checkpoint_every": 1,
        },
        _context({"learning_rate": 1e-3}, "accuracy", TOPICS),
    ),
}


@pytest.mark.parametrize(
    ("kind", "examples"),
    [
        ("search", SEARCH_EXAMPLES),
        ("validation", VALIDATION_EXAMPLES),
        ("regularization", REGULARIZER_EXAMPLES),
        ("trainable", TRAINABLE_EXAMPLES),
    ],
)
def test_every_built_in_has_a_contract_example(kind, examples):
    built_in = {i.name for i in registry.describe() if i.kind == kind and i.package == "tunefw"}
    assert built_in == set(examples)


@pytest.mark.parametrize("name", sorted(SEARCH_EXAMPLES))
def test_search_contract(name, ray_session):
    params, space = SEARCH_EXAMPLES[name]
    configs = contracts.check_search_strategy(registry.load("search", name), params, space)
    assert len({tuple(sorted(c.items())) for c in configs}) > 1, "the configs must differ"


@pytest.mark.parametrize("name", sorted(VALIDATION_EXAMPLES))
def test_validation_contract(name):
    plugin = registry.load("validation", name)
    contracts.check_validation_strategy(plugin, VALIDATION_EXAMPLES[name], SMALL)


@pytest.mark.parametrize("name", sorted(REGULARIZER_EXAMPLES))
def test_regularizer_contract(name):
    params, (make_target, snapshot) = REGULARIZER_EXAMPLES[name]
    unsupported = SVC() if make_target is _torch_target else DecisionTreeClassifier()
    plugin = registry.load("regularization", name)
    contracts.check_regularizer(plugin, params, make_target, unsupported, snapshot)


def test_group_kfold_keeps_groups_apart():
    plugin = registry.load("validation", "group_kfold")
    for split in plugin(plugin.Params(folds=5)).splits(SMALL):
        assert not set(SMALL.groups[split.train]) & set(SMALL.groups[split.valid])


def test_group_kfold_without_groups_is_refused():
    plugin = registry.load("validation", "group_kfold")
    with pytest.raises(PluginError, match="group_kfold needs groups"):
        plugin(plugin.Params()).splits(IRIS)


def test_timeseries_validates_on_later_rows():
    plugin = registry.load("validation", "timeseries")
    for split in plugin(plugin.Params(folds=3, gap=1)).splits(SMALL):
        assert split.train.max() + 1 < split.valid.min()


def test_penalties_reach_sklearn_and_torch():
    l1 = registry.load("regularization", "l1")
    model = l1(l1.Params()).apply(LogisticRegression(), {"l1": 0.5})
    assert (model.C, model.l1_ratio, model.solver) == (2.0, 1.0, "saga")
    net = registry.load("regularization", "elastic_net")
    config = {"elastic_net": 0.1, "elastic_net_l1_ratio": 0.25}
    sgd = net(net.Params()).apply(SGDClassifier(), config)
    assert (sgd.alpha, sgd.l1_ratio, sgd.penalty) == (0.1, 0.25, "elasticnet")
    target = net(net.Params()).apply(_torch_target(), config)
    assert target.l1 == pytest.approx(0.025) and target.weight_decay == pytest.approx(0.075)
    with pytest.raises(PluginError, match="l1 cannot be applied to Ridge"):
        l1(l1.Params()).check(Ridge())


@pytest.mark.parametrize("name", sorted(TRAINABLE_EXAMPLES))
def test_trainable_contract(name, monkeypatch):
    monkeypatch.syspath_prepend(str(DATA))
    monkeypatch.syspath_prepend(str(REPO / "recipes"))  # the lightning recipe's module
    params, make_context = TRAINABLE_EXAMPLES[name]
    reports = contracts.check_trainable(registry.load("trainable", name), params, make_context)
    assert len(reports) == 3  # three folds for sklearn, steps for the function, epochs otherwise


def test_stratified_splits_keep_class_balance():
    plugin = registry.load("validation", "stratified_kfold")
    strategy = plugin(plugin.Params(folds=5))
    for split in strategy.splits(IRIS):
        counts = np.bincount(IRIS.y[split.valid])
        assert counts.max() - counts.min() <= 1


def test_sklearn_reports_a_running_mean_over_folds(monkeypatch):
    params, make_context = TRAINABLE_EXAMPLES["sklearn"]
    reports = contracts.check_trainable(registry.load("trainable", "sklearn"), params, make_context)
    folds = [r["accuracy_fold"] for r in reports]
    assert [r["fold"] for r in reports] == [1, 2, 3]
    for i, report in enumerate(reports, start=1):
        assert report["accuracy"] == pytest.approx(np.mean(folds[:i]))


@pytest.mark.parametrize("name", ["auto", "bayesian", "cmaes", "qmc", "nsga2", "random", "smac"])
def test_a_restored_searcher_goes_on_where_it_stopped(name, tmp_path):
    """What ``tunefw resume`` relies on: Ray saves the searcher with the experiment."""
    params, space = SEARCH_EXAMPLES[name]
    if name == "random":
        space = CONDITIONAL  # sampled through Optuna: a Searcher with state to save
    plugin = registry.load("search", name)
    settings = SearchSettings(num_samples=8, max_concurrent=1, seed=0, metric="m", mode="max")

    def searcher():
        return plugin(plugin.Params.model_validate(params)).plan(space, settings).search_alg

    first = searcher()
    for i in range(4):
        first.suggest(f"t{i}")
        first.on_trial_complete(f"t{i}", {"m": float(i), "training_iteration": 1})
    first.save_to_dir(str(tmp_path), session_str="s")
    again = searcher()
    again.restore_from_dir(str(tmp_path))
    assert [again.suggest(f"u{i}") for i in range(3)] == [first.suggest(f"u{i}") for i in range(3)]
