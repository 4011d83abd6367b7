"""Hypergradients by implicit differentiation, against a closed form and finite differences."""

from __future__ import annotations

import math

import pytest
import torch
from torch.func import functional_call

from tunefw_plugins.search.hypergradient.implicit import InverseHvp, hypergradient

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
