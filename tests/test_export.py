"""``tunefw export --to optuna-journal`` on real experiments, read back with Optuna."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.distributions import FloatDistribution, IntDistribution
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.study import StudyDirection
from optuna.trial import TrialState

from tunefw.cli.main import main
from tunefw.store import columns as col
from tunefw.store.layout import Storage, find_experiment
from tunefw.store.reader import final_rows, read_results

from .report_helpers import ASHA, FLAKY, PARETO

pytestmark = pytest.mark.usefixtures("ray_session")

STATES = {
    col.TERMINATED: TrialState.COMPLETE,
    col.STOPPED_EARLY: TrialState.PRUNED,
    col.ERRORED: TrialState.FAIL,
}


@pytest.fixture
def storage(stored_experiments: Path) -> Path:
    """The experiments the report and export tests read (run once per session)."""
    return stored_experiments


def export(storage: Path, name: str, journal: Path) -> optuna.Study:
    args = ["export", name, "--to", "optuna-journal", str(journal), "--storage", str(storage)]
    assert main(args) == 0
    return optuna.load_study(
        study_name=name, storage=JournalStorage(JournalFileBackend(str(journal)))
    )


def stored(storage: Path, name: str) -> tuple[dict[str, dict[str, Any]], dict[str, list[Any]]]:
    """Each trial's final row, and every row of each trial in iteration order."""
    table = read_results(find_experiment(Storage.open(str(storage)), name))
    finals = {r[col.TRIAL_ID]: r for r in final_rows(table).to_pylist()}
    rows: dict[str, list[Any]] = {}
    for row in table.sort_by(col.ITERATION).to_pylist():
        rows.setdefault(row[col.TRIAL_ID], []).append(row)
    return finals, rows


def by_tunefw_id(study: optuna.Study) -> dict[str, optuna.trial.FrozenTrial]:
    return {t.user_attrs["tunefw_trial_id"]: t for t in study.trials}


def test_asha_experiment_reads_back_as_its_store(storage, tmp_path):
    study = export(storage, ASHA, tmp_path / "asha.journal")
    finals, rows = stored(storage, ASHA)
    trials = by_tunefw_id(study)
    assert set(trials) == set(finals) and len(study.trials) == 8
    assert study.direction == StudyDirection.MAXIMIZE
    assert study.metric_names == ["accuracy"]
    assert {t.state for t in study.trials} == {TrialState.COMPLETE, TrialState.PRUNED}
    for trial_id, trial in trials.items():
        final = finals[trial_id]
        assert trial.state == STATES[final[col.STATUS]]
        assert trial.params == {"C": final["config.C"], "gamma": final["config.gamma"]}
        assert trial.distributions["C"] == FloatDistribution(1.0e-2, 1.0e3, log=True)
        assert trial.value == final["metric.accuracy"], "pruned ones at their last value"
        assert trial.intermediate_values == {
            r[col.ITERATION]: r["metric.accuracy"] for r in rows[trial_id]
        }
        ended = final[col.TIMESTAMP].astimezone().replace(tzinfo=None)  # Optuna's local time
        assert trial.datetime_complete == ended
        assert trial.datetime_start < trial.datetime_complete
    best = max(
        (r for r in finals.values() if r[col.STATUS] == col.TERMINATED),
        key=lambda r: r["metric.accuracy"],
    )
    assert study.best_trial.user_attrs["tunefw_trial_id"] == best[col.TRIAL_ID]


def test_errored_trials_fail_and_constraints_carry_over(storage, tmp_path):
    study = export(storage, FLAKY, tmp_path / "flaky.journal")
    finals, _ = stored(storage, FLAKY)
    trials = by_tunefw_id(study)
    assert set(trials) == set(finals)
    assert {t.state for t in study.trials} == {TrialState.COMPLETE, TrialState.FAIL}
    for trial_id, trial in trials.items():
        final = finals[trial_id]
        assert trial.state == STATES[final[col.STATUS]]
        assert trial.params == {"x": final["config.x"]}
        violation = final["metric.loss"] - 0.2
        assert trial.constraints == {"loss <= 0.2": pytest.approx(violation)}
        if trial.state == TrialState.FAIL:
            assert trial.values is None and final["config.x"] > 0.5
        else:
            assert trial.values == [final["metric.loss"]]
    feasible = [t for t in study.trials if t.state == TrialState.COMPLETE and t.value <= 0.2]
    assert study.best_trial.number == min(feasible, key=lambda t: t.value).number


def test_several_objectives_give_directions_and_values(storage, tmp_path):
    study = export(storage, PARETO, tmp_path / "pareto.journal")
    finals, _ = stored(storage, PARETO)
    assert study.directions == [StudyDirection.MAXIMIZE, StudyDirection.MINIMIZE]
    assert study.metric_names == ["accuracy", "fit_time"]
    for trial_id, trial in by_tunefw_id(study).items():
        final = finals[trial_id]
        assert trial.state == STATES[final[col.STATUS]]
        if trial.state == TrialState.PRUNED:  # MO-ASHA stopped it: Optuna keeps no values
            assert trial.values is None
        else:
            assert trial.values == [final["metric.accuracy"], final["metric.fit_time"]]
        assert trial.distributions["n_estimators"] == IntDistribution(5, 300, log=True)
        assert trial.distributions["max_features"] == FloatDistribution(0.1, 1.0, step=0.1)
    assert len(study.best_trials) >= 1
    assert all(math.isfinite(v) for t in study.best_trials for v in t.values)


def test_a_journal_holds_several_experiments(storage, tmp_path):
    journal = tmp_path / "all.journal"
    export(storage, ASHA, journal)
    export(storage, FLAKY, journal)
    names = {
        s.study_name
        for s in optuna.get_all_study_summaries(JournalStorage(JournalFileBackend(str(journal))))
    }
    assert names == {ASHA, FLAKY}


def test_bad_input_is_one_line_and_exit_2(storage, tmp_path, capsys):
    journal = tmp_path / "once.journal"
    export(storage, FLAKY, journal)
    not_a_journal = tmp_path / "notes.txt"
    not_a_journal.write_text("not a journal\n")
    cases = {
        str(journal): f"already holds a study named '{FLAKY}'",
        str(not_a_journal): "is not an Optuna journal file",
        str(tmp_path / "missing" / "x.journal"): "cannot write: No such file or directory",
    }
    for target, message in cases.items():
        capsys.readouterr()
        args = ["export", FLAKY, "--to", "optuna-journal", target, "--storage", str(storage)]
        assert main(args) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and message in err and "\n" not in err, err
    assert not_a_journal.read_text() == "not a journal\n", "left as it was"
    assert (
        main(["export", "nope", "--to", "optuna-journal", str(journal), "--storage", str(storage)])
        == 2
    )
    assert capsys.readouterr().err.startswith("error: no experiment 'nope' in ")
