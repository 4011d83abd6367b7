"""Search efficiency (BENCHMARKS.md section 3): tunefw's strategies against standalone Optuna.

Every tunefw strategy is built exactly as a recipe builds it (its plugin's ``plan``), and its
searcher is driven through Ray Tune's Searcher API, one trial at a time, the calls Ray Tune's
controller makes at ``max_concurrent: 1``. ``--verify-ray`` runs the same search through the
whole of tunefw on a real Ray and checks that it makes the same suggestions. The references
are standalone Optuna studies (TPESampler, GPSampler and RandomSampler with their defaults)
whose objectives ask for listed values with ``suggest_categorical``, as Optuna users write
them. ``auto`` also runs with a good prior (the table's best config) and a misleading one
(its worst) on the tabled problems.

Reported per problem and method: the median (over seeds) best value after 50 and 100 trials,
and the median number of trials needed to reach random search's final (100-trial) value;
for ``auto``, the share of trials each method suggested. The goals are judged on the real
problems (``Problem.real``).

    python -m benchmarks.tuning_tables                     # the tables, once (about 10 min)
    python -m benchmarks.search_efficiency                 # 14 problems, 5 seeds, 100 trials
    python -m benchmarks.search_efficiency --quick         # 3 problems, 3 seeds, 40 trials
    python -m benchmarks.search_efficiency --verify-ray
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from pydantic import TypeAdapter

from benchmarks.common import emit, run_tunefw
from benchmarks.search_problems import PROBLEMS, Levels, Problem
from tunefw.plugin_api import registry
from tunefw.plugin_api.protocols import SearchSettings
from tunefw.recipe.space import ParamSpec

TUNEFW: dict[str, tuple[str, dict[str, Any]]] = {
    "tunefw auto": ("auto", {}),
    "tunefw smac": ("smac", {}),
    "tunefw bayesian": ("bayesian", {}),
}
PRIORS = {"tunefw auto, good prior": "good", "tunefw auto, misleading prior": "misleading"}
"""``auto`` with a prior on every parameter: the table's best config, or its worst."""
OPTUNA: dict[str, Callable[[int], optuna.samplers.BaseSampler]] = {
    "optuna tpe": lambda seed: optuna.samplers.TPESampler(seed=seed),
    "optuna gp": lambda seed: optuna.samplers.GPSampler(seed=seed),
    "optuna random": lambda seed: optuna.samplers.RandomSampler(seed=seed),
}
RANDOM = "optuna random"
METHODS = [*TUNEFW, *PRIORS, *OPTUNA]
PARAM = TypeAdapter(ParamSpec)


def prior_config(problem: Problem, which: str) -> dict[str, Any]:
    """The tabled config with the best (or, misleading, the worst) score."""
    from benchmarks.tuning_tables import TABLES, key_of, lookup

    table = TABLES[problem.name]
    scores = lookup(problem.name)
    ranked = sorted(table.configs(), key=lambda c: scores[key_of(c)])
    return ranked[0] if which == "good" else ranked[-1]


def tunefw_space(problem: Problem, prior: str | None = None) -> dict[str, ParamSpec]:
    believed = prior_config(problem, prior) if prior else {}
    space = {}
    for name, b in problem.bounds.items():
        written = b.recipe() | ({"prior": believed[name]} if name in believed else {})
        space[name] = PARAM.validate_python(written)
    return space


def run_tunefw_searcher(
    method: str, problem: Problem, seed: int, trials: int
) -> tuple[list[float], list[str]]:
    """The plugin's plan, its searcher driven one trial at a time as Ray Tune drives it; the
    values, and the method behind each trial."""
    strategy, params = TUNEFW.get(method, ("auto", {}))
    plugin = registry.load("search", strategy)
    settings = SearchSettings(
        num_samples=trials, max_concurrent=1, seed=seed, metric="value", mode="min"
    )
    space = tunefw_space(problem, PRIORS.get(method))
    plan = plugin(plugin.Params(**params)).plan(space, settings)
    searcher = plan.search_alg
    values, methods = [], []
    for i in range(trials):
        trial_id = f"t{i:05d}"
        config = searcher.suggest(trial_id)
        result = {"value": problem.evaluate(config), "training_iteration": 1}
        searcher.on_trial_result(trial_id, result)
        searcher.on_trial_complete(trial_id, result)
        values.append(result["value"])
        methods.append((plan.suggested_by(trial_id) if plan.suggested_by else None) or strategy)
    return values, methods


def run_optuna(
    method: str, problem: Problem, seed: int, trials: int
) -> tuple[list[float], list[str]]:
    """A plain Optuna study with the sampler's defaults."""

    def objective(trial: optuna.Trial) -> float:
        return problem.evaluate(problem.suggest(trial))

    study = optuna.create_study(sampler=OPTUNA[method](seed))
    study.optimize(objective, n_trials=trials)
    return [t.value for t in study.trials], [method] * trials


def run_job(job: tuple[str, str, int, int]) -> tuple[str, str, int, list[float], list[str], float]:
    problem_name, method, seed, trials = job
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    import torch

    torch.set_num_threads(1)  # one job per core: the GP's threads would fight the other job's
    problem = PROBLEMS[problem_name]
    started = time.perf_counter()
    run = run_optuna if method in OPTUNA else run_tunefw_searcher
    values, methods = run(method, problem, seed, trials)
    return problem_name, method, seed, values, methods, time.perf_counter() - started


def best_so_far(values: list[float]) -> np.ndarray:
    return np.minimum.accumulate(np.asarray(values, dtype=float))


def trials_to_reach(values: list[float], target: float) -> int | None:
    reached = np.nonzero(best_so_far(values) <= target)[0]
    return int(reached[0]) + 1 if reached.size else None


def summarize(runs: dict[tuple[str, str], list[list[float]]], trials: int) -> list[dict[str, Any]]:
    """Per problem and method: median best at 50 and at ``trials``, and trials to random's."""
    rows = []
    for problem in sorted({p for p, _ in runs}):
        target = float(np.median([best_so_far(v)[-1] for v in runs[(problem, RANDOM)]]))
        for method in METHODS:
            seeds = runs.get((problem, method))
            if not seeds:
                continue
            finals = [best_so_far(v)[-1] for v in seeds]
            reach = [trials_to_reach(v, target) or trials + 1 for v in seeds]
            rows.append(
                {
                    "problem": problem,
                    "method": method,
                    "median_best_50": float(
                        np.median([best_so_far(v)[min(50, trials) - 1] for v in seeds])
                    ),
                    f"median_best_{trials}": float(np.median(finals)),
                    "iqr_best": float(np.subtract(*np.percentile(finals, [75, 25]))),
                    "trials_to_random": float(np.median(reach)),
                }
            )
    return rows


def verdicts(rows: list[dict[str, Any]], trials: int, problems: list[str]) -> dict[str, Any]:
    """The issue's three goals for ``auto``, over ``problems`` (the real ones)."""
    by = {(r["problem"], r["method"]): r for r in rows}
    key = f"median_best_{trials}"
    auto, tpe = "tunefw auto", "optuna tpe"
    beats = [p for p in problems if by[(p, auto)][key] <= by[(p, tpe)][key]]
    ratios = [
        by[(p, auto)]["trials_to_random"] / by[(p, tpe)]["trials_to_random"] for p in problems
    ]
    worse = [p for p in problems if by[(p, auto)][key] > by[(p, RANDOM)][key]]
    return {
        "problems": problems,
        "auto_beats_or_equals_tpe": f"{len(beats)}/{len(problems)}",
        "auto_beats_or_equals_tpe_share": len(beats) / len(problems),
        "auto_over_tpe_trials_to_random_median_ratio": float(np.median(ratios)),
        "auto_worse_than_random_on": worse,
    }


def method_mix(methods: dict[tuple[str, str], list[list[str]]]) -> dict[str, dict[str, float]]:
    """Per problem, the share of ``auto``'s trials each of its methods suggested."""
    mix = {}
    for (problem, method), runs in sorted(methods.items()):
        if method == "tunefw auto":
            counts = Counter(m for run in runs for m in run)
            total = sum(counts.values())
            mix[problem] = {m: round(c / total, 3) for m, c in counts.most_common()}
    return mix


def write_plot(runs: dict[tuple[str, str], list[list[float]]], path: Path) -> None:
    """Median regret against trials, one panel per problem (plotly, a self-contained HTML)."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    problems = sorted({p for p, _ in runs})
    cols = 4
    fig = make_subplots(rows=math.ceil(len(problems) / cols), cols=cols, subplot_titles=problems)
    palette = [
        "#1f77b4",
        "#aec7e8",
        "#ff7f0e",
        "#2ca02c",
        "#9467bd",
        "#d62728",
        "#e377c2",
        "#7f7f7f",
    ]
    for i, problem in enumerate(problems):
        known = PROBLEMS[problem].optimum
        floor = (
            known
            if known is not None
            else min(
                best_so_far(v)[-1] for (p, _), seeds in runs.items() if p == problem for v in seeds
            )
        )
        for j, method in enumerate(METHODS):
            seeds = runs.get((problem, method))
            if not seeds:
                continue
            regret = np.median([best_so_far(v) - floor for v in seeds], axis=0)
            fig.add_trace(
                go.Scatter(
                    y=np.maximum(regret, 1e-9),
                    x=np.arange(1, len(regret) + 1),
                    name=method,
                    legendgroup=method,
                    showlegend=i == 0,
                    line={
                        "color": palette[j % len(palette)],
                        "dash": "dot" if method in OPTUNA else "solid",
                    },
                ),
                row=i // cols + 1,
                col=i % cols + 1,
            )
    fig.update_yaxes(type="log")
    fig.update_xaxes(title_text="trials")
    fig.update_layout(
        title="Median regret against trials (lower is better)", height=700, width=1500
    )
    fig.write_html(path, include_plotlyjs="cdn")


def markdown(rows: list[dict[str, Any]], trials: int) -> str:
    lines = [
        f"| problem | method | median best @50 | median best @{trials} "
        f"| trials to random's @{trials} |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        reach = r["trials_to_random"]
        shown = f"> {trials}" if reach > trials else f"{reach:g}"
        lines.append(
            f"| {r['problem']} | {r['method']} | {r['median_best_50']:.4g} | "
            f"{r[f'median_best_{trials}']:.4g} | {shown} |"
        )
    return "\n".join(lines)


def verify_through_ray(trials: int) -> None:
    """tunefw's whole path on a real Ray makes the same suggestions as the searcher loop."""
    problem = PROBLEMS["branin"]
    recipe = {
        "name": "verify-branin",
        "trainable": {"kind": "function", "function": "benchmarks.search_problems:branin_trial"},
        "objective": {"metric": "value", "mode": "min"},
        "search": {
            "strategy": "bayesian",
            "num_samples": trials,
            "max_concurrent": 1,
            "seed": 0,
            "space": {name: b.recipe() for name, b in problem.bounds.items()},
        },
        "scheduler": {"type": "none"},
    }
    with tempfile.TemporaryDirectory() as storage:
        summary, _ = run_tunefw(recipe, Path(storage))
        from tunefw.store.reader import final_rows, read_results

        rows = final_rows(read_results(summary.location)).to_pylist()
    rows.sort(key=lambda r: r["timestamp"])  # one trial at a time: report order is trial order
    through_ray = [r["metric.value"] for r in rows]
    loop, _ = run_tunefw_searcher("tunefw bayesian", problem, 0, trials)
    emit(
        "search_efficiency_verify_ray",
        trials=trials,
        identical=bool(np.allclose(through_ray, loop)),
        best_through_ray=min(through_ray),
        best_loop=min(loop),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 problems, 3 seeds, 40 trials")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default="benchmarks/out", help="trajectories, table and plot")
    parser.add_argument("--verify-ray", action="store_true", help="only the through-Ray check")
    parser.add_argument("--problems", help="comma-separated problem names (all by default)")
    args = parser.parse_args()
    if args.verify_ray:
        verify_through_ray(30)
        return
    problems = args.problems.split(",") if args.problems else list(PROBLEMS)
    seeds, trials = args.seeds, args.trials
    if args.quick:
        problems, seeds, trials = ["branin", "hgb-breast-cancer", "svm-digits-conditional"], 3, 40
    jobs = [
        (p, m, s, trials)
        for p in problems
        for m in METHODS
        for s in range(seeds)
        if m not in PRIORS or any(isinstance(b, Levels) for b in PROBLEMS[p].bounds.values())
    ]
    jobs.sort(key=lambda j: ("gp" not in j[1] and "auto" not in j[1], j[2], j[1]))  # slow first
    started = time.perf_counter()
    runs: dict[tuple[str, str], list[list[float]]] = {}
    suggested: dict[tuple[str, str], list[list[str]]] = {}
    seconds: dict[str, float] = {}
    with multiprocessing.get_context("spawn").Pool(args.workers) as pool:
        for problem, method, _, values, methods, took in pool.imap_unordered(run_job, jobs):
            runs.setdefault((problem, method), []).append(values)
            suggested.setdefault((problem, method), []).append(methods)
            seconds[method] = seconds.get(method, 0.0) + took
    rows = summarize(runs, trials)
    for row in rows:
        emit("search_efficiency", **row, trials=trials, seeds=seeds)
    real = [p for p in problems if PROBLEMS[p].real]
    emit(
        "search_efficiency_goals",
        **verdicts(rows, trials, real),
        wall_s=time.perf_counter() - started,
        seconds_by_method=seconds,
    )
    emit("search_efficiency_auto_methods", **method_mix(suggested))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "search_efficiency.json").write_text(
        json.dumps({f"{p}|{m}": v for (p, m), v in runs.items()})
    )
    (out / "search_efficiency.md").write_text(markdown(rows, trials) + "\n")
    write_plot(runs, out / "search_efficiency.html")


if __name__ == "__main__":
    main()
