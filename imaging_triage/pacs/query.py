"""QIDO-RS searches: which studies match a query, which series and instances they hold.

:class:`StudyQuery` holds the filters of ``pull`` and ``pacs ls`` (date range, modality,
description containing a text, accession number, study UID). Results are
:class:`StudySummary` and :class:`SeriesSummary` values, which carry no patient name, ID or
birth date: those are never shown.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

from imaging_triage.errors import ConfigError, PacsNotFoundError
from imaging_triage.pacs.client import PacsClient

#: attributes asked of every study search
STUDY_FIELDS = (
    "StudyInstanceUID",
    "StudyDate",
    "StudyDescription",
    "ModalitiesInStudy",
    "NumberOfStudyRelatedSeries",
    "NumberOfStudyRelatedInstances",
)
SERIES_FIELDS = (
    "SeriesInstanceUID",
    "Modality",
    "SeriesNumber",
    "SeriesDescription",
    "NumberOfSeriesRelatedInstances",
)
INSTANCE_FIELDS = ("SOPInstanceUID", "InstanceNumber")


def parse_date(text: str) -> dt.date:
    """Parse ``YYYY-MM-DD`` or ``YYYYMMDD``.

    Raises
    ------
    ConfigError
        If ``text`` is neither.
    """
    for fmt in ("%Y-%m-%d", "%Y%m%d"):
        try:
            return dt.datetime.strptime(text.strip(), fmt).date()
        except ValueError:
            continue
    raise ConfigError(f"{text!r} is not a date; write it as YYYY-MM-DD")


@dataclass(frozen=True)
class StudyQuery:
    """Filters of a study search; empty fields do not filter.

    Attributes
    ----------
    since, until : date, optional
        Study date range, both ends included.
    modality : str
        A modality in the study (``CT``, ``MR``).
    description : str
        Text the study description contains (case-insensitive).
    accession : str
        Accession number.
    study_uid : str
        Study Instance UID.
    """

    since: dt.date | None = None
    until: dt.date | None = None
    modality: str = ""
    description: str = ""
    accession: str = ""
    study_uid: str = ""

    def qido_params(self) -> dict[str, str]:
        """The QIDO-RS matching keys of this query.

        Examples
        --------
        >>> StudyQuery(since=dt.date(2000, 1, 1), modality="CT").qido_params()
        {'StudyDate': '20000101-', 'ModalitiesInStudy': 'CT'}
        """
        params: dict[str, str] = {}
        if self.since or self.until:
            start = self.since.strftime("%Y%m%d") if self.since else ""
            end = self.until.strftime("%Y%m%d") if self.until else ""
            params["StudyDate"] = f"{start}-{end}"
        if self.modality:
            params["ModalitiesInStudy"] = self.modality.upper()
        if self.description:
            params["StudyDescription"] = f"*{self.description.strip('*')}*"
        if self.accession:
            params["AccessionNumber"] = self.accession
        if self.study_uid:
            params["StudyInstanceUID"] = self.study_uid
        return params

    def matches(self, study: StudySummary) -> bool:
        """Whether ``study`` passes the filters a server may apply loosely (case and
        modality lists), checked again on our side."""
        if self.description and self.description.lower() not in study.description.lower():
            return False
        if self.modality and self.modality.upper() not in study.modalities:
            return False
        return not (self.study_uid and study.study_uid != self.study_uid)


def _value(item: dict[str, Any], tag: str, default: Any = "") -> Any:
    values = item.get(tag, {}).get("Value") or []
    return values[0] if values else default


def _values(item: dict[str, Any], tag: str) -> tuple[str, ...]:
    return tuple(str(v) for v in item.get(tag, {}).get("Value") or [])


def _int(item: dict[str, Any], tag: str) -> int:
    try:
        return int(_value(item, tag, 0))
    except (TypeError, ValueError):
        return 0


@dataclass(frozen=True)
class StudySummary:
    """One study on the server, as a search found it (no patient identifiers)."""

    study_uid: str
    date: str
    description: str
    modalities: tuple[str, ...]
    series: int
    instances: int

    @classmethod
    def from_json(cls, item: dict[str, Any]) -> StudySummary:
        """Build from a DICOM JSON study object."""
        return cls(
            study_uid=str(_value(item, "0020000D")),
            date=str(_value(item, "00080020")),
            description=str(_value(item, "00081030")),
            modalities=_values(item, "00080061"),
            series=_int(item, "00201206"),
            instances=_int(item, "00201208"),
        )

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary."""
        out = asdict(self)
        out["modalities"] = list(self.modalities)
        return out


@dataclass(frozen=True)
class SeriesSummary:
    """One series of a study on the server."""

    series_uid: str
    modality: str
    number: int | None
    description: str
    instances: int

    @classmethod
    def from_json(cls, item: dict[str, Any]) -> SeriesSummary:
        """Build from a DICOM JSON series object."""
        number = _value(item, "00200011", None)
        return cls(
            series_uid=str(_value(item, "0020000E")),
            modality=str(_value(item, "00080060")),
            number=int(number) if number not in (None, "") else None,
            description=str(_value(item, "0008103E")),
            instances=_int(item, "00201209"),
        )


@dataclass(frozen=True)
class InstanceSummary:
    """One instance of a series on the server."""

    sop_uid: str
    number: int | None


def search_studies(client: PacsClient, query: StudyQuery) -> list[StudySummary]:
    """The studies matching ``query``, oldest first.

    Raises
    ------
    PacsError
        A typed subclass when the server cannot be reached, refuses the credentials, or
        answers something else than DICOMweb.
    """
    found = client.search("studies", query.qido_params(), STUDY_FIELDS)
    studies = [StudySummary.from_json(item) for item in found]
    return sorted(
        (s for s in studies if s.study_uid and query.matches(s)),
        key=lambda s: (s.date, s.study_uid),
    )


def search_series(client: PacsClient, study_uid: str) -> list[SeriesSummary]:
    """The series of one study, by series number.

    Raises
    ------
    PacsNotFoundError
        If the server knows no series of that study.
    """
    try:
        found = client.search("series", {}, SERIES_FIELDS, study_instance_uid=study_uid)
    except PacsNotFoundError as err:
        raise PacsNotFoundError(
            f"study {study_uid} is not on the server; list studies with `imaging-triage pacs ls`",
            path=client.url,
        ) from err
    series = [SeriesSummary.from_json(item) for item in found]
    if not series:
        raise PacsNotFoundError(
            f"study {study_uid} is not on the server (no series); list studies with "
            "`imaging-triage pacs ls`",
            path=client.url,
        )
    return sorted(series, key=lambda s: (s.number is None, s.number or 0, s.series_uid))


def search_instances(client: PacsClient, study_uid: str, series_uid: str) -> list[InstanceSummary]:
    """The instances of one series, by instance number."""
    found = client.search(
        "instances",
        {},
        INSTANCE_FIELDS,
        study_instance_uid=study_uid,
        series_instance_uid=series_uid,
    )
    out = []
    for item in found:
        number = _value(item, "00200013", None)
        out.append(
            InstanceSummary(
                sop_uid=str(_value(item, "00080018")),
                number=int(number) if number not in (None, "") else None,
            )
        )
    return sorted(
        (i for i in out if i.sop_uid), key=lambda i: (i.number is None, i.number or 0, i.sop_uid)
    )
