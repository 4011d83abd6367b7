"""``smac``: SMAC3's Bayesian optimisation with a random-forest surrogate (``tunefw[smac]``).

A random forest models mixed, discrete and conditional spaces well, where a Gaussian process
struggles. The searcher drives SMAC's ask/tell interface from Ray Tune's Searcher calls; SMAC
itself is built on first use and, after unpickling, rebuilt by replaying the searcher's log of
asks and tells, so the searcher pickles with Ray Tune's experiment; a resumed run teaches it
the stored trials. Priors become ConfigSpace's normal and weighted distributions, and SMAC's
own piBO acquisition weights the suggestions towards them. Several objectives are scalarised
by ParEGO. Constraints are refused: SMAC has no notion of them.
"""

from __future__ import annotations

import math
import pickle
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from ray.tune.search import Searcher

from tunefw.errors import PluginError, RecipeError
from tunefw.plugin_api.capabilities import LearnsFromTrials
from tunefw.plugin_api.protocols import SearchPlan, SearchSettings
from tunefw.recipe.numbers import Int
from tunefw.recipe.space import Constant, ParamSpec
from tunefw_plugins.search._optuna import refuse_grid
from tunefw_plugins.search.smac_space import config_space, values_of

INSTALL = "pip install 'tunefw[smac]'"


def _require_smac() -> None:
    try:
        import smac  # noqa: F401
    except ImportError:
        raise PluginError(f"search.strategy: smac needs SMAC3: {INSTALL}") from None


class SmacSearcher(Searcher, LearnsFromTrials):
    """A Ray Tune Searcher over a SMAC3 ``HyperparameterOptimizationFacade``.

    Every ask and tell is logged; a restored searcher replays the log into a new SMAC, which,
    seeded alike, asks for the same configs and ends in the same state.
    """

    def __init__(
        self, space: Mapping[str, ParamSpec], settings: SearchSettings, params: SmacSearch.Params
    ) -> None:
        super().__init__(metric=settings.metric, mode=settings.mode)
        self.space = dict(space)
        self.targets = dict(settings.targets)
        self.seed = 0 if settings.seed is None else settings.seed
        self.budget = settings.budget
        self.params = params
        self.initial_points = [dict(p) for p in settings.initial_points]
        self.events: list[tuple[str, Any, list[float] | None]] = []
        """("ask", trial id, None), ("tell", trial id, costs) or ("learn", config, costs)."""
        self._smac: Any = None
        self._asked: dict[str, Any] = {}
        self._output: tempfile.TemporaryDirectory[str] | None = None

    def __getstate__(self) -> dict[str, Any]:
        """SMAC is rebuilt from the log, not pickled."""
        return {**self.__dict__, "_smac": None, "_asked": {}, "_output": None}

    def set_search_properties(
        self, metric: str | None, mode: str | None, config: dict[str, Any], **spec: Any
    ) -> bool:
        """The space comes from the recipe; Ray Tune's param space is empty."""
        return True

    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        info = self._apply(("ask", trial_id, None))
        constants = {n: s.value for n, s in self.space.items() if isinstance(s, Constant)}
        return {**values_of(info.config, self.space), **constants}

    def on_trial_complete(
        self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False
    ) -> None:
        if trial_id in self._asked:
            self._apply(("tell", trial_id, None if error else self._costs(result)))

    def learn(self, config: Mapping[str, Any], result: Mapping[str, Any] | None) -> None:
        values = {n: v for n, v in config.items() if n in self.space and not _const(self.space[n])}
        self._apply(("learn", values, self._costs(result)))

    def save(self, checkpoint_path: str) -> None:
        Path(checkpoint_path).write_bytes(pickle.dumps(self.__getstate__()))

    def restore(self, checkpoint_path: str) -> None:
        self.__dict__.update(pickle.loads(Path(checkpoint_path).read_bytes()))

    def _costs(self, result: Mapping[str, Any] | None) -> list[float] | None:
        """SMAC minimises: each objective's value, negated where it is maximised."""
        if result is None:
            return None
        costs = []
        for metric, mode in self.targets.items():
            value = result.get(metric)
            if not isinstance(value, (int, float)) or not math.isfinite(value):
                return None
            costs.append(float(value) if mode == "min" else -float(value))
        return costs

    def _apply(self, event: tuple[str, Any, list[float] | None], replay: bool = False) -> Any:
        """Carry out one logged event on SMAC (built, and the log replayed, on first use)."""
        from ConfigSpace import Configuration
        from smac.runhistory import StatusType, TrialInfo, TrialValue

        smac = self._facade()
        if not replay:
            self.events.append(event)
        kind, subject, costs = event
        if kind == "ask":
            self._asked[subject] = info = smac.ask()
            return info
        if kind == "tell":
            info = self._asked.pop(subject)
        else:
            try:
                info = TrialInfo(Configuration(smac.scenario.configspace, values=subject))
            except (ValueError, KeyError):  # a stored value outside today's space
                return None
        if costs is None:
            value = TrialValue(cost=[math.inf] * len(self.targets), status=StatusType.CRASHED)
        else:
            value = TrialValue(cost=costs if len(costs) > 1 else costs[0])
        smac.tell(info, value, save=False)
        return None

    def _facade(self) -> Any:
        if self._smac is None:
            self._smac = self._build()
            for event in self.events:
                self._apply(event, replay=True)
        return self._smac

    def _build(self) -> Any:
        from smac import HyperparameterOptimizationFacade as HPO
        from smac import Scenario
        from smac.acquisition.function import PriorAcquisitionFunction
        from smac.multi_objective.parego import ParEGO

        self._output = tempfile.TemporaryDirectory(prefix="tunefw-smac-")
        cs = config_space(self.space, self.seed)
        multi = len(self.targets) > 1
        scenario = Scenario(
            cs,
            name="tunefw",
            output_directory=Path(self._output.name),
            deterministic=True,
            objectives=list(self.targets) if multi else "cost",
            n_trials=self.budget,
            seed=self.seed,
        )
        acquisition = HPO.get_acquisition_function(scenario)
        if any(s.prior is not None for s in self.space.values()):
            acquisition = PriorAcquisitionFunction(acquisition, decay_beta=self.budget / 10)
        design = HPO.get_initial_design(
            scenario,
            n_configs=self.params.n_initial,
            additional_configs=_warm_start(cs, self.initial_points, self.space),
        )
        return HPO(
            scenario,
            target_function=_never_called,
            model=HPO.get_model(scenario, n_trees=self.params.n_trees),
            acquisition_function=acquisition,
            initial_design=design,
            multi_objective_algorithm=ParEGO(scenario) if multi else None,
            overwrite=True,
            logging_level=40,
        )


def _const(spec: ParamSpec) -> bool:
    return isinstance(spec, Constant)


def _warm_start(cs: Any, points: list[dict[str, Any]], space: Mapping[str, ParamSpec]) -> Any:
    """The recipe's warm-start configs (completed from their defaults), evaluated first."""
    from ConfigSpace import Configuration

    full = []
    default = dict(cs.get_default_configuration())
    for point in points:
        values = default | {n: v for n, v in point.items() if n in space and not _const(space[n])}
        full.append(Configuration(cs, values=values))
    return full or None


def _never_called(config: Any, seed: int = 0) -> float:
    """SMAC insists on a target function; the trials run in Ray Tune instead."""
    raise AssertionError("tunefw drives SMAC by ask and tell")


class SmacSearch:
    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")

        n_trees: Int = Field(10, ge=1, description="Trees in the random forest (SMAC's 10).")
        n_initial: Int | None = Field(
            None,
            ge=1,
            description="Sobol configs first; SMAC's default: 10 per parameter, "
            "at most a quarter of the budget.",
        )

    def __init__(self, params: Params) -> None:
        self.params = params

    def plan(self, space: Mapping[str, ParamSpec], settings: SearchSettings) -> SearchPlan:
        _require_smac()
        refuse_grid(space, "smac")
        if settings.constraints:
            raise RecipeError(
                "objective.constraints: smac cannot take constraints; use auto or bayesian"
            )
        searcher = SmacSearcher(space, settings, self.params)
        return SearchPlan(param_space={}, search_alg=searcher, num_samples=settings.budget)
