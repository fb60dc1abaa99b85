"""QIDO-RS query building and result parsing (no server needed)."""

from __future__ import annotations

import datetime as dt

import pytest

from imaging_triage.errors import ConfigError
from imaging_triage.pacs.query import StudyQuery, StudySummary, parse_date


def test_query_parameters() -> None:
    query = StudyQuery(
        since=dt.date(2000, 1, 2),
        until=dt.date(2000, 2, 3),
        modality="ct",
        description="HEAD",
        accession="A1",
        study_uid="1.2.3",
    )
    assert query.qido_params() == {
        "StudyDate": "20000102-20000203",
        "ModalitiesInStudy": "CT",
        "StudyDescription": "*HEAD*",
        "AccessionNumber": "A1",
        "StudyInstanceUID": "1.2.3",
    }
    assert StudyQuery(until=dt.date(2001, 1, 1)).qido_params() == {"StudyDate": "-20010101"}
    assert StudyQuery().qido_params() == {}


def test_dates_in_two_spellings_and_a_typed_error() -> None:
    assert parse_date("2000-01-06") == parse_date("20000106") == dt.date(2000, 1, 6)
    with pytest.raises(ConfigError, match="YYYY-MM-DD"):
        parse_date("06/01/2000")


def test_summary_from_dicom_json_keeps_no_patient_identifiers() -> None:
    item = {
        "0020000D": {"vr": "UI", "Value": ["1.2.3"]},
        "00080020": {"vr": "DA", "Value": ["20000106"]},
        "00081030": {"vr": "LO", "Value": ["CT HEAD"]},
        "00080061": {"vr": "CS", "Value": ["CT", "SR"]},
        "00201206": {"vr": "IS", "Value": [2]},
        "00201208": {"vr": "IS", "Value": ["37"]},
        "00100010": {"vr": "PN", "Value": [{"Alphabetic": "DOE^JANE"}]},
    }
    study = StudySummary.from_json(item)
    assert (study.study_uid, study.date, study.series, study.instances) == (
        "1.2.3",
        "20000106",
        2,
        37,
    )
    assert study.modalities == ("CT", "SR") and "DOE" not in str(study.as_dict())


def test_server_side_filters_are_checked_again() -> None:
    study = StudySummary("1.2.3", "20000106", "CT Head", ("CT",), 1, 1)
    assert StudyQuery(description="head", modality="CT").matches(study)
    assert not StudyQuery(description="spine").matches(study)
    assert not StudyQuery(modality="MR").matches(study)
