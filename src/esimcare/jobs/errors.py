"""Failures the job machinery itself understands (not domain errors: no HTTP status)."""

from __future__ import annotations


class JobError(Exception):
    """Base for errors raised by or to the job queue and worker."""


class PermanentJobError(JobError):
    """The job can never succeed; the worker buries it at once instead of retrying."""


class LeaseLostError(JobError):
    """The job is no longer ours: the lease expired and another worker took it, or it ended.

    Raised inside the caller's transaction so the step's state change rolls back with it.
    """
