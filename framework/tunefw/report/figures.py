"""The report's plots, one function each: a plotly figure, or ``Skipped`` saying why the plot
does not apply to this experiment (so the page never shows an empty one)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, TypeAlias

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from tunefw.recipe.space import Options, ParamSpec
from tunefw.report import Skipped
from tunefw.report.payoff import PAYOFF_SHARE, Payoff, best_so_far
from tunefw.report.trials import StoredExperiment, Trial, varying
from tunefw.store import columns as col
from tunefw.store.ranking import pareto_front

Plot: TypeAlias = Any
"""A plotly ``Figure`` (plotly has no type hints), or ``Skipped`` with the reason for none."""
HEIGHT = 420
STATUSES = {  # label and colour of each final status
    col.TERMINATED: ("completed", "#1f77b4"),
    col.STOPPED_EARLY: ("stopped early", "#ff7f0e"),
    col.ERRORED: ("errored", "#d62728"),
    col.RUNNING: ("running", "#7f7f7f"),
}
FRONT, DOMINATED = "#d62728", "#b0b0b0"


def _figure(**layout: Any) -> go.Figure:
    figure = go.Figure()
    figure.update_layout(
        template="plotly_white", height=HEIGHT, margin={"l": 70, "r": 20, "t": 30, "b": 60}
    )
    figure.update_layout(**layout)
    return figure


def _metric(experiment: StoredExperiment) -> str:
    return f"{experiment.objective.metric} ({experiment.objective.mode})"


def _scored(experiment: StoredExperiment) -> list[Trial]:
    return [t for t in experiment.trials if t.score is not None]


def _hover(name: str) -> str:
    return f"trial %{{text}}<br>{name} %{{y:.4g}}<extra></extra>"


def history(experiment: StoredExperiment) -> Plot:
    """Each trial's final score in the order the trials finished, the best so far, and the
    trial after which a stop rule ended the study."""
    ordered = experiment.by_completion()
    if not any(t.score is not None for t in ordered):
        return Skipped(f"no trial reported {experiment.objective.metric}")
    figure = _figure(xaxis_title="trials finished", yaxis_title=_metric(experiment))
    for status, (label, color) in STATUSES.items():
        points = [
            (i, t) for i, t in enumerate(ordered, 1) if t.status == status and t.score is not None
        ]
        if points:
            figure.add_scatter(
                x=[i for i, _ in points],
                y=[t.score for _, t in points],
                text=[t.trial_id for _, t in points],
                mode="markers",
                name=label,
                marker={
                    "color": color,
                    "symbol": ["circle" if t.feasible else "circle-open" for _, t in points],
                },
                hovertemplate=_hover(experiment.objective.metric),
            )
    best = best_so_far(ordered, experiment.objective)
    steps = [(i, b) for i, b in enumerate(best, 1) if b is not None]
    figure.add_scatter(
        x=[i for i, _ in steps],
        y=[b for _, b in steps],
        mode="lines",
        line={"shape": "hv", "color": "black"},
        name="best so far",
    )
    stopped = experiment.manifest.get("stopped_by")
    if stopped:
        figure.add_vline(
            x=stopped["trials"],
            line={"dash": "dot", "color": "grey"},
            annotation_text=f"stop.{stopped['rule']}",
            annotation_hovertext=stopped["reason"],
        )
    return figure


def _dimension(name: str, spec: ParamSpec, values: Sequence[Any]) -> dict[str, Any]:
    """A parallel-coordinates axis: categories as ticks, log parameters on a log10 axis."""
    if isinstance(spec, Options):
        order = [str(v) for v in spec.values]
        rank = {level: i for i, level in enumerate(order)}
        levels = sorted({str(v) for v in values}, key=lambda s: rank.get(s, len(order)))
        return {
            "label": name,
            "values": [levels.index(str(v)) for v in values],
            "tickvals": list(range(len(levels))),
            "ticktext": levels,
        }
    if spec.log:
        return {"label": f"log10 {name}", "values": [math.log10(v) for v in values]}
    return {"label": name, "values": list(values)}


def parallel(experiment: StoredExperiment) -> Plot:
    """One line per scored trial through its parameters and its score."""
    scored = _scored(experiment)
    params = varying(experiment.sampled, [t.config for t in scored])
    if len(scored) < 2 or not params:
        return Skipped(
            "parallel coordinates need two scored trials and a parameter that every one of "
            "them has, with several values"
        )
    scores = [t.score for t in scored]
    dimensions = [
        _dimension(name, experiment.space[name], [t.config[name] for t in scored])
        for name in params
    ]
    dimensions.append({"label": experiment.objective.metric, "values": scores})
    figure = _figure(margin={"l": 70, "r": 70, "t": 60, "b": 30})
    figure.add_trace(
        go.Parcoords(
            line={
                "color": scores,
                "colorscale": "Viridis",
                "reversescale": experiment.objective.mode == "min",
                "showscale": True,
            },
            dimensions=dimensions,
        )
    )
    return figure


def importance(importances: dict[str, float] | Skipped) -> Plot:
    """A bar per parameter: its share of the score's variance."""
    if isinstance(importances, Skipped):
        return importances
    names = list(importances)[::-1]  # the most important on top
    figure = _figure(
        height=max(220, 90 + 40 * len(names)),
        xaxis_title="share of the score's variance (fANOVA)",
    )
    figure.add_bar(
        x=[importances[n] for n in names],
        y=names,
        orientation="h",
        text=[f"{importances[n]:.2f}" for n in names],
        textposition="auto",
    )
    return figure


def curves(experiment: StoredExperiment) -> Plot:
    """The primary metric at each iteration, one line per trial, coloured by final status;
    a mark where the scheduler stopped a trial early (or where it errored)."""
    metric = experiment.objective.metric
    traced = [t for t in experiment.trials if t.curve]
    if not any(len(t.curve) > 1 for t in traced):
        return Skipped(f"every trial reported {metric} once at most: there are no curves")
    figure = _figure(xaxis_title="iteration", yaxis_title=_metric(experiment))
    for status, (label, color) in STATUSES.items():
        group = [t for t in traced if t.status == status]
        if not group:
            continue
        x: list[int | None] = []
        y: list[float | None] = []
        text: list[str | None] = []
        for trial in group:  # one trace per status, trials apart by a gap: light for many trials
            x += [*trial.curve, None]
            y += [*trial.curve.values(), None]
            text += [trial.trial_id] * len(trial.curve) + [None]
        figure.add_scatter(
            x=x,
            y=y,
            text=text,
            mode="lines+markers",
            name=label,
            line={"color": color, "width": 1},
            marker={"size": 4, "color": color},
            hovertemplate=_hover(metric),
        )
    for status, symbol, label in (
        (col.STOPPED_EARLY, "x", "stopped by the scheduler"),
        (col.ERRORED, "square", "errored"),
    ):
        ends = [t for t in traced if t.status == status]
        if ends:
            figure.add_scatter(
                x=[max(t.curve) for t in ends],
                y=[t.curve[max(t.curve)] for t in ends],
                text=[t.trial_id for t in ends],
                mode="markers",
                name=f"{label}, at its last iteration",
                marker={"symbol": symbol, "size": 10, "color": STATUSES[status][1]},
                hovertemplate=_hover(metric),
            )
    return figure


def slice_params(
    experiment: StoredExperiment, importances: dict[str, float] | Skipped
) -> list[str]:
    """The two parameters to slice: the most important, or without importance the first two
    that vary."""
    if isinstance(importances, dict):
        return list(importances)[:2]
    return varying(experiment.sampled, [t.config for t in _scored(experiment)])[:2]


def slices(experiment: StoredExperiment, params: list[str]) -> Plot:
    """The score against each of ``params``, a panel each, coloured by trial number."""
    if not params:
        return Skipped("no parameter takes several values among the scored trials")
    scored = _scored(experiment)
    number = {t.trial_id: i for i, t in enumerate(experiment.trials)}
    figure = make_subplots(rows=1, cols=len(params), shared_yaxes=True, horizontal_spacing=0.05)
    figure.update_layout(
        template="plotly_white", height=HEIGHT, margin={"l": 70, "r": 20, "t": 30, "b": 60}
    )
    for column, name in enumerate(params, 1):
        spec = experiment.space[name]
        categorical = isinstance(spec, Options)
        points = [t for t in scored if name in t.config]
        figure.add_scatter(
            x=[str(t.config[name]) if categorical else t.config[name] for t in points],
            y=[t.score for t in points],
            text=[t.trial_id for t in points],
            mode="markers",
            showlegend=False,
            marker={
                "color": [number[t.trial_id] for t in points],
                "colorscale": "Blues",
                "showscale": column == 1,
                "colorbar": {"title": {"text": "trial"}},
                "line": {"width": 0.5, "color": "#333"},
            },
            hovertemplate=_hover(experiment.objective.metric),
            row=1,
            col=column,
        )
        kind = "category" if categorical else "log" if spec.log else "linear"
        figure.update_xaxes(title_text=name, type=kind, row=1, col=column)
    figure.update_yaxes(title_text=_metric(experiment), row=1, col=1)
    return figure


def pareto(experiment: StoredExperiment) -> Plot:
    """Every trial's objectives, the Pareto front highlighted (a scatter matrix beyond two)."""
    objective = experiment.objective
    if not objective.multi:
        return Skipped("the recipe has one objective: there is no Pareto front")
    points = [t for t in experiment.trials if all(v is not None for v in t.values)]
    if not points:
        return Skipped("no trial reported every objective")
    front = {row[col.TRIAL_ID] for row in pareto_front(experiment.rows, objective)}
    titles = [f"{m} ({mode})" for m, mode in objective.targets.items()]
    if len(titles) > 2:
        figure = _figure(height=260 * len(titles))
        figure.add_trace(
            go.Splom(
                dimensions=[
                    {"label": title, "values": [t.values[i] for t in points]}
                    for i, title in enumerate(titles)
                ],
                text=[t.trial_id for t in points],
                marker={"color": [FRONT if t.trial_id in front else DOMINATED for t in points]},
                diagonal={"visible": False},
                showupperhalf=False,
            )
        )
        return figure
    figure = _figure(xaxis_title=titles[0], yaxis_title=titles[1])
    on = sorted((t for t in points if t.trial_id in front), key=lambda t: t.values[0] or 0.0)
    for group, name, color, mode in (
        ([t for t in points if t.trial_id not in front], "dominated or infeasible", DOMINATED, ""),
        (on, "Pareto front", FRONT, "lines+"),
    ):
        if group:
            figure.add_scatter(
                x=[t.values[0] for t in group],
                y=[t.values[1] for t in group],
                text=[t.trial_id for t in group],
                mode=mode + "markers",
                name=name,
                marker={"color": color, "size": 9},
                line={"color": color},
                hovertemplate="trial %{text}<br>%{x:.4g}, %{y:.4g}<extra></extra>",
            )
    return figure


def compute(experiment: StoredExperiment, payoff: Payoff) -> Plot:
    """The best so far against the compute spent, with the pay-off point marked."""
    if payoff.point is None:
        return Skipped(f"no completed, feasible trial reported {experiment.objective.metric}")
    unit = f"{payoff.resource}-seconds spent"
    figure = _figure(xaxis_title=unit, yaxis_title=f"best {_metric(experiment)}")
    steps = [(s, b) for s, b in zip(payoff.spent, payoff.best, strict=True) if b is not None]
    figure.add_scatter(
        x=[s for s, _ in steps],
        y=[b for _, b in steps],
        mode="lines+markers",
        line={"shape": "hv", "color": "black"},
        marker={"size": 5},
        name="best so far, at each finished trial",
    )
    x, y = payoff.spent[payoff.point], payoff.best[payoff.point]
    figure.add_vrect(
        x0=x,
        x1=max(payoff.spent[-1], x),
        fillcolor=DOMINATED,
        opacity=0.2,
        line_width=0,
        annotation_text=f"< {PAYOFF_SHARE:.0%} of the total gain",
        annotation_position="top left",
    )
    figure.add_scatter(
        x=[x],
        y=[y],
        mode="markers",
        marker={"symbol": "star", "size": 16, "color": FRONT},
        name="where more trials stopped paying off",
    )
    return figure
