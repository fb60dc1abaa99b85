"""A review of the SDH sample study, for the SR export tests (tests/review, tests/pacs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from imaging_triage.ingest import load, scan
from imaging_triage.review.findings import (
    Confidence,
    Finding,
    FindingType,
    Laterality,
    Location,
    Outcome,
    ReviewStatus,
    Urgency,
)
from imaging_triage.review.store import ReviewStore

SDH_SAMPLE = Path(__file__).resolve().parents[1] / "sample_data" / "dicom" / "02_ct_sdh"


def _ras(affine: np.ndarray, ijk: tuple[int, int, int]) -> tuple[float, float, float]:
    x, y, z, _ = affine @ np.array([*ijk, 1.0])
    return (float(x), float(y), float(z))


def build_sdh_review(path: Path) -> dict[str, Any]:
    """Write a review of the SDH sample into a new store at ``path``.

    Two active findings (a left SDH with a note, a right mass with edema), one retracted
    SAH, and the outcome "secondary cause suspected", critical, by "Dr Reader". Returns the
    stored findings (``sdh``, ``mass``, ``retracted``), the study ``key`` and ``series`` UID.
    """
    record = next(r for r in scan(SDH_SAMPLE).series if r.status.value == "ok")
    (volume,) = load(record)
    key, series_uid, affine = record.study_folder, record.series_uid, volume.affine
    sdh_ijk, mass_ijk, gone_ijk = (40, 60, 12), (90, 50, 15), (64, 64, 10)
    with ReviewStore(path) as store:
        store.register_study(key, source="02_ct_sdh", modality="CT")
        sdh = store.add_finding(
            Finding(
                key,
                FindingType.SDH,
                Location(_ras(affine, sdh_ijk), sdh_ijk, series_uid),
                laterality=Laterality.LEFT,
                confidence=Confidence.DEFINITE,
                note="left convexity crescent",
                reviewer="Dr Reader",
            )
        )
        mass = store.add_finding(
            Finding(
                key,
                FindingType.MASS_WITH_EDEMA,
                Location(_ras(affine, mass_ijk), mass_ijk, series_uid),
                laterality=Laterality.RIGHT,
                confidence=Confidence.POSSIBLE,
                reviewer="Dr Reader",
            )
        )
        gone = store.add_finding(
            Finding(
                key,
                FindingType.SAH,
                Location(_ras(affine, gone_ijk), gone_ijk, series_uid),
                reviewer="Dr Reader",
            )
        )
        retracted = store.retract_finding(
            int(gone.id or 0), reviewer="Dr Reader", reason="artefact"
        )
        store.set_status(
            key,
            ReviewStatus.REVIEWED,
            reviewer="Dr Reader",
            outcome=Outcome.SECONDARY,
            urgency=Urgency.CRITICAL,
        )
    return {"sdh": sdh, "mass": mass, "retracted": retracted, "key": key, "series": series_uid}
