"""Folder and file names of a pull: ``OUT/study_<hash>/<NNN>_<MODALITY>_<hash>/<NNNNN>_<hash>.dcm``.

Names are derived from the UIDs written into the files (the replacement UIDs when the pull
de-identifies), so that a rerun knows which instances it already has without reading them,
and carry no patient identifiers. The study folder is the same ``study_<hash>`` that
``convert`` writes for the study.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

#: suffix of an instance being written (renamed into place when complete)
PARTIAL_SUFFIX = ".partial"
MANIFEST_NAME = "manifest.json"


def _short(uid: str, n: int = 8) -> str:
    return hashlib.sha1(uid.encode()).hexdigest()[:n]


def study_folder(study_uid: str) -> str:
    """Folder name of a study (as :attr:`imaging_triage.ingest.SeriesRecord.study_folder`).

    Examples
    --------
    >>> study_folder("1.2.3")
    'study_6f9f33482d'
    """
    from imaging_triage.ingest import SeriesRecord

    return SeriesRecord(input="", files=[], study_uid=study_uid).study_folder


def series_folder(number: int | None, modality: str, series_uid: str) -> str:
    """Folder name of a series: number, modality and a hash of its UID.

    Examples
    --------
    >>> series_folder(2, "CT", "1.2.3.4")
    '002_CT_09c35807'
    """
    mod = re.sub(r"[^A-Za-z0-9]", "", modality)[:8] or "OT"
    return f"{number if number is not None else 0:03d}_{mod}_{_short(series_uid)}"


def instance_name(number: int | None, sop_uid: str) -> str:
    """File name of an instance: instance number and a hash of its SOP Instance UID."""
    return f"{number if number is not None else 0:05d}_{_short(sop_uid, 12)}.dcm"


def partial_files(folder: Path) -> list[Path]:
    """Leftovers of writes that did not complete (a killed pull) in ``folder``."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.name.endswith(PARTIAL_SUFFIX))
