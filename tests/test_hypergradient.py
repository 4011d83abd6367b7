"""Hypergradients by implicit differentiation, against a closed form and finite differences."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import yaml
from scipy.optimize import minimize_scalar
from sklearn.datasets import load_iris
from torch.func import functional_call

from tunefw.cli.main import main
from tunefw.plugin_api import registry
from tunefw.plugin_api.context import TrialContext
from tunefw.plugin_api.protocols import Dataset, Split
from tunefw.recipe.space import LogUniform
from tunefw.store import columns as col
from tunefw.store.layout import Storage, find_experiment
from tunefw.store.reader import final_rows, read_results
from tunefw_plugins.search.hypergradient.bilevel import (
    LearningRateDescent,
    OuterSettings,
    Scale,
    run_bilevel,
)
from tunefw_plugins.search.hypergradient.implicit import InverseHvp, hvp, hypergradient
from tunefw_plugins.trainables.linear import LinearTrainable

from .conftest import DATA, REPO

F64 = torch.float64


def ridge_data(seed: int = 0, n: int = 40, d: int = 5):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g, dtype=torch.float64)
    w_true = torch.randn(d, generator=g, dtype=torch.float64)
    y = X @ w_true + 0.5 * torch.randn(n, generator=g, dtype=torch.float64)
    Xv = torch.randn(n, d, generator=g, dtype=torch.float64)
    yv = Xv @ w_true + 0.5 * torch.randn(n, generator=g, dtype=torch.float64)
    return X, y, Xv, yv


def ridge_losses(X, y, Xv, yv):
    def train(w, h):
        return 0.5 * ((X @ w["w"] - y) ** 2).sum() + 0.5 * (h["log_l2"].exp() * w["w"] ** 2).sum()

    def val(w, h):
        return 0.5 * ((Xv @ w["w"] - yv) ** 2).sum()

    return train, val


def ridge_solution(X, y, lam):
    return torch.linalg.solve(X.T @ X + torch.diag(lam), X.T @ y)


@pytest.mark.parametrize("per_feature", [False, True])
def test_matches_ridge_closed_form(per_feature):
    X, y, Xv, yv = ridge_data()
    d = X.shape[1]
    log_l2 = (
        torch.linspace(-1.0, 2.0, d, dtype=F64) if per_feature else torch.tensor(0.7, dtype=F64)
    )
    lam = log_l2.exp() * torch.ones(d, dtype=F64)
    w = ridge_solution(X, y, lam)
    # dw*/dθ_j = -(XᵀX + Λ)⁻¹ (λ_j w_j e_j); dL_v/dθ = r_vᵀ X_v dw*/dθ
    A = X.T @ X + torch.diag(lam)
    gv = Xv.T @ (Xv @ w - yv)
    exact = -(torch.linalg.solve(A, gv)) * lam * w
    exact = exact if per_feature else exact.sum()
    train, val = ridge_losses(X, y, Xv, yv)
    found = hypergradient(train, val, {"w": w}, {"log_l2": log_l2}, InverseHvp("cg", steps=50))
    assert torch.allclose(found.value["log_l2"], exact, rtol=1e-6, atol=0)
    assert found.method == "cg"


@pytest.mark.slow
def test_neumann_converges_and_falls_back_to_cg_when_it_diverges():
    X, y, Xv, yv = ridge_data()
    log_l2 = torch.tensor(0.7, dtype=F64)
    w = ridge_solution(X, y, log_l2.exp() * torch.ones(X.shape[1], dtype=F64))
    train, val = ridge_losses(X, y, Xv, yv)
    exact = hypergradient(train, val, {"w": w}, {"log_l2": log_l2}, InverseHvp("cg", steps=50))
    largest = float(torch.linalg.eigvalsh(X.T @ X).max()) + math.exp(0.7)
    good = InverseHvp("neumann", steps=3000, alpha=1.0 / largest)
    approx = hypergradient(train, val, {"w": w}, {"log_l2": log_l2}, good)
    assert approx.method == "neumann"
    assert torch.allclose(approx.value["log_l2"], exact.value["log_l2"], rtol=1e-4)
    bad = InverseHvp("neumann", steps=200, alpha=10.0 / largest)
    fallback = hypergradient(train, val, {"w": w}, {"log_l2": log_l2}, bad)
    assert fallback.method == "cg (neumann diverged)"
    assert torch.isfinite(fallback.value["log_l2"]).all()
    assert torch.allclose(fallback.value["log_l2"], exact.value["log_l2"], rtol=1e-6)


def test_matches_finite_differences_on_a_small_mlp():
    g = torch.Generator().manual_seed(1)
    X = torch.randn(60, 4, generator=g, dtype=F64)
    y = torch.sin(X.sum(1, keepdim=True))
    Xv = torch.randn(60, 4, generator=g, dtype=F64)
    yv = torch.sin(Xv.sum(1, keepdim=True))
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)
    ).double()

    def train(w, h):
        fit = ((functional_call(net, w, (X,)) - y) ** 2).mean()
        return fit + sum(h[f"l2.{k}"].exp() * (t**2).sum() for k, t in w.items() if "weight" in k)

    def val(w, h):
        return ((functional_call(net, w, (Xv,)) - yv) ** 2).mean()

    def fit(h):
        w = {k: t.detach().clone() for k, t in net.named_parameters()}
        leaves = {k: t.requires_grad_(True) for k, t in w.items()}
        opt = torch.optim.LBFGS(
            list(leaves.values()),
            max_iter=500,
            tolerance_grad=1e-12,
            tolerance_change=1e-14,
            line_search_fn="strong_wolfe",
        )

        def closure():
            opt.zero_grad()
            loss = train(leaves, h)
            loss.backward()
            return loss

        for _ in range(5):
            opt.step(closure)
        return {k: t.detach() for k, t in leaves.items()}

    h = {"l2.0.weight": torch.tensor(-3.0, dtype=F64), "l2.2.weight": torch.tensor(-2.0, dtype=F64)}
    w = fit(h)
    found = hypergradient(train, val, w, h, InverseHvp("cg", steps=200, damping=0.0))
    for name in h:
        eps = 1e-4
        up = {**h, name: h[name] + eps}
        down = {**h, name: h[name] - eps}
        numeric = (val(fit(up), up) - val(fit(down), down)) / (2 * eps)
        assert float(found.value[name]) == pytest.approx(float(numeric), rel=1e-3, abs=1e-7)


def regression_problem():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(240, 20))
    y = X @ (rng.normal(size=20) * 0.5) + rng.normal(scale=2.0, size=240)
    return Dataset(X, y), Split(np.arange(40), np.arange(40, 240))


def linear_context(data, split, config, reports, restored=None):
    return TrialContext(
        config=config,
        metric="loss",
        reporter=lambda metrics, state: reports.append((metrics, state)),
        data=data,
        splits=(split,),
        seed=0,
        restored=restored,
    )


L2_SPACE = LogUniform.model_validate({"loguniform": [1e-4, 1e2]})


def follow(trainable, data, split, start, settings, restored=None):
    reports = []
    ctx = linear_context(data, split, {"l2": start}, reports, restored)
    run_bilevel(
        trainable.bilevel(ctx, ["l2"]),
        {"l2": start},
        {"l2": Scale(L2_SPACE)},
        settings,
        ctx.report,
        restored,
    )
    return reports


@pytest.mark.slow
def test_hypergradient_descent_lands_on_the_grid_optimum_from_either_side():
    data, split = regression_problem()
    trainable = LinearTrainable(LinearTrainable.Params(task="regression"))

    def loss(log_l2: float) -> float:
        reports: list = []
        trainable.run(linear_context(data, split, {"l2": math.exp(log_l2)}, reports))
        return float(reports[-1][0]["loss"])

    grid = np.log(np.geomspace(1e-4, 1e2, 25))
    i = int(np.argmin([loss(x) for x in grid]))
    bracket = (grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)])
    best = minimize_scalar(loss, bounds=bracket, method="bounded", options={"xatol": 0.01}).x
    assert math.log(1e-3) < best < math.log(10), "an interior optimum, away from the starts"
    settings = OuterSettings(steps=100, lr=0.5, decay=0.95, inner_steps=2)
    for start in (1e-3, 10.0):  # from below and from above the optimum, e^-0.8
        last = follow(trainable, data, split, start, settings)[-1][0]
        assert abs(math.log(last["tuned.l2"]) - best) < 0.05, (start, last["tuned.l2"])


def test_a_restored_trial_continues_the_same_path():
    data, split = regression_problem()
    trainable = LinearTrainable(LinearTrainable.Params(task="regression"))
    settings = OuterSettings(steps=8, lr=0.5, decay=0.95, inner_steps=2)
    whole = follow(trainable, data, split, 1e-2, settings)
    resumed = follow(trainable, data, split, 1e-2, settings, restored=whole[3][1])
    assert [m["outer_step"] for m, _ in resumed] == [5, 6, 7, 8]
    for (a, _), (b, _) in zip(whole[4:], resumed, strict=True):
        assert a["tuned.l2"] == pytest.approx(b["tuned.l2"], rel=1e-9)
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-9)


RIDGE = "sklearn, estimator: sklearn.linear_model.Ridge"
HYPERGRAD_RECIPE = """
name: hg
trainable: {{kind: linear, task: regression}}
data:
  loader: sklearn.datasets:make_regression
  params: {{n_samples: 120, n_features: 10, noise: 10.0, random_state: 0}}
objective: {{metric: loss, mode: min}}
search:
  strategy: hypergradient
  params: {params}
  num_samples: 2
  seed: 0
  space: {space}
validation: {{strategy: holdout, fraction: 0.5}}
scheduler: {{type: none}}
storage: {storage}
"""


def hypergrad_recipe(tmp_path, params="{steps: 4}", space="{l2: {loguniform: [1.0e-3, 10.0]}}"):
    path = tmp_path / "hg.yaml"
    path.write_text(HYPERGRAD_RECIPE.format(params=params, space=space, storage=tmp_path / "r"))
    return path


def test_best_gives_the_tuned_value_not_the_start(tmp_path, ray_session, capsys):
    path = hypergrad_recipe(tmp_path)
    assert main(["run", str(path)]) == 0
    export = tmp_path / "best.yaml"
    assert main(["best", "hg", "--storage", str(tmp_path / "r"), "--export", str(export)]) == 0
    table = read_results(find_experiment(Storage.open(str(tmp_path / "r")), "hg"))
    rows = final_rows(table).to_pylist()
    best = min(rows, key=lambda r: r["metric.loss"])
    assert best["metric.tuned.l2"] != best["config.l2"], "the gradient moved it"
    pinned = yaml.safe_load(export.read_text())["search"]["space"]["l2"]
    assert pinned == pytest.approx(best["metric.tuned.l2"])
    assert [r[col.ITERATION] for r in rows] == [4, 4], "one report per outer step"


@pytest.mark.parametrize(
    ("params", "space", "kind", "message"),
    [
        ("{}", "{l2: 0.1, epochs: {int: [5, 10]}}", "linear",
         "search.space: hypergradient found no continuous parameter"),
        ("{gradient: [epochs]}", "{l2: 0.1, epochs: {int: [5, 10]}}", "linear",
         "search.params.gradient: epochs is int, not a continuous range"),
        ("{gradient: [lr]}", "{lr: {loguniform: [0.1, 1.0]}}", "linear",
         "search.params.gradient: the trainable's loss is not differentiable in 'lr'"),
        ("{outer: hypergradient}", "{l2: {loguniform: [0.1, 1.0]}}", "linear",
         "search.params.outer: hypergradient cannot be its own outer search"),
        ("{}", "{alpha: {loguniform: [0.1, 1.0]}}", RIDGE,
         "search.strategy: hypergradient needs a trainable whose loss it can differentiate"),
    ],
)  # fmt: skip
def test_what_cannot_follow_the_gradient_is_refused(tmp_path, capsys, params, space, kind, message):
    path = hypergrad_recipe(tmp_path, params, space)
    path.write_text(path.read_text().replace("kind: linear, task: regression", f"kind: {kind}"))
    if kind != "linear":
        path.write_text(
            path.read_text().replace("metric: loss", "metric: r2").replace("min", "max")
        )
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err


def test_torch_regularizers_are_found_differentiable_by_what_they_set():
    regularizers = []
    for name, params in [("l2", {}), ("dropout", {}), ("elastic_net", {}), ("early_stopping", {})]:
        plugin = registry.load("regularization", name)
        regularizers.append(plugin(plugin.Params.model_validate(params)))
    trainable = registry.load("trainable", "torch")
    found = trainable(trainable.Params()).differentiable(regularizers)
    assert set(found) == {"l2", "dropout", "lr"}, "elastic_net sets two knobs: not followed"


def test_hypergradient_descent_raises_a_learning_rate_too_small_for_the_slope():
    w = {"w": torch.tensor([5.0], dtype=F64, requires_grad=True)}
    optimizer = torch.optim.SGD(list(w.values()), lr=1e-3)
    scale = Scale(LogUniform.model_validate({"loguniform": [1e-4, 1.0]}))
    log_lr = torch.tensor(math.log(1e-3), dtype=F64)
    descent = LearningRateDescent(log_lr, scale, optimizer)
    for _ in range(20):
        descent.before(w)
        optimizer.zero_grad()
        (0.5 * w["w"] ** 2).sum().backward()
        optimizer.step()
        descent.after(w)
    assert optimizer.param_groups[0]["lr"] > 1.3e-3, "successive steps agree: the rate grows"


def test_weight_decay_per_tensor_has_one_coefficient_per_parameter_tensor():
    data = Dataset(*load_iris(return_X_y=True))
    rows = np.arange(len(data))
    regularizer = registry.load("regularization", "l2")
    ctx = TrialContext(
        config={"l2": 0.01},
        metric="loss",
        reporter=lambda metrics, state: None,
        data=data,
        splits=(Split(rows[::2], rows[1::2]),),
        regularizers=(regularizer(regularizer.Params()),),
        regularizer_keys=frozenset({"l2"}),
        seed=0,
    )
    trainable = registry.load("trainable", "torch")
    shapes = {}
    for per in ("global", "layer", "tensor"):
        problem = trainable(trainable.Params(l2_per=per, model_params={"layers": 2})).bilevel(
            ctx, ["l2"]
        )
        shapes[per] = problem.shapes["l2"]
    assert shapes == {"global": (), "layer": (3,), "tensor": (6,)}  # 3 weights, 3 biases


def test_torch_mlp_weight_decay_dropout_and_lr_follow_the_gradient(tmp_path, ray_session):
    path = tmp_path / "mlp.yaml"
    text = (REPO / "recipes" / "digits_mlp_hypergrad.yaml").read_text()
    path.write_text(text + f"storage: {tmp_path / 'r'}\n")
    args = [
        "run",
        str(path),
        "--set",
        "search.params.steps=3",
        "--set",
        "search.num_samples=2",
        "--set",
        "search.params.inner_steps=3",
    ]
    assert main(args) == 0
    rows = final_rows(
        read_results(find_experiment(Storage.open(str(tmp_path / "r")), "digits-mlp-hypergrad"))
    ).to_pylist()
    for row in rows:
        assert row[col.ITERATION] == 3
        tuned = [k for k in row if k.startswith("metric.tuned.") and row[k] is not None]
        assert {"metric.tuned.dropout", "metric.tuned.lr", "metric.tuned.l2.0"} <= set(tuned)
        assert row["metric.tuned.dropout"] != row["config.dropout"]


def test_a_model_torch_cannot_differentiate_twice_is_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.syspath_prepend(str(DATA))
    path = tmp_path / "mlp.yaml"
    text = (REPO / "recipes" / "digits_mlp_hypergrad.yaml").read_text()
    text = text.replace("model: mlp", "model: toy_trainables:once_differentiable_mlp")
    path.write_text(text.replace("    hidden: {choice: [32, 64]}\n", ""))
    assert main(["validate", str(path), "--load-data"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "trainable.model: torch cannot differentiate" in err[0], err
    assert "once_differentiable_mlp twice" in err[0]


def test_hessian_vector_products_fall_back_to_double_backward_without_forward_mode():
    class Cube(torch.autograd.Function):  # a backward of torch ops, but no forward-mode rule
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x**3

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad * 3 * x**2

    w = {"w": torch.tensor([1.0, 2.0], dtype=F64)}
    v = {"w": torch.tensor([1.0, -1.0], dtype=F64)}
    hv = hvp(lambda p: Cube.apply(p["w"]).sum(), w, v)
    assert torch.allclose(hv["w"], 6 * w["w"] * v["w"])  # the Hessian of sum(w³) is diag(6w)
