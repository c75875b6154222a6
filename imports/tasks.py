"""The import job: load by id, run, return quietly when the job is gone or already taken."""

from celery import shared_task

from imports import services


@shared_task(name="imports.tasks.run_import")
def run_import(job_id: int) -> str | None:
    """Run a queued import (dry run or real). A second delivery of the message finds the job no
    longer queued and does nothing; a job that fails is marked failed, never retried half-way."""
    job = services.import_run(job_id=job_id)
    return job.status if job is not None else None
