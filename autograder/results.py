"""What grading one submission produced: the record shared by the engine, the store and the reports.

``GradeResult.to_json`` is the versioned schema of ``autograded/<student>/<assignment>/result.json``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from .harness import CheckRun, TestResult

RESULT_SCHEMA_VERSION = 5  # 2: status needs_review, fields review and tampered; 3: lateness, penalty, override;
# 4: tests[].manual (a person's review of a manually graded part);
# 5: lang, the language of the submission's notebook (descriptions, messages and feedback are in it)
READABLE_SCHEMA_VERSIONS = (1, 2, 3, 4, 5)


class Status(StrEnum):
    graded = "graded"          # the hidden checks ran (some may have failed or hit limits)
    needs_review = "needs_review"  # graded, but a person must look before the score counts (``review`` says why)
    ungradable = "ungradable"  # the file could not be graded at all (corrupt, empty, wrong assignment, too big)
    error = "error"            # the grader itself failed; the submission should be regraded


@dataclass
class GradeResult:
    """One graded submission. ``reason`` explains a status other than graded, or a limit that was hit.

    ``review``: why a person must look (status needs_review; the score is that of the notebook run top to
    bottom, provisional). ``tampered``: locked cells the student changed or deleted, restored before grading.
    """

    student: str
    assignment: str
    content_hash: str
    status: Status
    score: float = 0.0
    max_score: float = 0.0
    reason: str = ""
    tests: list[TestResult] = field(default_factory=list)
    cell_errors: list[dict[str, str]] = field(default_factory=list)
    review: list[str] = field(default_factory=list)
    tampered: list[str] = field(default_factory=list)
    output: str = ""  # what the submission printed while its notebook ran, capped
    # what it printed while hidden checks called it: may echo their inputs, so for the course staff only (the
    # gradebook), never in result.json, feedback or exports
    check_output: str = ""
    backend: str = ""
    started_at: str = ""
    duration_s: float = 0.0
    # When it was handed in, and how that is known (timestamp.txt, zip entry time, file name, file modified
    # time); when it was due for this student (extension included); how late past that (0 when on time), and
    # the points the late policy deducts from ``score`` (the raw score, which stays as the checks gave it).
    submitted_at: str = ""
    time_source: str = ""
    due_at: str = ""
    late_seconds: float = 0.0
    penalty: float = 0.0
    # A person's override of the final score (``autograder override``): points, and who, when and why.
    override: dict[str, Any] | None = None
    # The student's text of each manually graded part (test id -> answer), as graded: what `autograder review`
    # shows a person. Kept in the gradebook only (result.json and feedback need not repeat the student's text).
    answers: dict[str, str] = field(default_factory=dict)
    # The language the student worked in (``metadata.autograder.lang``; "" before it was recorded: the base one).
    lang: str = ""

    @property
    def final_score(self) -> float:
        """What counts: the override when there is one, else the raw score less the late penalty (never < 0)."""
        if self.override is not None:
            return float(self.override["points"])
        return max(0.0, round(self.score - self.penalty, 6))

    @classmethod
    def from_run(cls, student: str, assignment: str, content_hash: str, run: CheckRun, **extra: Any
                 ) -> GradeResult:
        status = Status.needs_review if extra.get("review") else Status.graded
        return cls(student, assignment, content_hash, status, score=run.score, max_score=run.max_score,
                   tests=list(run.tests), cell_errors=list(run.cell_errors), **extra)

    @classmethod
    def ungradable(cls, student: str, assignment: str, content_hash: str, reason: str, max_score: float,
                   **extra: Any) -> GradeResult:
        return cls(student, assignment, content_hash, Status.ungradable, max_score=max_score, reason=reason,
                   **extra)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        del data["check_output"], data["answers"]
        data["status"] = self.status.value
        data["final_score"] = self.final_score
        data["schema_version"] = RESULT_SCHEMA_VERSION
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> GradeResult:
        data = dict(data)
        if data.pop("schema_version", None) not in READABLE_SCHEMA_VERSIONS:
            raise ValueError("unsupported result schema version")
        data["status"] = Status(data["status"])
        data["tests"] = [TestResult(**t) for t in data.get("tests", [])]
        data.pop("final_score", None)
        return cls(**data)


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
