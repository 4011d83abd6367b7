"""``tunefw submit``, ``tunefw jobs``, ``tunefw logs`` and ``tunefw stop``: runs as Ray jobs."""

from __future__ import annotations

import logging
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from tunefw.cli.options import SetOption, recipe_overrides
from tunefw.cli.run_cmd import RecipeArg

if TYPE_CHECKING:
    from ray.job_submission import JobSubmissionClient

JobsAddressOption = Annotated[
    str,
    typer.Option(
        envvar="RAY_API_SERVER_ADDRESS",
        help="The cluster's dashboard, e.g. http://127.0.0.1:8265.",
    ),
]
JobArg = Annotated[str, typer.Argument(help="The job's submission id.")]


def submit(
    recipe: RecipeArg,
    address: JobsAddressOption,
    set_: SetOption = [],  # noqa: B006 (typer reads it)
    storage: Annotated[str | None, typer.Option(help="Overrides the recipe's storage.")] = None,
    name: Annotated[str | None, typer.Option(help="Overrides the recipe's name.")] = None,
    working_dir: Annotated[
        Path, typer.Option(help="Shipped to the cluster as the job's working directory.")
    ] = Path("."),
    wait: Annotated[
        bool, typer.Option("--wait", help="Follow the job's log until it ends.")
    ] = False,
) -> None:
    """Run a recipe on a cluster as a Ray job; prints its submission id."""
    from tunefw.cluster import jobs
    from tunefw.running.launch import prepare_source

    overrides = recipe_overrides(set_, storage, name)
    loaded = prepare_source(recipe, overrides)[0].recipe  # bad input fails here, not submitted
    submission = jobs.Submission(
        recipe=recipe,
        working_dir=working_dir,
        storage=jobs.absolute_storage(loaded.storage),
        name=loaded.name,
        overrides=set_,
    )  # fmt: skip
    client = jobs.connect(address)
    job_id = jobs.submit(client, submission)
    console = Console()
    console.print(f"submitted {job_id}: {loaded.name} → {submission.storage}", highlight=False)
    if wait:
        _follow_to_end(client, job_id)
    else:
        console.print(f"follow it with: tunefw logs {job_id} --follow --address {address}",
                      highlight=False)  # fmt: skip


def list_jobs(address: JobsAddressOption) -> None:
    """The cluster's submitted jobs, newest first."""
    from tunefw.cluster import jobs

    table = Table("status", "started", "entrypoint")
    table.add_column("submission id", no_wrap=True)
    for job in jobs.jobs(jobs.connect(address)):
        started = datetime.fromtimestamp(job.start_time / 1000) if job.start_time else None
        when = started.strftime("%Y-%m-%d %H:%M:%S") if started else "-"
        table.add_row(str(job.status.value), when, job.entrypoint, job.submission_id)
    Console().print(table)


def logs(
    job_id: JobArg,
    address: JobsAddressOption,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Until the job ends.")] = False,
) -> None:
    """A job's log (its driver's output)."""
    from tunefw.cluster import jobs

    client = jobs.connect(address)
    if follow:
        _follow_to_end(client, job_id)
    else:
        sys.stdout.write(jobs.logs(client, job_id))


def stop(job_id: JobArg, address: JobsAddressOption) -> None:
    """Stop a running job; its results so far stay in the store."""
    from tunefw.cluster import jobs

    stopped = jobs.stop(jobs.connect(address), job_id)
    Console().print(f"{job_id}: {'stopping' if stopped else 'had already ended'}",
                    highlight=False)  # fmt: skip


def _follow_to_end(client: JobSubmissionClient, job_id: str) -> None:
    from ray.job_submission import JobStatus

    from tunefw.cluster import jobs

    logging.getLogger("ray.dashboard.modules.job.sdk").setLevel(logging.WARNING)
    status = jobs.follow(client, job_id, sys.stdout.write)
    Console(stderr=True).print(f"{job_id}: {status.value}", highlight=False)
    if status != JobStatus.SUCCEEDED:
        raise typer.Exit(1)
