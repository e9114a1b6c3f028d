"""User-facing errors: each class has an exit code and a message that says what to do.

Every error with an exit code of its own lives here. They are raised anywhere in the package and caught
in exactly one place, the CLI's ``main`` (see :mod:`autograder.cli`), which prints the message without a
traceback. Exit codes: 1 other, 2 course.yml or a hidden suite, 3 release, 4 submission paths, 5 sandbox
protection, 6 gradebook, 7 workbook, 8 data set, 9 cluster.
"""

from __future__ import annotations


class AutograderError(Exception):
    """Base class: a mistake the user can fix. ``str(e)`` is the whole message."""

    exit_code = 1


class ConfigError(AutograderError):
    """course.yml is missing, malformed, or disagrees with the notebooks."""

    exit_code = 2


class HiddenSuiteError(ConfigError):
    """A hidden test is wrong (calls a function the assignment does not declare): the instructor's to fix."""


class ReleaseError(AutograderError):
    """Releasing assignments failed or the committed release is stale."""

    exit_code = 3


class SubmissionError(AutograderError):
    """A submission path given on the command line cannot be used."""

    exit_code = 4


class SandboxError(AutograderError):
    """A required protection of the worker sandbox is not available."""

    exit_code = 5


class GradebookError(AutograderError):
    """nbgrader's gradebook is missing, locked, of another schema, or does not know the assignment or student."""

    exit_code = 6


class WorkbookError(AutograderError):
    """A course workbook is missing, incomplete, or has a formula that cannot be evaluated."""

    exit_code = 7


class DatasetError(AutograderError):
    """A data set is missing, corrupt or cannot be downloaded; the message says what to do."""

    exit_code = 8


class ClusterError(AutograderError):
    """The Dask cluster cannot be used (address, TLS, workers, resources), or submissions could not be graded
    because their grading workers kept dying (run the same command again)."""

    exit_code = 9
