"""Reads out as DICOM Structured Reports: one Comprehensive 3D SR per reviewed study.

Built with highdicom as a TID 1500 Measurement Report:

- each active (not retracted) finding is a TID 1410 measurement group: its coded concept
  (:mod:`imaging_triage.review.codes`) as finding type and as a qualitative evaluation,
  the brain as finding site with the laterality, the reader's confidence, the reader's
  note only when asked, and its location as a SCOORD3D point in the frame of reference
  of the series it was placed on (RAS+ in our store, LPS+ in DICOM: x and y negated);
- the triage outcome and urgency are the qualitative evaluations of one more group;
- the reader who saved the outcome is the observer.

An SR is a statement about the original, identified study: it carries that study's
patient and study attributes and references its instances (the image library holds the
instance nearest to each point). So the source DICOM files must be at hand: the export
scans the data folders (``--data``) for the study's series, by the study key the viewer
stores (the ``study_<hash>`` of the Study Instance UID) and the series UID of each
finding. Retracted findings are left out; the audit trail stays in the review database.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from imaging_triage.errors import ExitCode, StructuredReportError, TriageError
from imaging_triage.review import codes
from imaging_triage.review.findings import Finding, FindingType, ReviewStatus, StudyReview
from imaging_triage.review.store import ReviewStore
from imaging_triage.volume import atomic_write_bytes

logger = logging.getLogger(__name__)

#: series number of the SR series we write
SR_SERIES_NUMBER = 9001
MANUFACTURER = "imaging-triage"
COMMENT = codes.Concept("121106", "DCM", "Comment")


def ras_to_lps(xyz: Sequence[float]) -> tuple[float, float, float]:
    """Convert a RAS+ point (NIfTI, our store) to LPS+ (DICOM patient coordinates).

    Examples
    --------
    >>> ras_to_lps((10.0, -20.0, 30.0))
    (-10.0, 20.0, 30.0)
    """
    x, y, z = (float(v) for v in xyz)
    return (-x, -y, z)


@dataclass(frozen=True)
class SrMeasurement:
    """A numeric measurement of a finding, written in that finding's group with its unit.

    :func:`export_sr` takes those stored with the findings (:func:`stored_measurements`);
    a caller may pass more.
    """

    finding_id: int
    kind: codes.MeasurementKind
    value: float


def stored_measurements(findings: Sequence[Finding]) -> list[SrMeasurement]:
    """The numeric measurements readers attached to findings in the viewer (schema 4)."""
    out = []
    for finding in findings:
        for measurement in finding.measurements:
            for name, value in measurement.quantities:
                try:
                    kind = codes.MeasurementKind(name)
                except ValueError:
                    continue  # a number the SR has no concept for (SD, min, max)
                out.append(SrMeasurement(int(finding.id or 0), kind, float(value)))
    return out


@dataclass
class SourceSeries:
    """A source series of a study: its UIDs and its instances' headers (no pixels)."""

    series_uid: str
    frame_of_reference_uid: str
    headers: list[Any]

    def nearest_instance(self, lps: Sequence[float]) -> Any:
        """The instance whose image plane is closest to the LPS point ``lps``."""
        point = np.asarray(lps, dtype=float)
        best, best_distance = self.headers[0], np.inf
        for ds in self.headers:
            position = ds.get("ImagePositionPatient")
            orientation = ds.get("ImageOrientationPatient")
            if position is None or orientation is None:
                continue
            row, col = np.asarray(orientation[:3], float), np.asarray(orientation[3:], float)
            normal = np.cross(row, col)
            distance = abs(float(np.dot(point - np.asarray(position, float), normal)))
            if distance < best_distance:
                best, best_distance = ds, distance
        return best


@dataclass
class StudySources:
    """The source series of one study found in the data folders, by series UID."""

    study_key: str
    series: dict[str, SourceSeries] = field(default_factory=dict)

    def get(self, series_uid: str) -> SourceSeries:
        """The series ``series_uid``.

        Raises
        ------
        StructuredReportError
            If the data folders do not hold it.
        """
        found = self.series.get(series_uid)
        if found is None:
            raise StructuredReportError(
                f"study {self.study_key}: a finding was placed on a series that is not in the "
                "data folders; give --data the folder holding the study's original DICOM files"
            )
        return found


def find_sources(data: Sequence[str | os.PathLike[str]]) -> dict[str, StudySources]:
    """Scan the data folders (headers only) and group DICOM series by study key."""
    import pydicom

    from imaging_triage.ingest import scan

    studies: dict[str, StudySources] = {}
    for root in data:
        for record in scan(Path(root)).series:
            if record.kind != "dicom" or not record.files or record.status.value != "ok":
                continue
            study = studies.setdefault(record.study_folder, StudySources(record.study_folder))
            if record.series_uid in study.series:
                study.series[record.series_uid].headers.extend(
                    pydicom.dcmread(f, stop_before_pixels=True) for f in record.files
                )
                continue
            headers = [pydicom.dcmread(f, stop_before_pixels=True) for f in record.files]
            frame = str(headers[0].get("FrameOfReferenceUID", "") or "")
            study.series[record.series_uid] = SourceSeries(record.series_uid, frame, headers)
    return studies


#: patient and study attributes an SR copies from its source (type 2: may be empty, not absent)
_COPIED = (
    "PatientID",
    "PatientName",
    "PatientBirthDate",
    "PatientSex",
    "AccessionNumber",
    "StudyID",
    "StudyDate",
    "StudyTime",
)


def _complete_header(ds: Any) -> Any:
    """Give a source header the type 2 attributes an SR copies, empty where absent.

    Some scanners leave out type 2 attributes; highdicom reads them unconditionally.
    Only our in-memory copy of the header changes, never a file.
    """
    for keyword in _COPIED:
        if keyword not in ds:
            setattr(ds, keyword, "")
    return ds


def _concept(c: codes.Concept) -> Any:
    return c.as_highdicom()


def _finding_group(
    finding: Finding,
    source: SourceSeries,
    include_notes: bool,
    measurements: Sequence[SrMeasurement] = (),
) -> Any:
    from highdicom.sr import (
        FindingSite,
        GraphicTypeValues3D,
        ImageRegion3D,
        Measurement,
        PlanarROIMeasurementsAndQualitativeEvaluations,
        QualitativeEvaluation,
        TextContentItem,
        TrackingIdentifier,
    )
    from highdicom.uid import UID

    if not source.frame_of_reference_uid:
        raise StructuredReportError(
            f"finding {finding.id}: its series has no Frame of Reference UID, so the point "
            "cannot be placed in patient coordinates"
        )
    concept = codes.finding_concept(finding.type)
    lps = ras_to_lps(finding.location.xyz_mm)
    laterality = codes.laterality_concept(finding.laterality)
    evaluations = [
        QualitativeEvaluation(_concept(codes.FINDING_NAME), _concept(concept)),
        QualitativeEvaluation(
            _concept(codes.CONFIDENCE_NAME), _concept(codes.CONFIDENCES[finding.confidence])
        ),
    ]
    if finding.type is FindingType.MASS_WITH_EDEMA:
        evaluations.append(
            QualitativeEvaluation(_concept(codes.FINDING_NAME), _concept(codes.EDEMA))
        )
    group = PlanarROIMeasurementsAndQualitativeEvaluations(
        tracking_identifier=TrackingIdentifier(uid=UID(), identifier=f"finding {finding.id}"),
        referenced_region=ImageRegion3D(
            graphic_type=GraphicTypeValues3D.POINT,
            graphic_data=np.array([lps]),
            frame_of_reference_uid=source.frame_of_reference_uid,
        ),
        finding_type=_concept(concept),
        finding_sites=[
            FindingSite(
                _concept(codes.BRAIN), laterality=_concept(laterality) if laterality else None
            )
        ],
        qualitative_evaluations=evaluations,
        measurements=[
            Measurement(
                name=_concept(codes.MEASUREMENTS[m.kind][0]),
                value=float(m.value),
                unit=_concept(codes.MEASUREMENTS[m.kind][1]),
            )
            for m in measurements
        ]
        or None,
    )
    if include_notes and finding.note.strip():
        group[0].ContentSequence.append(
            TextContentItem(_concept(COMMENT), finding.note.strip(), relationship_type="CONTAINS")
        )
    return group


def _outcome_group(review: StudyReview) -> Any:
    from highdicom.sr import (
        MeasurementsAndQualitativeEvaluations,
        QualitativeEvaluation,
        TrackingIdentifier,
    )
    from highdicom.uid import UID

    evaluations = []
    if review.outcome is not None:
        evaluations.append(
            QualitativeEvaluation(
                _concept(codes.OUTCOME_NAME), _concept(codes.OUTCOMES[review.outcome])
            )
        )
    if review.urgency is not None:
        evaluations.append(
            QualitativeEvaluation(
                _concept(codes.URGENCY_NAME), _concept(codes.URGENCIES[review.urgency])
            )
        )
    return MeasurementsAndQualitativeEvaluations(
        tracking_identifier=TrackingIdentifier(uid=UID(), identifier="triage outcome"),
        qualitative_evaluations=evaluations,
    )


def build_sr(
    review: StudyReview,
    findings: Sequence[Finding],
    sources: StudySources,
    *,
    include_notes: bool = False,
    measurements: Sequence[SrMeasurement] = (),
) -> Any:
    """Build the Comprehensive 3D SR of one reviewed study.

    Parameters
    ----------
    review : StudyReview
        The study's current review (outcome, urgency, reader).
    findings : sequence of Finding
        Its findings; retracted ones are skipped.
    sources : StudySources
        The study's source series (see :func:`find_sources`).
    include_notes : bool
        Add each finding's note as a comment.
    measurements : sequence of SrMeasurement
        Numeric measurements, each written in its finding's group with its UCUM unit
        (those of retracted or unknown findings are left out).

    Returns
    -------
    highdicom.sr.Comprehensive3DSR
        The report (a pydicom dataset).

    Raises
    ------
    StructuredReportError
        If a finding's series is not among ``sources`` or has no frame of reference.
    """
    from highdicom.sr import (
        Comprehensive3DSR,
        MeasurementReport,
        ObservationContext,
        ObserverContext,
        PersonObserverIdentifyingAttributes,
    )
    from highdicom.uid import UID
    from pydicom.dataset import Dataset
    from pydicom.sr.codedict import codes as dcm_codes

    active = [f for f in findings if not f.retracted]
    groups: list[Any] = []
    evidence: dict[str, Any] = {}
    for finding in active:
        source = sources.get(finding.location.series_uid)
        own = [m for m in measurements if m.finding_id == finding.id]
        groups.append(_finding_group(finding, source, include_notes, own))
        nearest = source.nearest_instance(ras_to_lps(finding.location.xyz_mm))
        evidence[str(nearest.SOPInstanceUID)] = _complete_header(nearest)
    if not evidence:
        if not sources.series:
            raise StructuredReportError(
                f"study {sources.study_key}: its DICOM files are not in the data folders; give "
                "--data the folder holding the study's original DICOM files"
            )
        first = next(iter(sources.series.values())).headers[0]
        evidence[str(first.SOPInstanceUID)] = _complete_header(first)
    groups.append(_outcome_group(review))
    observer = ObserverContext(
        observer_type=dcm_codes.DCM.Person,
        observer_identifying_attributes=PersonObserverIdentifyingAttributes(
            # the reader's name as typed, as one family-name component of a PN
            name=(review.reviewer.replace("^", " ").strip() or "unknown") + "^"
        ),
    )
    report = MeasurementReport(
        observation_context=ObservationContext(observer_person_context=observer),
        procedure_reported=dcm_codes.SCT.ImagingProcedure,
        imaging_measurements=groups,
        referenced_images=list(evidence.values()),
    )
    sr = Comprehensive3DSR(
        evidence=list(evidence.values()),
        content=report,
        series_instance_uid=UID(),
        series_number=SR_SERIES_NUMBER,
        sop_instance_uid=UID(),
        instance_number=1,
        manufacturer=MANUFACTURER,
        is_complete=True,
        series_description="imaging-triage read",
    )
    scheme = Dataset()
    scheme.CodingSchemeDesignator = codes.LOCAL_SCHEME
    scheme.CodingSchemeName = codes.LOCAL_SCHEME_NAME
    scheme.CodingSchemeResponsibleOrganization = "imaging-triage"
    sr.CodingSchemeIdentificationSequence = [scheme]
    return sr


@dataclass(frozen=True)
class SrResult:
    """One study's SR: the file written, or why none was."""

    study_key: str
    path: Path | None
    findings: int = 0
    reason: str = ""


@dataclass
class SrExportSummary:
    """What :func:`export_sr` did."""

    results: list[SrResult] = field(default_factory=list)

    @property
    def written(self) -> list[SrResult]:
        """Studies with an SR file."""
        return [r for r in self.results if r.path is not None]

    @property
    def failed(self) -> list[SrResult]:
        """Studies without one, with the reason."""
        return [r for r in self.results if r.path is None]

    @property
    def exit_code(self) -> int:
        """0 all written; 3 some study failed; 4 no reviewed study."""
        if not self.results:
            return ExitCode.NOTHING
        return ExitCode.PARTIAL if self.failed else ExitCode.OK


def export_sr(
    store: ReviewStore,
    out: str | os.PathLike[str],
    data: Sequence[str | os.PathLike[str]],
    *,
    include_notes: bool = False,
    measurements: Sequence[SrMeasurement] = (),
) -> SrExportSummary:
    """Write one SR per reviewed study into ``out`` (``<study_key>.sr.dcm``), atomically.

    A study that fails (sources missing) is reported and the others go on.
    """
    from pydicom import dcmwrite
    from pydicom.filebase import DicomBytesIO

    target = Path(out)
    sources = find_sources(data)
    summary = SrExportSummary()
    for key, review in sorted(store.reviews().items()):
        if review.status is not ReviewStatus.REVIEWED:
            continue
        findings = store.findings(key)
        try:
            sr = build_sr(
                review,
                findings,
                sources.get(key, StudySources(key)),
                include_notes=include_notes,
                measurements=[*measurements, *stored_measurements(findings)],
            )
        except (ValueError, TypeError, AttributeError) as err:
            if isinstance(err, TriageError):
                reason = err.reason
            else:  # highdicom refused a value of the source headers
                # the class only: highdicom's message may quote a header value
                reason = f"the SR cannot be built from the source headers ({type(err).__name__})"
            summary.results.append(SrResult(key, None, reason=reason))
            logger.warning("no SR for %s: %s", key, reason)
            continue
        buffer = DicomBytesIO()
        dcmwrite(buffer, sr, enforce_file_format=True)
        path = target / f"{key}.sr.dcm"
        atomic_write_bytes(path, buffer.getvalue())
        active = sum(not f.retracted for f in findings)
        summary.results.append(SrResult(key, path, findings=active))
    return summary
