"""tunefw runs as Ray jobs, through Ray's Jobs SDK: submit, list, logs, stop.

A submitted run is ``tunefw run RECIPE ...`` started on the cluster's head with the project
directory as its working directory, so the recipe, its data files and the user's modules go
with it. The driver's results go to the recipe's storage, which the submitter can read: a URI,
or a local path made absolute here (on a multi-node cluster the driver checks that every node
sees it).
"""

from __future__ import annotations

import asyncio
import shlex
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from ray.job_submission import JobDetails, JobStatus, JobSubmissionClient

from tunefw.errors import TunefwError, last_line

T = TypeVar("T")

#: Never shipped with the working directory, beside what ``.gitignore`` files exclude.
EXCLUDES = [".git", "**/__pycache__", "tunefw-results"]


@dataclass(frozen=True)
class Submission:
    """What to run: a recipe inside ``working_dir``, its storage and overrides."""

    recipe: Path
    working_dir: Path
    storage: str
    name: str
    overrides: Sequence[str] = ()

    def entrypoint(self) -> str:
        relative = self.recipe.resolve().relative_to(self.working_dir.resolve())
        args = ["tunefw", "run", relative.as_posix(), "--storage", self.storage]
        args += ["--name", self.name]
        for override in self.overrides:
            args += ["--set", override]
        return shlex.join(args)


def absolute_storage(storage: str) -> str:
    """A URI as it is; a local path made absolute, as the submitter sees it."""
    return storage if "://" in storage else str(Path(storage).expanduser().resolve())


def connect(address: str) -> JobSubmissionClient:
    """A Jobs SDK client for the dashboard at ``address`` (``http://HEAD:8265``)."""
    try:
        return JobSubmissionClient(address)
    except Exception as exc:  # the SDK raises bare Exception/ConnectionError/ValueError
        raise TunefwError(f"--address {address}: {last_line(exc)}") from None


AGENT_WAIT_S = 60.0
"""How long a submission waits for a job agent: a node's agent starts seconds after it joins."""
NO_AGENT = "No available agent to submit job"
"""What Ray answers (HTTP 500) until then."""


def submit(client: JobSubmissionClient, submission: Submission) -> str:
    """Submit the run; returns its submission id."""
    if not submission.recipe.resolve().is_relative_to(submission.working_dir.resolve()):
        raise TunefwError(
            f"{submission.recipe}: the recipe must be inside the working directory "
            f"{submission.working_dir} (which is shipped to the cluster)"
        )
    runtime_env = {"working_dir": str(submission.working_dir), "excludes": EXCLUDES}
    metadata = {"tunefw_experiment": submission.name, "tunefw_storage": submission.storage}
    deadline = time.monotonic() + AGENT_WAIT_S
    while True:
        try:
            job_id: str = client.submit_job(
                entrypoint=submission.entrypoint(), runtime_env=runtime_env, metadata=metadata
            )
        except Exception as exc:
            if NO_AGENT in str(exc) and time.monotonic() < deadline:
                time.sleep(1.0)  # a cluster just started: its job agents are still starting
                continue
            raise TunefwError(f"submit: {last_line(exc)}") from None
        return job_id


def jobs(client: JobSubmissionClient) -> list[JobDetails]:
    """Every submitted job, newest first."""
    listed = [job for job in _call("jobs", client.list_jobs) if job.submission_id]
    return sorted(listed, key=lambda job: job.start_time or 0, reverse=True)


def logs(client: JobSubmissionClient, job_id: str) -> str:
    return _call(f"logs {job_id}", client.get_job_logs, job_id)


def follow(client: JobSubmissionClient, job_id: str, write: Callable[[str], Any]) -> JobStatus:
    """Write the job's log as it grows until it ends; returns its final status."""

    async def tail() -> None:
        async for chunk in client.tail_job_logs(job_id):
            write(chunk)

    try:
        asyncio.run(tail())
    except Exception as exc:
        raise TunefwError(f"logs {job_id}: {last_line(exc)}") from None
    return _call(f"logs {job_id}", client.get_job_status, job_id)


def stop(client: JobSubmissionClient, job_id: str) -> bool:
    """Ask the job to stop; False if it had already ended."""
    return _call(f"stop {job_id}", client.stop_job, job_id)


def _call(what: str, method: Callable[..., T], *args: object) -> T:
    """The SDK's call, its errors (HTTP, connection, unknown job) as one line."""
    try:
        return method(*args)
    except Exception as exc:
        raise TunefwError(f"{what}: {last_line(exc)}") from None
