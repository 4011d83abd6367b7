"""Entry point: wires the command groups and maps known errors to one line and exit 2.

Warnings on the ``tunefw`` logger (a results part skipped, a damaged experiment left out of
a listing) are shown as one ``warning:`` line each on stderr. Set ``TUNEFW_DEBUG=1`` to see
the traceback of any error.

The command modules import the run machinery (Ray Tune, Ray's job client, and through the
stop rules scikit-learn) inside the commands that use it: typer builds every command for
``--help`` and for each shell-completion request, which then take about a second, not four.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text

from tunefw import __version__
from tunefw.cli import (
    cluster_cmd,
    experiments_cmd,
    jobs_cmd,
    plugins_cmd,
    report_cmd,
    results_cmd,
    run_cmd,
)
from tunefw.cli.new_plugin_cmd import new_plugin
from tunefw.errors import TunefwError

app = typer.Typer(
    name="tunefw",
    help="Hyperparameter tuning from a YAML recipe, on Ray Tune with ASHA, results in Parquet.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
)
app.command("run")(run_cmd.run)
app.command("resume")(run_cmd.resume_cmd)
app.command("validate")(run_cmd.validate)
app.command("plugins")(plugins_cmd.plugins)
app.command("new-plugin")(new_plugin)
app.command("results")(results_cmd.results)
app.command("best")(results_cmd.best)
app.command("experiments")(experiments_cmd.experiments)
app.command("compare")(experiments_cmd.compare)
app.command("report")(report_cmd.report)
app.command("export")(report_cmd.export)
app.command("submit")(jobs_cmd.submit)
app.command("jobs")(jobs_cmd.list_jobs)
app.command("logs")(jobs_cmd.logs)
app.command("stop")(jobs_cmd.stop)
app.add_typer(cluster_cmd.cluster_app, name="cluster")


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"tunefw {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", is_eager=True, callback=_show_version, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """Options that apply before any command: --version, shell completion."""


USAGE_EXIT = 2


def _fail(console: Console, message: str, code: int) -> int:
    for line in message.strip().splitlines() or [message]:
        console.print(Text.assemble(("error: ", "bold red"), line), soft_wrap=True)
    return code


class _WarningLines(logging.Handler):
    """Each warning record as one ``warning:`` line on the console."""

    def __init__(self, console: Console) -> None:
        super().__init__(logging.WARNING)
        self.console = console

    def emit(self, record: logging.LogRecord) -> None:
        line = Text.assemble(("warning: ", "bold yellow"), record.getMessage())
        self.console.print(line, soft_wrap=True)


@contextmanager
def _warnings_shown(console: Console) -> Iterator[None]:
    """Show tunefw's warnings while a command runs, whatever level the root logger has (a
    library or the user's own logging set-up may raise it): a skipped damaged part, a logger
    that stopped, must not pass unseen."""
    logger = logging.getLogger("tunefw")
    handler = _WarningLines(console)
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)
        logger.removeHandler(handler)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns (and exits with) the process exit code."""
    console = Console(stderr=True)
    debug = os.environ.get("TUNEFW_DEBUG") == "1"
    command = typer.main.get_command(app)
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        with _warnings_shown(console):
            result = command.main(args, prog_name="tunefw", standalone_mode=False)
    except typer.TyperException as exc:  # usage errors: unknown flag, missing argument...
        if debug:
            raise
        code = _fail(console, exc.format_message(), exc.exit_code)
    except TunefwError as exc:
        if debug:
            raise
        code = _fail(console, str(exc), USAGE_EXIT)
    else:  # outside standalone mode, typer.Exit (and Ctrl-C, as 130) come back as the result
        code = result if isinstance(result, int) else 0
    if argv is None:
        sys.exit(code)
    return code
