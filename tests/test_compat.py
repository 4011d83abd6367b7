"""Every private Ray and Optuna name tunefw uses resolves in the installed versions, with the
shape tunefw reads; one that is gone is one line naming it. An upgrade fails here first."""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import subprocess
import sys
from importlib.metadata import version

import optuna
import pytest
import ray
from ray.tune.schedulers import AsyncHyperBandScheduler, HyperBandScheduler
from ray.tune.search.optuna import OptunaSearch

from tunefw import compat
from tunefw.cluster import processes
from tunefw.errors import TunefwError
from tunefw.prepare.pareto_asha import ParetoASHA
from tunefw.recipe.objective import Objective
from tunefw.store.reader import final_rows, read_results

from .conftest import REPO
from .faults_helpers import children_of, experiment, function_recipe


@pytest.mark.parametrize("private", compat.PRIVATE, ids=lambda p: f"{p.module}.{p.path}")
def test_every_private_name_resolves(private):
    assert private.get() is not None


def _asha() -> AsyncHyperBandScheduler:
    asha = AsyncHyperBandScheduler(
        time_attr="training_iteration", max_t=9, grace_period=1, reduction_factor=3
    )
    asha.set_search_properties("loss", "min")
    asha.on_trial_add(None, type("Trial", (), {"trial_id": "t0"})())
    return asha


def test_asha_has_the_private_attributes_tunefw_reads_with_their_shapes():
    asha = _asha()
    for attribute in [compat.ASHA_BRACKETS, compat.ASHA_TRIAL_BRACKET, compat.ASHA_METRIC]:
        attribute.check(asha)
    compat.check(asha, compat.ASHA_LIMITS)
    assert compat.ASHA_METRIC.of(asha) == "loss"
    rungs = compat.asha_rungs(asha)
    assert [milestone for milestone, _ in rungs] == [9, 3, 1]
    assert all(isinstance(recorded, dict) for _, recorded in rungs)
    assert "t0" in compat.ASHA_TRIAL_BRACKET.of(asha)


def test_hyperband_has_its_brackets_and_their_halving():
    scheduler = HyperBandScheduler(time_attr="training_iteration", max_t=9, reduction_factor=3)
    bands = compat.HYPERBAND_BRACKETS.of(scheduler)
    assert isinstance(bands, list) and all(isinstance(band, list) for band in bands)
    assert callable(compat.HYPERBAND_HALVE.of(scheduler))


def test_optuna_search_has_the_private_attributes_tunefw_reads():
    searcher = OptunaSearch(
        space={"x": optuna.distributions.FloatDistribution(0, 1)}, metric="loss", mode="min"
    )
    compat.check(searcher, compat.OPTUNA_SEARCH_ATTRIBUTES)
    assert isinstance(compat.OPTUNA_SEARCH_ATTRIBUTES[0].of(searcher), optuna.Study)


def test_tpe_has_its_start_sampler_and_the_acquisition_hook():
    sampler = optuna.samplers.TPESampler()
    compat.TPE_RANDOM_SAMPLER.check(sampler)
    assert callable(compat.OPTUNA_TPE_ACQUISITION.get())
    assert callable(compat.OPTUNA_GP_OPTIMIZE_ACQF.get())
    assert isinstance(compat.OPTUNA_CONSTRAINTS_KEY.get(), str)


def test_mo_asha_guards_its_parents_private_attributes_at_construction():
    objective = Objective.model_validate({"metrics": {"loss": "min", "size": "min"}})
    ParetoASHA(objective, time_attr="training_iteration", max_t=9)  # the guard passes


def test_a_private_name_that_is_gone_is_one_line_naming_it():
    gone = compat.Private("ray", "ray.tune", "NoSuchThing", "an example")
    with pytest.raises(TunefwError) as raised:
        gone.get()
    message = str(raised.value)
    assert message == (
        f"ray {version('ray')} has no ray.tune.NoSuchThing (an example); "
        f"tunefw is tested with ray {compat.TESTED['ray']}.x"
    )
    missing = compat.PrivateAttribute("optuna", "optuna:Study", "_gone", "an example")
    with pytest.raises(TunefwError, match=r"^optuna \S+: optuna:Study has no attribute _gone"):
        missing.of(object())


def test_the_installed_versions_are_the_tested_ones_and_pyproject_bounds_them():
    pyproject = (REPO / "pyproject.toml").read_text()
    for library, tested in compat.TESTED.items():
        assert version(library).startswith(tested + "."), f"{library} is not the tested one"
        major, minor = tested.split(".")
        assert f">={tested},<{major}.{int(minor) + 1}" in pyproject


def test_no_module_outside_compat_names_a_private_module():
    sources = [*(REPO / "framework").rglob("*.py"), *(REPO / "plugins").rglob("*.py")]
    offenders = [
        str(path.relative_to(REPO))
        for path in sources
        if path.name != "compat.py"
        and any(name in path.read_text() for name in ("ray._private", "optuna._", "samplers._"))
    ]
    assert offenders == []
    assert importlib.import_module("tunefw.compat").__doc__


def _command(pid: int) -> str:
    return " ".join(processes.command_line(pid) or [])


@pytest.mark.usefixtures("ray_session")
def test_the_embedded_ray_starts_no_worker_a_trial_could_not_use():
    """``RAY_NO_PRESTART_ENV``: the session's Ray (started by ``start_embedded_ray`` in this
    process) holds no idle worker; an actor's worker shows the scan sees the raylet's."""
    (raylet,) = [pid for pid in children_of(os.getpid()) if "raylet/raylet" in _command(pid)]

    @ray.remote(num_cpus=0, runtime_env={"env_vars": {"TUNEFW_PROBE": "1"}})
    class Probe:  # a runtime environment, as Ray Tune gives trials: no idle worker fits it
        def pid(self) -> int:
            return os.getpid()

    probe = Probe.remote()  # type: ignore[attr-defined]
    pid = ray.get(probe.pid.remote())
    workers = {worker: _command(worker) for worker in children_of(raylet)}
    ray.kill(probe)
    assert workers[pid].startswith("ray::Probe")
    assert not [cmd for cmd in workers.values() if cmd.startswith("ray::IDLE")], workers


def test_neither_a_runs_driver_nor_its_trials_import_what_the_recipe_does_not_use(
    tmp_path, ray_session
):
    """Where installed (the dev extra has them all, as most ML environments do):

    - the driver imports neither Ray's MLflow and W&B integrations (Ray Tune's telemetry
      would, to count tunefw's callbacks: ``compat.INTEGRATIONS_IN_THE_DRIVER``) nor
      scikit-learn (the ``converged`` rule's GP), ~4 s before the first trial of every run;
    - a trial actor imports neither IPython (Ray Tune's start of every actor would:
      ``compat.IPYTHON_IN_TRIAL_ACTORS``) nor the search strategy (Optuna, for ``auto``:
      ``resolve_for_trials``), ~0.5 CPU-seconds each actor.
    """
    driver_unused = ("mlflow", "wandb", "sklearn")
    for name in (*driver_unused, "IPython"):
        assert importlib.util.find_spec(name) is not None, f"the dev extra installs {name}"
    recipe = function_recipe(
        tmp_path,
        """
        name: imports
        trainable: {kind: function, function: "toy_trainables:imported"}
        objective: {metric: loss, mode: min}
        search: {strategy: auto, num_samples: 1, seed: 0, space: {x: {uniform: [0, 1]}}}
        scheduler: {type: none}
        stop: {plateau: {patience: 5}}
        """,
    )
    address = ray.get_runtime_context().gcs_address
    driver = (
        "import json, sys\n"
        "from tunefw.cli.main import main\n"
        f"code = main(['run', {str(recipe)!r}, '--quiet', '--address', {address!r}])\n"
        f"print(json.dumps([code, [n for n in {driver_unused!r} if n in sys.modules]]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", driver], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == [0, []]
    (trial,) = final_rows(read_results(experiment(tmp_path, "imports"))).to_pylist()
    assert (trial["metric.ipython"], trial["metric.optuna"]) == (0.0, 0.0)


def test_an_ipython_shell_in_a_trial_worker_is_still_cleared():
    from IPython.core.interactiveshell import InteractiveShell
    from ray.tune.trainable import trainable

    compat.skip_unless_imported(compat.IPYTHON_IN_TRIAL_ACTORS)
    compat.skip_unless_imported(compat.IPYTHON_IN_TRIAL_ACTORS)  # once wrapped, left as it is
    InteractiveShell.instance()
    assert "IPython" in sys.modules and InteractiveShell.initialized()
    trainable.disable_ipython()
    assert not InteractiveShell.initialized()
