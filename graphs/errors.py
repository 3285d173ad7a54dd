"""The ringwatch exception hierarchy.

Every error a user can cause or fix derives from :class:`RingwatchError`; the command
line turns it into one clear line and a non-zero exit, never a traceback.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "DatasetError",
    "DetectionError",
    "IngestRejectedError",
    "ModelError",
    "Neo4jServerError",
    "NotFittedError",
    "QueryError",
    "RejectedFileError",
    "RingwatchError",
]


class RingwatchError(Exception):
    """Base class: a problem the user can understand and act on."""

    exit_code = 1


class ConfigError(RingwatchError):
    """Settings are missing or contradictory (database URI, password file, paths)."""

    exit_code = 2


class Neo4jServerError(RingwatchError):
    """The managed Neo4j server cannot be installed, started, reached or stopped."""

    exit_code = 3


class DatasetError(RingwatchError):
    """A dataset directory or file breaks the input format as a whole."""

    exit_code = 4


class RejectedFileError(DatasetError):
    """One table file cannot be loaded at all (unreadable, empty, a required column
    missing); the other tables of the dataset still load."""

    def __init__(self, path: object, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class IngestRejectedError(DatasetError):
    """An ingest finished but rejected files or quarantined rows (the report says which)."""


class QueryError(RingwatchError):
    """An analyst query is unknown, lacks a parameter, writes, or fails on the server."""

    exit_code = 7


class DetectionError(RingwatchError):
    """Detection cannot run on the graph it was given."""

    exit_code = 5


class ModelError(RingwatchError):
    """A model file is missing, unreadable or was trained on other features."""

    exit_code = 6


class NotFittedError(RingwatchError):
    """A detector or model was used before ``fit``."""
