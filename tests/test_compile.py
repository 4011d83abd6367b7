"""The compiler is pure: it builds Ray Tune's inputs without starting Ray."""

from __future__ import annotations

import ray
from ray.tune.schedulers import AsyncHyperBandScheduler, FIFOScheduler
from ray.tune.search.basic_variant import BasicVariantGenerator

from tunefw.prepare.prepared import prepare_recipe
from tunefw.recipe.loading import load_recipe
from tunefw.running.compile import compile_experiment, total_trials
from tunefw.running.result_writer import ResultWriter
from tunefw.store.layout import RAY, ExperimentLocation, Storage

from .conftest import REPO

QUICKSTART = REPO / "recipes" / "quickstart.yaml"


def compiled(tmp_path, *overrides):
    recipe = load_recipe(QUICKSTART, [f"storage={tmp_path}", *overrides])
    prepared = prepare_recipe(recipe)
    location = ExperimentLocation(Storage.open(recipe.storage), recipe.name)
    compiled = compile_experiment(recipe, prepared.plugins, prepared.plan, location)
    return compiled, location, prepared.plan


def test_quickstart_compiles_to_asha_with_reused_actors(tmp_path):
    ray_was_running = ray.is_initialized()
    exp, _, plan = compiled(tmp_path)
    tc = exp.tune_config
    assert (tc.metric, tc.mode, tc.num_samples) == ("accuracy", "max", 24)
    assert tc.reuse_actors is True
    assert isinstance(tc.search_alg, BasicVariantGenerator)
    assert isinstance(tc.scheduler, AsyncHyperBandScheduler)
    assert tc.scheduler._max_t == 5
    assert tc.scheduler._reduction_factor == 3
    assert set(exp.param_space) == {"C", "gamma", "kernel"}
    assert exp.param_space["kernel"] == "rbf"
    assert total_trials(plan) == 24
    rc = exp.run_config
    assert rc.name == RAY
    assert rc.storage_path == f"{tmp_path}/quickstart"
    assert rc.failure_config.max_failures == 0
    assert any(isinstance(cb, ResultWriter) for cb in rc.callbacks)
    assert rc.stop is exp.guard
    assert rc.verbose == 0
    assert ray.is_initialized() == ray_was_running, "compiling starts nothing"
    assert not (tmp_path / "quickstart").exists(), "compiling writes nothing"


def test_resources_become_trial_resources(tmp_path):
    exp, _, _ = compiled(tmp_path, "resources.cpu=0.5", "resources.gpu=0.25")
    assert exp.resources.bundles == [{"CPU": 0.5, "GPU": 0.25}]


def test_worker_bundles_join_the_trial_in_one_placement_group(tmp_path):
    exp, _, _ = compiled(
        tmp_path,
        "resources={cpu: 0.5, workers: [{cpu: 1, gpu: 1}, {cpu: 1, gpu: 1, custom: {a100: 1}}], "
        "placement: STRICT_SPREAD}",
    )
    assert exp.resources.bundles == [
        {"CPU": 0.5},
        {"CPU": 1.0, "GPU": 1.0},
        {"CPU": 1.0, "GPU": 1.0, "a100": 1.0},
    ]
    assert exp.resources.strategy == "STRICT_SPREAD"
    assert exp.writer.resources == {"cpu": 2.5, "gpu": 2.0}, "cost counts every bundle"


def test_scheduler_can_be_turned_off(tmp_path):
    exp, _, _ = compiled(tmp_path, "scheduler={type: none}")
    scheduler = exp.tune_config.scheduler
    assert isinstance(scheduler, FIFOScheduler)
    assert not isinstance(scheduler, AsyncHyperBandScheduler)


def test_grid_search_enumerates_the_grid(tmp_path):
    exp, _, plan = compiled(
        tmp_path,
        "search.strategy=grid",
        "search.params.points=3",
        "search.num_samples=2",
        "search.space.kernel={choice: [rbf, poly]}",
    )
    assert exp.param_space["C"]["grid_search"][0] == 1e-2
    assert exp.param_space["kernel"] == {"grid_search": ["rbf", "poly"]}
    assert total_trials(plan) == 3 * 3 * 2 * 2


def test_max_concurrent_reaches_the_search_algorithm(tmp_path):
    exp, _, _ = compiled(tmp_path, "search.max_concurrent=3")
    assert exp.tune_config.search_alg.max_concurrent == 3


def test_the_trial_function_pickles(tmp_path):
    exp, _, _ = compiled(tmp_path)
    restored = ray.cloudpickle.loads(ray.cloudpickle.dumps(exp.trial))
    assert callable(restored)


def test_failure_retries_reach_ray(tmp_path):
    exp, _, _ = compiled(tmp_path, "failure.max_retries=3")
    assert exp.run_config.failure_config.max_failures == 3


def test_resources_become_ray_tune_requests(tmp_path):
    exp, _, _ = compiled(
        tmp_path,
        "resources={cpu: 0.5, gpu: 0.25, memory: 512MiB, accelerator_type: A100, "
        "custom: {tpu_slice: 2}}",
    )
    assert exp.resources.bundles == [
        {
            "CPU": 0.5,
            "GPU": 0.25,
            "tpu_slice": 2.0,
            "memory": float(512 * 2**20),
            "accelerator_type:A100": 0.001,
        }
    ]
    assert exp.writer.resources["gpu"] == 0.25, "gpu_s is charged at the trial's share"


def test_pending_trials_are_bounded_by_what_the_cluster_can_run():
    from tunefw.running.pending_trials import pending_limit

    assert pending_limit({"CPU": 1}, {"CPU": 2}) == 8, "at least 8"
    assert pending_limit({"CPU": 1}, {"CPU": 100}) == 200, "twice what fits"
    assert pending_limit({"CPU": 1, "GPU": 1}, {"CPU": 64, "GPU": 16}) == 32, "the scarcest"
    assert pending_limit({"CPU": 1, "tpu": 1}, {"CPU": 64}) == 8, "nothing fits yet"


def test_a_pending_trial_limit_the_user_set_wins(monkeypatch):
    import os

    from tunefw.running.pending_trials import ENV, limit_pending_trials

    monkeypatch.setenv(ENV, "3")
    with limit_pending_trials({"CPU": 1}):
        assert os.environ[ENV] == "3"
    assert os.environ[ENV] == "3"


def test_the_scheduler_picks_trials_as_fifo_does_past_the_finished_ones():
    from types import SimpleNamespace

    from ray.tune.experiment import Trial

    from tunefw.prepare.schedulers import Fifo

    def trial(status: str) -> SimpleNamespace:
        return SimpleNamespace(
            status=status, is_finished=lambda: status in (Trial.TERMINATED, Trial.ERROR)
        )

    trials = [trial(Trial.TERMINATED), trial(Trial.ERROR), trial(Trial.RUNNING)]
    controller = SimpleNamespace(get_trials=lambda: trials)
    fifo = Fifo()
    assert fifo.choose_trial_to_run(controller) is None, "nothing pending or paused"
    trials += [trial(Trial.PAUSED), trial(Trial.PENDING)]
    assert fifo.choose_trial_to_run(controller) is trials[4], "pending before paused"
    trials[4].status = Trial.RUNNING
    assert fifo.choose_trial_to_run(controller) is trials[3], "then paused"
    retried = trials.pop(2)  # Ray moves a retried trial to the back, pending again
    retried.status = Trial.PENDING
    trials.append(retried)
    assert fifo.choose_trial_to_run(controller) is retried
