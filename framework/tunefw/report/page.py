"""The report page: a summary, the plots and the top trials in one self-contained HTML file.

plotly.js is inlined once, in the head, so the page opens without a network; each plot is a
``div`` drawn by it. A plot that does not apply shows its reason instead.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

import plotly.io as pio
from plotly.offline import get_plotlyjs

from tunefw.report import Skipped, figures
from tunefw.report.importance import param_importances
from tunefw.report.payoff import PAYOFF_SHARE, Payoff, payoff
from tunefw.report.trials import StoredExperiment
from tunefw.store import columns as col
from tunefw.store.ranking import best_trial, pareto_front, ranked_trials

TOP = 10
PLOT_CONFIG = {"displaylogo": False, "responsive": True}
STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #222;
       padding: 0 1rem; }
h1 { margin-bottom: 0.2rem; }
.summary { color: #555; margin-top: 0; }
section { margin: 2rem 0; }
.caption { color: #444; }
.note { color: #666; font-style: italic; border-left: 3px solid #ccc; padding-left: 0.6rem; }
table { border-collapse: collapse; font-size: 0.9rem; }
th, td { border-bottom: 1px solid #ddd; padding: 0.25rem 0.6rem; text-align: right; }
th { background: #f4f4f4; }
td.text, th.text { text-align: left; }
"""


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    caption: str
    plot: figures.Plot


def sections(experiment: StoredExperiment) -> list[Section]:
    """Every plot of the report, in page order, each with what it shows."""
    objective = experiment.objective
    importances = param_importances(experiment)
    sliced = figures.slice_params(experiment, importances)
    spent = payoff(experiment)
    ranked_by = "importance" if isinstance(importances, dict) else "order in the space"
    open_circles = " Open circles break a constraint." if objective.constraints else ""
    return [
        Section(
            "history",
            "Optimization history",
            "Each trial's final score, in the order the trials finished; the line is the best "
            f"so far among completed, feasible trials.{open_circles}",
            figures.history(experiment),
        ),
        Section(
            "parallel",
            "Parallel coordinates",
            "One line per scored trial, through its parameters to its score.",
            figures.parallel(experiment),
        ),
        Section(
            "importance",
            "Parameter importance",
            f"fANOVA on every scored trial's final {objective.metric}: each parameter's share "
            "of the score's variance, from a seeded random forest.",
            figures.importance(importances),
        ),
        Section(
            "curves",
            "Learning curves",
            f"{objective.metric} at each iteration, one line per trial; an x marks a trial the "
            "scheduler stopped early, at its last iteration.",
            figures.curves(experiment),
        ),
        Section(
            "slices",
            "Slices",
            f"The score against the top {len(sliced)} parameters by {ranked_by}; darker points "
            "are later trials.",
            figures.slices(experiment, sliced),
        ),
        Section(
            "pareto",
            "Pareto front",
            "Every trial's objectives; the front is the feasible trials no other beats on all.",
            figures.pareto(experiment),
        ),
        Section(
            "compute",
            "Score against compute",
            _payoff_caption(spent),
            figures.compute(experiment, spent),
        ),
    ]


def _payoff_caption(spent: Payoff) -> str:
    caption = (
        f"The best so far against the {spent.resource}-seconds spent by every trial finished "
        "so far (stopped and errored ones included)."
    )
    if spent.point is None:
        return caption
    total = spent.spent[-1]
    after = (total - spent.spent[spent.point]) / total if total else 0.0
    return (
        f"{caption} The star marks where more trials stopped paying off: after trial "
        f"{spent.point + 1} of {len(spent.spent)} to finish, the best moved by less than "
        f"{PAYOFF_SHARE:.0%} of its total improvement, while {after:.0%} of the compute was "
        "still to be spent."
    )


def render(experiment: StoredExperiment) -> str:
    """The whole page."""
    body = [_summary(experiment)]
    for section in sections(experiment):
        body.append(f"<section id={section.key}><h2>{html.escape(section.title)}</h2>")
        if isinstance(section.plot, Skipped):
            body.append(f'<p class="note">Left out: {html.escape(section.plot.reason)}.</p>')
        else:
            body.append(f'<p class="caption">{html.escape(section.caption)}</p>')
            body.append(
                pio.to_html(
                    section.plot,
                    full_html=False,
                    include_plotlyjs=False,
                    config=PLOT_CONFIG,
                    div_id=f"plot-{section.key}",
                )
            )
        body.append("</section>")
    body.append(_top_trials(experiment))
    title = html.escape(f"{experiment.name}: tunefw report")
    return (
        f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{title}</title>\n<style>{STYLE}</style>\n"
        f'<script type="text/javascript">{get_plotlyjs()}</script>\n</head>\n<body>\n'
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )


def _summary(experiment: StoredExperiment) -> str:
    manifest, objective = experiment.manifest, experiment.objective
    recipe = manifest["recipe"]
    counts: dict[str, int] = {}
    for trial in experiment.trials:
        counts[trial.status] = counts.get(trial.status, 0) + 1
    statuses = ", ".join(f"{n} {status.replace('_', ' ')}" for status, n in counts.items())
    best = best_trial(experiment.rows, objective)
    scored = (
        "no feasible trial"
        if best is None
        else f"best {best.metric} {best.score:.4g} (trial {best.trial_id})"
    )
    targets = ", ".join(f"{m} ({mode})" for m, mode in objective.targets.items())
    facts = [
        f"status {manifest['status']}",
        f"started {(manifest.get('started_at') or '')[:19].replace('T', ' ')}",
        f"{recipe['search']['strategy']} search",
        f"scheduler {recipe['scheduler']['type']}",
        f"{len(experiment.trials)} trials ({statuses})",
        f"objective {targets}",
        scored,
    ]
    return (
        f"<h1>{html.escape(experiment.name)}</h1>\n"
        f'<p class="summary">{html.escape(" · ".join(facts))}</p>'
    )


def _top_trials(experiment: StoredExperiment) -> str:
    objective = experiment.objective
    ranked = ranked_trials(experiment.rows, objective)[:TOP]
    parts = ["<section id=top><h2>Top trials</h2>"]
    if not ranked:
        parts.append(f'<p class="note">Left out: no trial reported {objective.metric}.</p>')
        return "\n".join([*parts, "</section>"])
    parts.append(
        '<p class="caption">Feasible trials first, then those that ran to completion, then by '
        f"{objective.metric}, as <code>tunefw results</code> ranks them.</p>"
    )
    metrics = list(objective.reported_metrics())
    front = {r[col.TRIAL_ID] for r in pareto_front(experiment.rows, objective)}
    head = ["#", "trial", "status", "iterations", "suggested by", *experiment.sampled, *metrics]
    head += ["CPU-s"]
    head += ["Pareto front"] if objective.multi else []
    cells = [
        [
            i,
            row[col.TRIAL_ID],
            row[col.STATUS],
            row[col.ITERATION],
            row.get(col.SUGGESTED_BY) or "",
            *(row.get(col.CONFIG_PREFIX + p) for p in experiment.sampled),
            *(row.get(col.METRIC_PREFIX + m) for m in metrics),
            row[col.CPU_SECONDS],
            *(["yes" if row[col.TRIAL_ID] in front else ""] if objective.multi else []),
        ]
        for i, row in enumerate(ranked, 1)
    ]
    kinds = [
        "text" if any(isinstance(r[j], str) for r in cells) else "num" for j in range(len(head))
    ]
    parts.append("<table><thead><tr>")
    parts += [f'<th class="{k}">{html.escape(h)}</th>' for h, k in zip(head, kinds, strict=True)]
    parts.append("</tr></thead><tbody>")
    for values in cells:
        tds = [
            f'<td class="{k}">{html.escape(_fmt(v))}</td>'
            for v, k in zip(values, kinds, strict=True)
        ]
        parts.append("<tr>" + "".join(tds) + "</tr>")
    parts.append("</tbody></table></section>")
    return "\n".join(parts)


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:.4g}" if isinstance(value, float) else str(value)
