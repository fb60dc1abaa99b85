"""The per-study manifest of a pull: ``OUT/study_<hash>/manifest.json``.

Rewritten atomically after each series, so it always describes files that exist. It holds
the UIDs as written (replacement UIDs in a de-identified pull, which then has no
descriptions either), the number of instances expected and present per series and the
reasons of any instance that could not be written.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from imaging_triage.volume import atomic_write_json


@dataclass
class SeriesEntry:
    """One series of a pulled study."""

    folder: str
    series_uid: str
    modality: str
    number: int | None
    description: str
    expected: int
    present: int = 0
    #: reasons of instances not written (e.g. quarantined by de-identification)
    failed: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """Whether every instance the server listed is on disk."""
        return self.present >= self.expected and not self.failed


@dataclass
class StudyManifest:
    """What a pull wrote for one study."""

    study_uid: str
    source: str
    deidentified: bool
    pulled_at: str = ""
    series: list[SeriesEntry] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary."""
        return asdict(self)

    def write(self, path: str | os.PathLike[str]) -> None:
        """Write as JSON, atomically."""
        atomic_write_json(path, self.as_dict())

    @classmethod
    def read(cls, path: str | os.PathLike[str]) -> StudyManifest:
        """Read a manifest written by :meth:`write`."""
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
        series = [SeriesEntry(**s) for s in doc.pop("series", [])]
        return cls(series=series, **doc)
