"""The recipe's ``loggers`` section: Ray Tune's experiment-tracking callbacks, by ``type``.

Each section builds its callback (``callback``), imported only then (``running.loggers``).

Parquet stays the record; a logger sends the same results to TensorBoard, MLflow or W&B too.
Each logger's package is checked on the driver when the experiment is compiled (so by
``tunefw validate``), not when the recipe is parsed: trial workers parse the recipe as well,
and need none of these packages.
"""

from __future__ import annotations

from collections.abc import Container, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

from tunefw.errors import RecipeError
from tunefw.recipe.objective import Objective
from tunefw.recipe.space import ParamSpec
from tunefw.recipe.union_tags import tags

if TYPE_CHECKING:
    from ray.tune import Callback

    from tunefw.store.layout import ExperimentLocation


@dataclass(frozen=True)
class LoggedRun:
    """What a logger's callback is built from: the run it logs."""

    location: ExperimentLocation
    space: Mapping[str, ParamSpec]
    objective: Objective
    early_stopped: Container[str]
    """The trials the scheduler stops early, filled in as it does."""


class _Logger(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    module: ClassVar[str]
    """The module the logger needs, checked before the callback is built."""
    package: ClassVar[str]
    """What ``pip install`` gives that module."""
    per_stored_trial: ClassVar[bool] = False
    """Its callback logs tunefw's trials (``running.trial_events``), not Ray Tune's: in lean
    mode, each config of a pack."""


class TensorBoardLogger(_Logger):
    """TensorBoard event files in each trial's directory, ``<storage>/<experiment>/ray/<trial>/``:
    ``tensorboard --logdir <storage>/<experiment>/ray``."""

    module: ClassVar[str] = "tensorboardX"
    package: ClassVar[str] = "tensorboardX"
    type: Literal["tensorboard"] = "tensorboard"

    def callback(self, run: LoggedRun, field: str) -> Callback:
        from ray.tune.logger import TBXLoggerCallback

        return TBXLoggerCallback()  # type: ignore[no-untyped-call]


class MlflowLogger(_Logger):
    """One MLflow run per trial: its config as params, every result as metrics.

    A token goes in ``MLFLOW_TRACKING_TOKEN``, never in the recipe (the manifest keeps it).
    """

    module: ClassVar[str] = "mlflow"
    package: ClassVar[str] = "mlflow"
    type: Literal["mlflow"] = "mlflow"
    tracking_uri: str | None = Field(
        None, description="A server or a file:// store; MLflow's default if not given."
    )
    experiment_name: str | None = Field(None, description="The experiment's name if not given.")
    tags: dict[str, str] = Field(default_factory=dict, description="Set on every trial's run.")

    def callback(self, run: LoggedRun, field: str) -> Callback:
        from tunefw.running.loggers.mlflow_callback import MlflowCallback

        return MlflowCallback(
            field,
            self.tracking_uri,
            experiment_name=self.experiment_name or run.location.name,
            tags=dict(self.tags),
        )


class WandbLogger(_Logger):
    """One W&B run per trial, in the group of the experiment.

    The API key comes from ``WANDB_API_KEY``, ``wandb login`` or ``api_key_file``. W&B's files
    (offline runs, which ``wandb sync`` uploads later) go to ``dir``.
    """

    module: ClassVar[str] = "wandb"
    package: ClassVar[str] = "wandb"
    type: Literal["wandb"] = "wandb"
    project: str | None = Field(None, description="The experiment's name if not given.")
    group: str | None = Field(None, description="The experiment's name if not given.")
    entity: str | None = None
    mode: Literal["online", "offline", "disabled"] | None = Field(
        None, description="W&B's default (``WANDB_MODE``) if not given."
    )
    api_key_file: str | None = None
    dir: str | None = Field(
        None,
        description="Where W&B writes its files: <storage>/<experiment>/wandb for a local "
        "storage if not given, else W&B's default.",
    )

    def callback(self, run: LoggedRun, field: str) -> Callback:
        from tunefw.running.loggers.wandb_callback import WandbCallback

        location = run.location
        default_dir = f"{location.path}/wandb" if location.storage.is_local else None
        options: dict[str, Any] = {
            "entity": self.entity,
            "mode": self.mode,
            "dir": self.dir or default_dir,
        }
        return WandbCallback(
            field,
            project=self.project or location.name,
            group=self.group or location.name,
            api_key_file=self.api_key_file,
            **{name: value for name, value in options.items() if value is not None},
        )


class OptunaJournalLogger(_Logger):
    """The study in an Optuna journal file, written as trials run: ``optuna-dashboard FILE``
    shows it live. Each trial once (in lean mode, each config, when it ends); a resumed run
    carries on the same study. A journal write that fails warns once; the run goes on."""

    module: ClassVar[str] = "optuna"
    package: ClassVar[str] = "optuna"
    per_stored_trial: ClassVar[bool] = True
    type: Literal["optuna_journal"] = "optuna_journal"
    path: Path | None = Field(
        None,
        description="The journal file: <storage>/<experiment>/optuna-journal.log for a local "
        "storage if not given (a journal is a local file: give one for remote storage).",
    )
    study_name: str | None = Field(None, description="The experiment's name if not given.")

    def journal(self, location: ExperimentLocation, field: str) -> Path:
        """The journal's path; a one-line ``RecipeError`` if it has none to default to."""
        if self.path is not None:
            return self.path
        if not location.storage.is_local:
            raise RecipeError(
                f"{field}.path: give the journal file: the storage {location.shown} is not "
                "a local folder, and an Optuna journal is a local file"
            )
        return Path(location.path) / "optuna-journal.log"

    def callback(self, run: LoggedRun, field: str) -> Callback:
        from tunefw.running.loggers.optuna_journal import OptunaJournalCallback

        return OptunaJournalCallback(
            field,
            self.journal(run.location, field),
            self.study_name or run.location.name,
            run.space,
            run.objective,
            run.early_stopped,
        )


def _type_of(value: Any) -> str | None:
    found = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return found if isinstance(found, str) else None


_Loggers = (
    Annotated[TensorBoardLogger, Tag("tensorboard")]
    | Annotated[MlflowLogger, Tag("mlflow")]
    | Annotated[WandbLogger, Tag("wandb")]
    | Annotated[OptunaJournalLogger, Tag("optuna_journal")]
)
LOGGER_TYPES = tags(_Loggers)

LoggerSection = Annotated[
    _Loggers,
    Discriminator(
        _type_of,
        custom_error_type="logger_type",
        custom_error_message=f"type must be one of {', '.join(LOGGER_TYPES)}",
    ),
]
"""One entry of the ``loggers`` list."""
