"""Everything tunefw takes from Ray's and Optuna's private APIs, in one place.

Each use is a ``Private`` entry: the library, where the name lives, and what tunefw does
with it. Code reaches a private name only through these entries, so one that an upgrade
removes fails with one line naming it, the installed version and the versions tunefw was
tested with, instead of an ``AttributeError`` deep inside a run. tests/test_compat.py
resolves every entry against the installed libraries, and checks the shapes tunefw reads,
so an upgrade that changes one fails there first. pyproject.toml bounds ``ray`` and
``optuna`` to the minor versions tested.

Nothing here imports Ray or Optuna at import time: ``tunefw.cluster.ray_node`` must set an
environment variable before Ray is first imported.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any

from tunefw.errors import TunefwError

TESTED = {"ray": "2.60", "optuna": "5.0"}
"""The minor versions of Ray and Optuna every entry below was tested with."""


@dataclass(frozen=True)
class Private:
    """One private name tunefw uses: ``module``'s ``path`` (dotted attributes from it)."""

    library: str
    module: str
    path: str
    why: str

    def get(self) -> Any:
        """The object, or one line saying it is gone from the installed library."""
        try:
            found: Any = importlib.import_module(self.module)
            for part in self.path.split(".") if self.path else ():
                found = getattr(found, part)
        except (ImportError, AttributeError):
            raise TunefwError(self.gone()) from None
        return found

    def gone(self) -> str:
        installed = version(self.library)
        return (
            f"{self.library} {installed} has no {self.module}.{self.path} ({self.why}); "
            f"tunefw is tested with {self.library} {TESTED[self.library]}.x"
        )


@dataclass(frozen=True)
class PrivateAttribute:
    """A private attribute of instances of a library's class, which tunefw reads or sets."""

    library: str
    cls: str
    """``module:Class``."""
    name: str
    why: str

    def check(self, instance: object) -> None:
        """One line if ``instance`` lacks the attribute: the guard a subclass calls once, at
        construction, before it uses its parent's private attributes."""
        self.of(instance)

    def of(self, instance: object) -> Any:
        """The attribute of ``instance``, or one line saying the library no longer has it."""
        try:
            return getattr(instance, self.name)
        except AttributeError:
            raise TunefwError(
                f"{self.library} {version(self.library)}: {self.cls} has no attribute "
                f"{self.name} ({self.why}); tunefw is tested with {self.library} "
                f"{TESTED[self.library]}.x"
            ) from None


# Ray

RAY_CLUSTER_SWITCH = Private(
    "ray",
    "ray._private.ray_constants",
    "ENABLE_RAY_CLUSTER",
    "read at import; set off so this process resolves 127.0.0.1 to itself",
)
RAY_LOCALHOST_RESOLVER = Private(
    "ray",
    "ray._private.services",
    "resolve_ip_for_localhost",
    "`ray start` turns a loopback node address into the network one; wrapped to keep it",
)
RAY_TRAINABLE_IPYTHON_RESET = Private(
    "ray",
    "ray.tune.trainable.trainable",
    "disable_ipython",
    "every trial actor calls it, importing IPython to clear a shell no worker has",
)
RAY_TUNE_CALLBACK_TAG = Private(
    "ray",
    "ray.air._internal.usage",
    "tag_callbacks",
    "every Tuner.fit given callbacks calls it, importing Ray's MLflow, W&B, Comet and Aim "
    "integrations (mlflow and wandb with them) to count which callbacks are theirs",
)
RAY_NO_PRESTART_ENV = {"RAY_prestart_worker_first_driver": "0"}
"""Ray's system setting (``ray_config_def.h``) that starts a worker per CPU when the first
driver connects, off for the embedded Ray: those workers carry no runtime environment, and
Ray Tune gives every trial actor one (``PL_DISABLE_FORK``), so none of them ever hosts a
trial; on two cores they spent ~1.6 CPU-seconds against the driver's start. A setting Ray
drops is ignored, not an error: tests/test_compat.py checks that none is started."""
RAY_AUTH_LOGGER = "ray._private.authentication.authentication_token_setup"
"""The logger that announces token auth at ``ray.init``: quietened, as it is the intent."""
ASHA_BRACKETS = PrivateAttribute(
    "ray",
    "ray.tune.schedulers:AsyncHyperBandScheduler",
    "_brackets",
    "lean mode reads the rungs' milestones",
)
ASHA_TRIAL_BRACKET = PrivateAttribute(
    "ray",
    "ray.tune.schedulers:AsyncHyperBandScheduler",
    "_trial_info",
    "MO-ASHA records each trial at its bracket's rungs",
)
ASHA_METRIC = PrivateAttribute(
    "ray",
    "ray.tune.schedulers:AsyncHyperBandScheduler",
    "_metric",
    "a resumed run replays the stored results by the metric Ray Tune gave it",
)
ASHA_LIMITS = [
    PrivateAttribute(
        "ray", "ray.tune.schedulers:AsyncHyperBandScheduler", name, "MO-ASHA stops as ASHA does"
    )
    for name in ("_max_t", "_stop_last_trials", "_num_stopped")
]
HYPERBAND_BRACKETS = PrivateAttribute(
    "ray",
    "ray.tune.schedulers:HyperBandScheduler",
    "_hyperbands",
    "a bracket left with paused trials and nothing running is halved again",
)
HYPERBAND_HALVE = PrivateAttribute(
    "ray",
    "ray.tune.schedulers:HyperBandScheduler",
    "_process_bracket",
    "halves such a bracket, or ends it at max_t, as Ray's BOHB already does",
)
BRACKET_RUNGS = PrivateAttribute(
    "ray",
    "ray.tune.schedulers.async_hyperband:_Bracket",
    "_rungs",
    "each rung's milestone and the results recorded there",
)

# Optuna

OPTUNA_CONSTRAINTS_KEY = Private(
    "optuna",
    "optuna.samplers._base",
    "_CONSTRAINTS_KEY",
    "the trial system attribute Optuna's samplers read each trial's constraint values from",
)
OPTUNA_GP_ACQF = Private(
    "optuna", "optuna._gp.acqf", "", "piBO weights the GP's acquisition by the prior"
)
OPTUNA_GP_OPTIMIZE_ACQF = Private(
    "optuna",
    "optuna.samplers",
    "GPSampler._optimize_acqf",
    "the hook the prior-weighted GP overrides",
)
OPTUNA_TPE_ACQUISITION = Private(
    "optuna",
    "optuna.samplers",
    "TPESampler._compute_acquisition_func",
    "the hook the prior-weighted TPE overrides",
)
OPTUNA_PARZEN_ESTIMATOR = Private(
    "optuna",
    "optuna.samplers._tpe.parzen_estimator",
    "_ParzenEstimator",
    "the TPE density the prior-weighted acquisition is computed over",
)
OPTUNA_SEARCH_ATTRIBUTES = [
    PrivateAttribute("ray", "ray.tune.search.optuna:OptunaSearch", name, why)
    for name, why in (
        ("_ot_study", "the Optuna study behind Ray's searcher: taught stored trials on resume"),
        ("_ot_trials", "the Optuna trial behind each Ray Tune trial id"),
        ("_completed_trials", "the trials Ray's searcher has told Optuna of"),
        ("_space", "the search space it samples (tunefw's, which maps ordered values)"),
        ("_metric", "the objectives, to tell a stored trial's values to the study"),
        ("_sampler", "the sampler it built the study with (auto's, naming each method)"),
    )
]
TPE_RANDOM_SAMPLER = PrivateAttribute(
    "optuna",
    "optuna.samplers:TPESampler",
    "_random_sampler",
    "the prior-weighted TPE draws its start from the prior, not at random",
)

PRIVATE: tuple[Private, ...] = (
    RAY_CLUSTER_SWITCH,
    RAY_LOCALHOST_RESOLVER,
    RAY_TRAINABLE_IPYTHON_RESET,
    RAY_TUNE_CALLBACK_TAG,
    OPTUNA_CONSTRAINTS_KEY,
    OPTUNA_GP_ACQF,
    OPTUNA_GP_OPTIMIZE_ACQF,
    OPTUNA_TPE_ACQUISITION,
    OPTUNA_PARZEN_ESTIMATOR,
)
"""Every private module-level name, for the test that resolves each one."""
PRIVATE_ATTRIBUTES: tuple[PrivateAttribute, ...] = (
    ASHA_BRACKETS,
    ASHA_TRIAL_BRACKET,
    ASHA_METRIC,
    *ASHA_LIMITS,
    BRACKET_RUNGS,
    *OPTUNA_SEARCH_ATTRIBUTES,
    TPE_RANDOM_SAMPLER,
)
"""Every private instance attribute, for the test that checks each on a real instance."""


def disable_multi_node() -> None:
    """Ray's in-process multi-node switch off (the environment variable is read at import)."""
    module: Any = importlib.import_module(RAY_CLUSTER_SWITCH.module)
    RAY_CLUSTER_SWITCH.get()  # one line if it is gone
    module.ENABLE_RAY_CLUSTER = False


def keep_loopback_node_ip() -> None:
    """Make ``ray start`` keep a loopback ``--node-ip-address`` instead of replacing it."""
    services: Any = importlib.import_module(RAY_LOCALHOST_RESOLVER.module)
    resolve: Callable[[str], str] = RAY_LOCALHOST_RESOLVER.get()

    def keep_loopback(host: str) -> str:
        return host if host in ("127.0.0.1", "localhost", "::1") else resolve(host)

    services.resolve_ip_for_localhost = keep_loopback


@dataclass(frozen=True)
class ImportsToLook:
    """A private Ray function that imports ``modules`` only to look for something of theirs
    (an IPython shell, their callbacks), costing every process that calls it their import.
    Where none is imported yet, there is nothing of theirs to find: ``skip_unless_imported``
    makes the function return ``skipped`` there instead."""

    private: Private
    modules: tuple[str, ...]
    skipped: Any


IPYTHON_IN_TRIAL_ACTORS = ImportsToLook(RAY_TRAINABLE_IPYTHON_RESET, ("IPython",), None)
"""~0.4 CPU-seconds per trial actor, where IPython is installed."""
INTEGRATIONS_IN_THE_DRIVER = ImportsToLook(
    RAY_TUNE_CALLBACK_TAG,
    ("ray.air.integrations.mlflow", "ray.air.integrations.wandb",
     "ray.air.integrations.comet", "ray.tune.logger.aim"),
    False,
)  # fmt: skip
"""~2.1 CPU-seconds before a process's first run's first trial, where mlflow and wandb are
installed; Ray's usage telemetry then leaves tunefw's own callbacks uncounted."""

_WRAPPED: set[Private] = set()
"""The functions already wrapped in this process, so wrapping twice keeps one wrapper."""


def skip_unless_imported(entry: ImportsToLook) -> None:
    """Wrap ``entry``'s function in this process to run only where one of its modules is
    already imported (then it finds what it looks for, as before)."""
    if entry.private in _WRAPPED:
        return
    owner: Any = importlib.import_module(entry.private.module)
    original: Callable[..., Any] = entry.private.get()
    _WRAPPED.add(entry.private)

    def only_where_imported(*args: Any, **kwargs: Any) -> Any:
        if any(module in sys.modules for module in entry.modules):
            return original(*args, **kwargs)
        return entry.skipped

    setattr(owner, entry.private.path, only_where_imported)


def asha_rungs(scheduler: object) -> list[tuple[float, dict[str, Any]]]:
    """Every rung of every bracket of Ray's ASHA: its milestone and what it recorded."""
    return [rung for bracket in ASHA_BRACKETS.of(scheduler) for rung in BRACKET_RUNGS.of(bracket)]


def check(instance: object, attributes: list[PrivateAttribute]) -> None:
    """Every attribute in ``attributes`` is there on ``instance``, or one line naming one."""
    for attribute in attributes:
        attribute.check(instance)
