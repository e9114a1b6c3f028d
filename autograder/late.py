"""The late penalty's arithmetic, in one place: nbgrader's plugin (:class:`autograder.nbgrader_plugins.
PercentPerDayLatePenalty`) computes the gradebook's penalty with it, and the student's feedback (feedback.md,
feedback.html, results.json's ``late`` block, nbgrader's HTML feedback) describes it with it.

The course's policy (course.yml ``late_penalty_percent_per_day``): ``percent_per_day`` percent of the earned score
per started day (24 h) after the due date (extensions included), never more than the score.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SECONDS_PER_DAY = 86400


def started_days(seconds_late: float) -> int:
    """Started days (24 h) late: 0 when on time, 1 for a second to 24 h, 2 for 24 h and a second to 48 h..."""
    return math.ceil(seconds_late / SECONDS_PER_DAY) if seconds_late > 0 else 0


def penalty(score: float, seconds_late: float, percent_per_day: float) -> float:
    """``min(score, score * percent_per_day / 100 * started_days)``; 0 when on time or nothing was earned."""
    if seconds_late <= 0 or score <= 0 or percent_per_day <= 0:
        return 0.0
    return min(float(score), float(score) * percent_per_day / 100.0 * started_days(seconds_late))


def duration_text(seconds: float) -> str:
    """How late, for people: "1 day 5 h", "3 h 20 min", "45 s"."""
    seconds = max(0, int(round(seconds)))
    days, rest = divmod(seconds, SECONDS_PER_DAY)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} day{'s' if days != 1 else ''}" + (f" {hours} h" if hours else "")
    if hours:
        return f"{hours} h" + (f" {minutes} min" if minutes else "")
    if minutes:
        return f"{minutes} min"
    return f"{secs} s"


def _points(value: float) -> str:
    from autograder.report import points_text  # (here: this module loads with nbgrader's plugins, report is heavy)

    return points_text(value)


@dataclass
class Late:
    """A submission's lateness and penalty, as the student is told it (results.json's ``late`` block).

    ``source``: where the numbers come from: ``"gradebook"`` (nbgrader recorded the submission: its penalty,
    extensions included), ``"timestamp.txt"`` (a submission outside the gradebook, with the policy of course.yml),
    or ``"lms-mark"`` (the LMS marked the file late but gave no time: no penalty could be computed).
    ``score_before`` and ``max_score`` are what the penalty applies to (the gradebook's score includes a TA's
    points so far)."""

    source: str
    seconds_late: float | None
    percent_per_day: float
    score_before: float
    max_score: float
    penalty: float
    submitted_at: str = ""
    due: str = ""

    @property
    def days(self) -> int:
        return started_days(self.seconds_late or 0.0)

    @property
    def score_after(self) -> float:
        return max(0.0, self.score_before - self.penalty)

    @property
    def is_late(self) -> bool:
        return self.source == "lms-mark" or (self.seconds_late or 0) > 0

    def line(self) -> str:
        """One sentence: "Late by 1 day 5 h (2 started days x 10 %): -3.6 points -> 14.4 / 20"."""
        if self.source == "lms-mark":
            return ("The LMS marked this submission late but gave no submission time, so the late penalty has not "
                    "been computed yet; your instructor will.")
        if not self.is_late:
            return ""
        if self.percent_per_day <= 0 and not self.penalty:
            return f"Late by {duration_text(self.seconds_late or 0)} (this course has no late penalty)"
        days = self.days
        how = f"{days} started day{'s' if days != 1 else ''} x {_points(self.percent_per_day)} %"
        return (f"Late by {duration_text(self.seconds_late or 0)} ({how}): -{_points(self.penalty)} points -> "
                f"{_points(self.score_after)} / {_points(self.max_score)}")

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "seconds_late": self.seconds_late, "started_days": self.days,
                "percent_per_day": self.percent_per_day, "score_before": self.score_before,
                "penalty": self.penalty, "score_after": self.score_after, "max_score": self.max_score,
                "submitted_at": self.submitted_at, "due": self.due, "text": self.line()}


def parse_time(text: str) -> datetime:
    """A timestamp.txt's time (nbgrader's format, or any ISO 8601) as naive UTC, as nbgrader stores it."""
    from nbgrader.utils import parse_utc

    parsed = parse_utc(text.strip())
    return parsed.replace(tzinfo=None) if parsed.tzinfo is None else parsed.astimezone(UTC).replace(tzinfo=None)


MAX_TIMESTAMP_BYTES = 200  # nbgrader writes "2027-01-25 23:59:00.123456 UTC"


def read_timestamp_file(path: Path) -> str:
    """A ``timestamp.txt``'s text: a regular file only (never a link, a FIFO or a device), its first
    :data:`MAX_TIMESTAMP_BYTES` bytes; OSError or UnicodeDecodeError otherwise."""
    from autograder.grade import open_regular

    with open_regular(path) as f:
        return f.read(MAX_TIMESTAMP_BYTES).decode("utf-8")


def from_timestamp_file(path: Path, due: datetime | None, percent_per_day: float, score: float,
                        max_score: float) -> Late | None:
    """The penalty of a submission outside the gradebook whose ``timestamp.txt`` is ``path`` (None when there is
    no such file, no due date, or the file cannot be read)."""
    if due is None:
        return None
    try:
        submitted = parse_time(read_timestamp_file(path))
    except Exception:  # noqa: BLE001 - whatever a hand-placed file holds (dateutil also raises OverflowError)
        return None
    due_utc = due.astimezone(UTC).replace(tzinfo=None) if due.tzinfo is not None else due
    seconds = (submitted - due_utc).total_seconds()
    return Late("timestamp.txt", max(0.0, seconds), percent_per_day, score, max_score,
                penalty(score, seconds, percent_per_day), submitted.isoformat(" "), due_utc.isoformat(" "))
