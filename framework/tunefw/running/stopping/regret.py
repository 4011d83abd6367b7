"""How much better the search could still do: a high-probability bound on the simple regret.

After Makarova et al., "Automatic termination for hyperparameter optimization" (AutoML 2022),
as Optuna's ``RegretBoundEvaluator`` computes it (deprecated in Optuna 4.9 and leaving its
core, hence this copy on scikit-learn's public Gaussian process): a GP is fitted to the top
half of the completed trials (at least ``min_trials`` of them), and the bound is the highest
upper confidence bound over the space less the highest lower confidence bound among those
trials, in the objective's units.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

TOP_TRIALS_RATIO = 0.5
DELTA = 0.1
"""The bound holds with probability at least 1 - DELTA under the GP's assumptions."""
CANDIDATES = 2048
"""Random points over which the upper confidence bound's maximum is sought."""


def beta(dims: int, trials: int) -> float:
    """GP-UCB's confidence width (Srinivas et al. 2010), scaled down by 5 as in the paper's
    experiments and Optuna's implementation."""
    return 2 * math.log(max(dims, 1) * trials**2 * math.pi**2 / 6 / DELTA) / 5


def regret_bound(
    points: np.ndarray, values: np.ndarray, candidates: np.ndarray, min_trials: int
) -> float:
    """The bound for maximising ``values`` observed at ``points`` (rows on the unit cube),
    the upper confidence bound's maximum sought over ``candidates``."""
    # Only a ``converged`` rule gets here: scikit-learn's GP costs every other driver ~1.8 s.
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

    count = len(values)
    top = int(np.clip(int(count * TOP_TRIALS_RATIO), min(min_trials, count), count))
    keep = np.argsort(-values, kind="stable")[:top]
    x, y = points[keep], values[keep]
    mean, scale = float(y.mean()), max(float(y.std()), 1e-10)
    dims = x.shape[1]
    kernel = ConstantKernel(1.0, (1e-3, 1e3)) * Matern(
        length_scale=np.ones(max(dims, 1)), length_scale_bounds=(1e-2, 1e2), nu=2.5
    ) + WhiteKernel(1e-2, (1e-6, 1.0))
    gp = GaussianProcessRegressor(kernel, n_restarts_optimizer=0, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gp.fit(x, (y - mean) / scale)
    gp.kernel_ = gp.kernel_.k1  # the latent function's confidence bounds, without the noise
    width = math.sqrt(beta(dims, top))
    mu, sd = gp.predict(np.vstack([candidates, x]), return_std=True)
    upper = float(np.max(mu + width * sd))
    mu_top, sd_top = gp.predict(x, return_std=True)
    lower = float(np.max(mu_top - width * sd_top))
    return max(upper - lower, 0.0) * scale
