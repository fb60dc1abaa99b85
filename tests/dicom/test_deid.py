"""De-identification (PS3.15 Annex E basic profile): canaries, UID consistency, geometry kept."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
from dicomgen import csa2_bytes
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, SecondaryCaptureImageStorage

from imaging_triage.dicom import deid
from imaging_triage.dicom.deid import DeidConfig, FileStatus, deidentify_tree
from imaging_triage.dicom.deid import table as deid_table
from imaging_triage.errors import ConfigError
from imaging_triage.ingest import Status, load, scan

ROOT = Path(__file__).resolve().parents[2]
STANDARD_JSON = (
    ROOT.parent / "shared" / "dicom-standard" / "confidentiality_profile_attributes.json"
)

#: every planted marker starts with this; none may survive in the output bytes
CANARY = "QZXCANARY"
KEY = b"test key, kept apart from the data"
DATE = "19770707"  # planted dates (DA) and the date part of DT
TIME = "111213.141516"

STUDY_UID = "1.2.826.0.1.3680043.8.498.1001"
FOR_UID = "1.2.826.0.1.3680043.8.498.1002"


def marker(name: str) -> str:
    return f"{CANARY}{name.upper()}"


def _code_item(value: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue = value
    item.CodingSchemeDesignator = "SCT"
    item.CodeMeaning = meaning
    return item


def _plant(ds: Dataset, series: int, index: int) -> None:
    """Marker strings in every text attribute kind, in sequences and private tags too."""
    ds.PatientName = marker("patname")
    ds.PatientID = marker("patid")
    ds.OtherPatientIDs = marker("otherid")
    ds.PatientBirthDate = DATE
    ds.PatientAddress = marker("address")
    ds.PatientComments = marker("patcomment")  # LT
    ds.AdditionalPatientHistory = marker("history")  # LT
    ds.ReferringPhysicianName = marker("referrer")
    ds.PerformingPhysicianName = marker("performer")
    ds.OperatorsName = marker("operator")
    ds.InstitutionName = marker("institution")
    ds.InstitutionAddress = marker("instaddress")  # ST
    ds.StationName = marker("station")  # SH
    ds.AccessionNumber = marker("acc")[:16]
    ds.StudyID = marker("stid")[:16]
    ds.StudyDescription = marker("studydesc")
    ds.SeriesDescription = marker("seriesdesc")
    ds.ProtocolName = marker("protocol")
    ds.ImageComments = marker("imgcomment")  # LT
    ds.DerivationDescription = marker("derivation")  # ST
    ds.DeviceSerialNumber = marker("serial")
    ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = ds.ContentDate = DATE
    ds.StudyTime = ds.SeriesTime = ds.AcquisitionTime = ds.ContentTime = TIME
    ds.AcquisitionDateTime = DATE + TIME
    # unlisted by the table: removed by the module's own rule
    ds.PositionReferenceIndicator = marker("posref")  # LO
    ds.RequestedProcedurePriority = marker("prio")[:16]  # SH
    ds.MetaboliteMapDescription = marker("metab")  # ST
    ds.add_new(0x00189938, "UT", marker("unlistedut"))  # an unlisted UT
    # nested sequences
    ref_patient = Dataset()
    ref_patient.ReferencedSOPClassUID = "1.2.840.10008.3.1.2.1.1"
    ref_patient.ReferencedSOPInstanceUID = "1.2.826.0.1.3680043.8.498.9"
    ref_patient.PatientName = marker("refpatname")
    ds.ReferencedPatientSequence = Sequence([ref_patient])
    request = Dataset()
    request.RequestedProcedureID = marker("reqid")[:16]
    request.RequestedProcedureDescription = marker("reqdesc")
    request.ScheduledProcedureStepID = marker("spsid")[:16]
    request.RequestingPhysician = marker("requester")
    ds.RequestAttributesSequence = Sequence([request])
    content = Dataset()
    content.PersonName = marker("contentperson")
    content.TextValue = marker("contenttext")  # UT
    content.DateTime = DATE + TIME
    inner = Dataset()
    inner.PersonName = marker("deepperson")
    inner.add_new(0x00091010, "LO", marker("deepprivate"))
    content.ContentSequence = Sequence([inner])
    ds.ContentSequence = Sequence([content])
    region = _code_item("69536005", "Head")
    region.InstitutionName = marker("nestedinst")
    region.add_new(0x00110010, "LO", marker("nestedcreator"))
    region.add_new(0x00111001, "SH", marker("nestedpriv")[:16])
    ds.AnatomicRegionSequence = Sequence([region])
    # text where a class UID belongs (hostile): replaced like an instance UID
    source = Dataset()
    with pydicom.config.disable_value_validation():
        source.ReferencedSOPClassUID = marker("classuid")
    source.ReferencedSOPInstanceUID = "1.2.826.0.1.3680043.8.498.8"
    ds.SourceImageSequence = Sequence([source])
    # private tags, overlays and curves
    block = ds.private_block(0x0029, marker("creator"), create=True)
    block.add_new(0x01, "LO", marker("private"))
    block.add_new(0x02, "PN", marker("privatepn"))
    ds.add_new(0x60004000, "LT", marker("overlaycomment"))
    ds.add_new(0x50002500, "LO", marker("curvelabel"))


def make_slice(
    series: int,
    index: int,
    *,
    n: int = 4,
    sop_class: str = CTImageStorage,
    burned: str | None = None,
) -> Dataset:
    """One CT slice (16x12, int16, slope 1, intercept -1024) of a planted study."""
    rng = np.random.default_rng(100 * series + index)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = f"1.2.826.0.1.3680043.8.498.{series}.{index + 1}"
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.SourceApplicationEntityTitle = marker("sourceae")[:16]
    ds = Dataset()
    ds.file_meta = meta
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = STUDY_UID
    ds.SeriesInstanceUID = f"1.2.826.0.1.3680043.8.498.{series}"
    ds.FrameOfReferenceUID = FOR_UID
    ds.Modality = "CT"
    ds.Manufacturer = "ACME"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.SeriesNumber = series
    ds.InstanceNumber = index + 1
    ds.ImagePositionPatient = [-12.5, -30.0, 2.5 * index + 10 * series]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.PixelSpacing = [0.8, 0.6]
    ds.SliceThickness = 2.5
    ds.RescaleSlope = 1
    ds.RescaleIntercept = -1024
    ds.Rows, ds.Columns = 16, 12
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1
    ds.PixelData = rng.integers(0, 2000, size=(16, 12), dtype=np.int16).tobytes()
    if index > 0:  # a reference to the previous slice: must follow its new UID
        ref = Dataset()
        ref.ReferencedSOPClassUID = sop_class
        ref.ReferencedSOPInstanceUID = f"1.2.826.0.1.3680043.8.498.{series}.{index}"
        ds.ReferencedImageSequence = Sequence([ref])
    if burned is not None:
        ds.BurnedInAnnotation = burned
    _plant(ds, series, index)
    return ds


def write_study(root: Path, series: tuple[int, ...] = (2, 3), n: int = 4) -> list[Path]:
    """Write a planted study; folder and file names carry markers too."""
    paths = []
    for s in series:
        folder = root / marker("folder") / f"{marker('series')}{s}"
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(n):
            path = folder / f"{marker('file')}{i}.dcm"
            make_slice(s, i, n=n).save_as(path, enforce_file_format=True)
            paths.append(path)
    return paths


def all_bytes(folder: Path) -> bytes:
    chunks = []
    for dirpath, dirnames, filenames in os.walk(folder):
        chunks.append("\n".join(dirnames + filenames).encode())
        for name in filenames:
            chunks.append((Path(dirpath) / name).read_bytes())
    return b"\n".join(chunks)


def original_uids(paths: list[Path]) -> set[str]:
    found: set[str] = set()
    for p in paths:
        for elem in pydicom.dcmread(p).iterall():
            if (
                elem.VR == "UI"
                and elem.value
                and str(elem.value).startswith("1.2.826.0.1.3680043.8.498")
            ):
                found.add(str(elem.value))
    return found


@pytest.fixture()
def planted(tmp_path: Path) -> tuple[Path, list[Path]]:
    src = tmp_path / "in"
    return src, write_study(src)


def run_deid(src: Path, out: Path, **kw: Any) -> deid.DeidReport:
    config = DeidConfig(key=kw.pop("key", KEY), **kw)
    return deidentify_tree(src, out, config, map_path=out.parent / f"{out.name}-map.json")


def test_canary_no_marker_survives(planted: tuple[Path, list[Path]], tmp_path: Path) -> None:
    src, paths = planted
    out = tmp_path / "out"
    report = run_deid(src, out)
    assert report.counts() == {"written": 8, "quarantined": 0, "failed": 0, "skipped": 0}
    payload = all_bytes(out)
    assert CANARY.encode() not in payload
    assert CANARY.encode("utf-16-le") not in payload
    assert DATE.encode() not in payload and TIME.encode() not in payload
    for uid in original_uids(paths):
        assert uid.encode() not in payload, uid
    # the map's folder: its listing names no marker (the map itself is identifying)
    listing = "\n".join(os.listdir(tmp_path))
    assert CANARY not in listing


def test_profile_attributes_recorded(planted: tuple[Path, list[Path]], tmp_path: Path) -> None:
    src, _ = planted
    out = tmp_path / "out"
    run_deid(src, out)
    files = sorted(out.rglob("*.dcm"))
    ds = pydicom.dcmread(files[0])
    assert ds.PatientIdentityRemoved == "YES"
    assert ds.DeidentificationMethodCodeSequence[0].CodeValue == "113100"
    assert ds.DeidentificationMethodCodeSequence[0].CodingSchemeDesignator == "DCM"
    assert deid_table.TABLE_VERSION in list(ds.DeidentificationMethod)
    assert ds.LongitudinalTemporalInformationModified == "REMOVED"
    assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
    assert "SourceApplicationEntityTitle" not in ds.file_meta
    assert ds.SOPInstanceUID.startswith("2.25.") and len(ds.SOPInstanceUID) <= 64
    assert ds.PatientName == "" and ds.PatientID == "ANONYMIZED"  # Z and Z/D -> D
    assert "InstitutionName" in ds and ds.InstitutionName == "ANONYMIZED"  # X/Z/D -> D
    assert "ReferencedPatientSequence" not in ds  # X
    assert "StudyDescription" not in ds  # X
    assert "PositionReferenceIndicator" not in ds  # unlisted free text
    assert ds.Manufacturer == "ACME"  # unlisted technical text kept
    assert not any(elem.tag.is_private for elem in ds.iterall())
    assert not any(elem.tag.group in (0x5000, 0x6000) for elem in ds)
    # nested: the content item's person is a dummy, its text removed, private tags gone
    content = ds.ContentSequence[0]
    assert content.PersonName == "ANONYMIZED"
    assert "TextValue" not in content
    assert content.ContentSequence[0].PersonName == "ANONYMIZED"
    assert ds.AnatomicRegionSequence[0].CodeMeaning == "Head"
    assert ds.AnatomicRegionSequence[0].InstitutionName == "ANONYMIZED"
    # geometry untouched
    assert [float(v) for v in ds.PixelSpacing] == [0.8, 0.6]
    assert float(ds.RescaleIntercept) == -1024


def test_uids_consistent_and_keyed(planted: tuple[Path, list[Path]], tmp_path: Path) -> None:
    src, paths = planted
    first = run_deid(src, tmp_path / "a")
    again = run_deid(src, tmp_path / "b")
    other = run_deid(src, tmp_path / "c", key=b"another key, another mapping")
    map_a = json.loads((tmp_path / "a-map.json").read_text())["uids"]
    map_b = json.loads((tmp_path / "b-map.json").read_text())["uids"]
    map_c = json.loads((tmp_path / "c-map.json").read_text())["uids"]
    assert map_a == map_b
    removed = "1.2.826.0.1.3680043.8.498.9"  # only inside ReferencedPatientSequence (X)
    assert set(map_a) == set(map_c) == original_uids(paths) - {removed} | {marker("classuid")}
    assert not set(map_a.values()) & set(map_c.values())
    names = {o.output for o in first.outcomes}
    assert names == {o.output for o in again.outcomes}
    assert not names & {o.output for o in other.outcomes}
    # one study, two series, one frame of reference; references follow the new UIDs
    datasets = [pydicom.dcmread(p) for p in sorted((tmp_path / "a").rglob("*.dcm"))]
    assert {d.StudyInstanceUID for d in datasets} == {map_a[STUDY_UID]}
    assert len({d.SeriesInstanceUID for d in datasets}) == 2
    assert {d.FrameOfReferenceUID for d in datasets} == {map_a[FOR_UID]}
    sops = {d.SOPInstanceUID for d in datasets}
    refs = {
        d.ReferencedImageSequence[0].ReferencedSOPInstanceUID
        for d in datasets
        if "ReferencedImageSequence" in d
    }
    assert len(refs) == 6 and refs <= sops
    assert all(
        d.ReferencedImageSequence[0].ReferencedSOPClassUID == CTImageStorage
        for d in datasets
        if "ReferencedImageSequence" in d
    )
    assert (os.stat(tmp_path / "a-map.json").st_mode & 0o777) == 0o600


def test_same_volumes_after_deid(planted: tuple[Path, list[Path]], tmp_path: Path) -> None:
    src, _ = planted
    out = tmp_path / "out"
    run_deid(src, out, date_shift_days=-30)
    uid_map = json.loads((tmp_path / "out-map.json").read_text())["uids"]
    before = {r.series_uid: r for r in scan(src).series}
    after = {r.series_uid: r for r in scan(out).series}
    assert len(before) == 2 and len(after) == 2
    assert {uid_map[u] for u in before} == set(after)
    for uid, rec in before.items():
        twin = after[uid_map[uid]]
        assert rec.status is Status.OK and twin.status is Status.OK
        assert twin.study_uid == uid_map[rec.study_uid]
        (va,) = load(rec)
        (vb,) = load(twin)
        assert va.data.shape == (12, 16, 4)
        assert np.array_equal(va.data, vb.data)
        assert np.array_equal(va.affine, vb.affine)


def test_dates_shifted_consistently(planted: tuple[Path, list[Path]], tmp_path: Path) -> None:
    src, _ = planted
    out = tmp_path / "out"
    run_deid(src, out, date_shift_days=-10)
    ds = pydicom.dcmread(next(out.rglob("*.dcm")))
    assert ds.StudyDate == "19770627" and ds.SeriesDate == "19770627"
    assert ds.AcquisitionDateTime == "19770627" + TIME
    assert ds.StudyTime == TIME  # times kept when dates are shifted
    assert ds.PatientBirthDate == ""  # Z: no modified-dates option for it
    assert ds.LongitudinalTemporalInformationModified == "MODIFIED"
    assert [c.CodeValue for c in ds.DeidentificationMethodCodeSequence] == ["113100", "113107"]
    assert deid.keyed_date_shift(KEY) == deid.keyed_date_shift(KEY)
    assert -3650 <= deid.keyed_date_shift(KEY) <= -1
    assert deid.keyed_date_shift(KEY) != deid.keyed_date_shift(b"a different secret")


def test_dates_removed_by_default(planted: tuple[Path, list[Path]], tmp_path: Path) -> None:
    src, _ = planted
    out = tmp_path / "out"
    run_deid(src, out)
    ds = pydicom.dcmread(next(out.rglob("*.dcm")))
    assert ds.StudyDate == ""  # Z
    assert ds.ContentDate == "19000101"  # Z/D -> dummy
    assert "SeriesDate" in ds and ds.SeriesDate == "19000101"  # X/D -> dummy


def test_burned_in_quarantined_unless_allowed(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    make_slice(5, 0, sop_class=SecondaryCaptureImageStorage).save_as(
        src / "sc.dcm", enforce_file_format=True
    )
    make_slice(6, 0, burned="YES").save_as(src / "burned.dcm", enforce_file_format=True)
    make_slice(7, 0, burned="NO").save_as(src / "clean.dcm", enforce_file_format=True)
    report = run_deid(src, tmp_path / "out")
    by_input = {o.input: o for o in report.outcomes}
    assert by_input["sc.dcm"].status is FileStatus.QUARANTINED
    assert "secondary capture" in by_input["sc.dcm"].reason
    assert by_input["burned.dcm"].status is FileStatus.QUARANTINED
    assert "BurnedInAnnotation" in by_input["burned.dcm"].reason
    assert by_input["clean.dcm"].status is FileStatus.WRITTEN
    assert len(list((tmp_path / "out").rglob("*.dcm"))) == 1
    allowed = run_deid(src, tmp_path / "out2", allow_burned_in=True)
    assert allowed.counts()["written"] == 3


def test_batch_goes_on_past_bad_files(planted: tuple[Path, list[Path]], tmp_path: Path) -> None:
    src, paths = planted
    data = paths[0].read_bytes()
    (src / "truncated.dcm").write_bytes(data[: len(data) // 3])
    (src / "notes.txt").write_text("not dicom")
    report = run_deid(src, tmp_path / "out")
    by_input = {o.input: o for o in report.outcomes}
    assert by_input["truncated.dcm"].status is FileStatus.FAILED
    assert by_input["truncated.dcm"].code
    assert by_input["truncated.dcm"].error == "InputError"
    assert "truncated" in by_input["truncated.dcm"].reason
    assert by_input["notes.txt"].status is FileStatus.SKIPPED
    assert report.counts()["written"] == 8
    saved = json.loads((tmp_path / "out" / "deid_report.json").read_text())
    assert saved["counts"]["failed"] == 1
    assert CANARY not in json.dumps(saved)


def test_text_in_numeric_fields(tmp_path: Path) -> None:
    """Identity typed into a DS field: removed when optional (SliceLocation is not in the
    table), the file refused when the field carries geometry; never copied."""
    src = tmp_path / "in"
    src.mkdir()
    for name, placeholder in (("location.dcm", "123456789012"), ("spacing.dcm", "0.6\\0.7 ")):
        ds = make_slice(10 if name == "location.dcm" else 11, 0)
        ds.SliceLocation = "123456789012" if name == "location.dcm" else "5"
        ds.PixelSpacing = ["0.6", "0.7"] if name == "spacing.dcm" else ["0.80000000", "0.6"]
        ds.save_as(src / name, enforce_file_format=True)
        payload = (src / name).read_bytes()
        assert payload.count(placeholder.encode()) == 1
        planted = marker("num")[: len(placeholder)]
        (src / name).write_bytes(payload.replace(placeholder.encode(), planted.encode()))
    report = run_deid(src, tmp_path / "out")
    by_input = {o.input: o for o in report.outcomes}
    assert by_input["location.dcm"].status is FileStatus.WRITTEN
    assert by_input["spacing.dcm"].status is FileStatus.FAILED
    assert "(0028,0030)" in by_input["spacing.dcm"].reason
    written = pydicom.dcmread(tmp_path / "out" / by_input["location.dcm"].output)
    assert "SliceLocation" not in written
    assert [float(v) for v in written.PixelSpacing] == [0.8, 0.6]
    assert CANARY.encode() not in all_bytes(tmp_path / "out")


def test_map_inside_output_refused(planted: tuple[Path, list[Path]], tmp_path: Path) -> None:
    src, _ = planted
    out = tmp_path / "out"
    with pytest.raises(ConfigError, match="kept apart"):
        deidentify_tree(src, out, DeidConfig(key=KEY), map_path=out / "map.json")
    with pytest.raises(ConfigError, match="overlap"):
        deidentify_tree(src, src / "sub", DeidConfig(key=KEY))


def test_safe_private_kept_only_when_asked(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    ds = make_slice(8, 0)
    mr = ds.private_block(0x0019, "SIEMENS MR HEADER", create=True)
    mr.add_new(0x0A, "US", 16)  # NumberOfImagesInMosaic: needed to convert mosaics
    mr.add_new(0x99, "LO", marker("siemensfree"))  # not on the safe list
    ds.save_as(src / "a.dcm", enforce_file_format=True)
    run_deid(src, tmp_path / "strict")
    run_deid(src, tmp_path / "safe", keep_safe_private=True)
    strict = pydicom.dcmread(next((tmp_path / "strict").rglob("*.dcm")))
    safe = pydicom.dcmread(next((tmp_path / "safe").rglob("*.dcm")))
    assert not any(e.tag.is_private for e in strict.iterall())
    kept = {int(e.tag): e.value for e in safe if e.tag.is_private}
    block = safe.private_block(0x0019, "SIEMENS MR HEADER")
    assert safe[block.get_tag(0x0A)].value == 16
    assert len(kept) == 2  # the creator and the tile count
    assert CANARY.encode() not in all_bytes(tmp_path / "safe")
    codes = [c.CodeValue for c in safe.DeidentificationMethodCodeSequence]
    assert codes == ["113100", "113111"]


def test_csa_header_scrubbed_but_still_parseable(tmp_path: Path) -> None:
    from imaging_triage.dicom.mosaic import parse_csa

    fields = {
        "NumberOfImagesInMosaic": ["16"],
        "ImaCoilString": [marker("coil")],
        "SliceNormalVector": ["0.0", "0.1", "0.99"],
        "ScanningDevice": [marker("station"), marker("serial")],
    }
    blob = csa2_bytes({name: ("LO", values) for name, values in fields.items()})
    assert parse_csa(blob)["ImaCoilString"] == [marker("coil")]
    scrubbed = deid.scrub_csa(blob)
    assert scrubbed is not None and len(scrubbed) == len(blob)
    assert CANARY.encode() not in scrubbed
    parsed = parse_csa(scrubbed)
    assert parsed["NumberOfImagesInMosaic"] == ["16"]
    assert parsed["SliceNormalVector"] == ["0.0", "0.1", "0.99"]
    assert parsed["ImaCoilString"] == [] and parsed["ScanningDevice"] == []
    assert deid.scrub_csa(blob[:50]) is None  # malformed: the caller removes it
    # through deidentify_tree: kept (scrubbed) only with keep_safe_private
    src = tmp_path / "in"
    src.mkdir()
    ds = make_slice(12, 0)
    block = ds.private_block(0x0029, "SIEMENS CSA HEADER", create=True)
    block.add_new(0x10, "OB", blob)
    block.add_new(0x20, "OB", b"series header: " + marker("protocol").encode())
    ds.save_as(src / "a.dcm", enforce_file_format=True)
    run_deid(src, tmp_path / "safe", keep_safe_private=True)
    assert CANARY.encode() not in all_bytes(tmp_path / "safe")
    out = pydicom.dcmread(next((tmp_path / "safe").rglob("*.dcm")))
    kept = out.private_block(0x0029, "SIEMENS CSA HEADER")
    assert parse_csa(out[kept.get_tag(0x10)].value)["NumberOfImagesInMosaic"] == ["16"]
    assert kept.get_tag(0x20) not in out  # the series header (protocol text) is not kept


def test_compound_codes_resolved() -> None:
    assert deid.resolve_action("X/Z") is deid.Action.ZERO
    assert deid.resolve_action("X/Z/D") is deid.Action.DUMMY
    assert deid.resolve_action("X/Z/U*") is deid.Action.UID
    assert deid.table_action(0x60024000) is deid.Action.REMOVE  # (60xx,4000) wildcard
    assert deid.table_action(0x50020010) is deid.Action.REMOVE  # (50xx,xxxx)
    assert deid.table_action(0x00280030) is None  # PixelSpacing: not in the table
    with pytest.raises(ConfigError, match="unknown"):
        deid.resolve_action("Q")


def test_keyed_uid_valid() -> None:
    uid = deid.keyed_uid(KEY, "1.2.3.4")
    assert uid.startswith("2.25.") and len(uid) <= 64
    assert uid[5] != "0" or uid == "2.25.0"
    assert pydicom.uid.UID(uid).is_valid


def test_table_generated_from_standard(tmp_path: Path) -> None:
    if not STANDARD_JSON.is_file():
        pytest.skip(f"{STANDARD_JSON} absent (only needed to check the generated table)")
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "gen", ROOT / "scripts" / "generate_deid_table.py"
    )
    assert spec is not None and spec.loader is not None
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    text = gen.render(STANDARD_JSON, gen.DEFAULT_COMMIT, gen.DEFAULT_SNAPSHOT)
    committed = (ROOT / "imaging_triage" / "dicom" / "deid" / "table.py").read_text()
    assert text == committed
    rows = json.loads(STANDARD_JSON.read_text())
    assert len(rows) == deid_table.SOURCE_ROWS
    assert len(deid_table.ACTIONS) + len(deid_table.WILDCARDS) + 1 == len(rows)
    assert deid_table.ACTIONS[0x00100010] == "Z"  # Patient's Name


def test_cli_exit_codes(planted: tuple[Path, list[Path]], tmp_path: Path) -> None:
    from imaging_triage.commands import deidentify

    src, _ = planted
    key_file = tmp_path / "key"
    key_file.write_text("a secret in a file\n")
    out = tmp_path / "out"
    code = deidentify.main(
        [str(src), "-o", str(out), "--key-file", str(key_file), "--shift-dates", "keyed"]
    )
    assert code == 0
    mapping = json.loads((tmp_path / "out.deid-map.json").read_text())
    assert mapping["date_shift_days"] == deid.keyed_date_shift(b"a secret in a file")
    (src / "sc.dcm").parent.mkdir(exist_ok=True)
    make_slice(9, 0, sop_class=SecondaryCaptureImageStorage).save_as(
        src / "sc.dcm", enforce_file_format=True
    )
    assert deidentify.main([str(src), "-o", str(tmp_path / "o2"), "--key", "0123456789"]) == 3
    assert deidentify.main([str(src), "-o", str(tmp_path / "o3"), "--shift-dates", "soon"]) == 1
    empty = tmp_path / "empty"
    empty.mkdir()
    assert deidentify.main([str(empty), "-o", str(tmp_path / "o4"), "--key", "0123456789"]) == 4


@pytest.mark.realdata
@pytest.mark.slow
def test_realdata_volumes_survive(realdata: Path, tmp_path: Path) -> None:
    """Real CT (with localizer and secondary captures) and enhanced MR keep their geometry."""
    cases = (
        ("dcm_qa_ct/In/Philips/S21570", False),
        ("dcm_qa_xa30/In", False),
        ("dcm_qa_enh/In", False),
        ("dcm_qa_ts/In", True),  # Siemens mosaics: need the CSA header (safe private)
    )
    for rel, keep_private in cases:
        src = realdata / rel
        if not src.exists():
            pytest.fail(f"{src} missing from realdata")
        out = tmp_path / rel.replace("/", "_")
        config = DeidConfig(key=KEY, keep_safe_private=keep_private)
        report = deidentify_tree(src, out, config, map_path=tmp_path / f"{out.name}.map")
        assert report.counts()["written"] > 0
        uid_map = json.loads((tmp_path / f"{out.name}.map").read_text())["uids"]
        before = _volume_digests(scan(src), uid_map)
        after = _volume_digests(scan(out), None)
        assert len(before) > 0
        assert before == after  # same volumes, same geometry, same grouping (as a multiset)


def _volume_digests(result: Any, uid_map: dict[str, str] | None) -> list[tuple[str, str]]:
    """(series UID after mapping, SHA-256 of data and affine) of every DICOM volume, sorted."""
    import hashlib

    out = []
    for rec in result.series:
        if rec.status is not Status.OK or rec.kind != "dicom":
            continue
        uid = uid_map[rec.series_uid] if uid_map is not None else rec.series_uid
        for vol in load(rec):
            digest = hashlib.sha256(np.ascontiguousarray(vol.data).tobytes())
            digest.update(np.asarray(vol.affine, dtype=np.float64).tobytes())
            out.append((uid, digest.hexdigest()))
    return sorted(out)


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_hostile_files_end_in_typed_outcomes(tmp_path: Path) -> None:
    """Malformed and mutated files: every one written, skipped, quarantined or failed with a
    reason; nothing escapes as an exception (a batch goes on)."""
    import importlib.util
    import random
    import sys

    fuzz = sys.modules.get("fuzz_long")
    if fuzz is None:
        spec = importlib.util.spec_from_file_location(
            "fuzz_long", ROOT / "benchmarks" / "fuzz_long.py"
        )
        assert spec is not None and spec.loader is not None
        fuzz = importlib.util.module_from_spec(spec)
        sys.modules["fuzz_long"] = fuzz
        spec.loader.exec_module(fuzz)
    cases = list(fuzz.pydicom_cases()) + list(fuzz.header_cases())
    cases += list(fuzz.mutated_cases(fuzz.seeds(None), 150, random.Random(3)))
    src = tmp_path / "in"
    for n, case in enumerate(cases):
        for name, payload in case.files.items():
            (src / f"{n:04d}").mkdir(parents=True, exist_ok=True)
            (src / f"{n:04d}" / name).write_bytes(payload)
    n_files = sum(len(c.files) for c in cases)
    report = run_deid(src, tmp_path / "out")
    assert len(report.outcomes) == n_files
    counts = report.counts()
    assert counts["written"] > 0 and counts["failed"] > 0
    for outcome in report.outcomes:
        if outcome.status is not FileStatus.WRITTEN:
            assert outcome.reason and outcome.code, outcome
    # whatever was written is a readable, de-identified DICOM file
    for path in (tmp_path / "out").rglob("*.dcm"):
        ds = pydicom.dcmread(path)
        assert ds.PatientIdentityRemoved == "YES"
        assert not any(e.tag.is_private for e in ds.iterall())


def test_cli_without_key_uses_a_random_one(
    planted: tuple[Path, list[Path]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from imaging_triage.commands import deidentify

    src, _ = planted
    monkeypatch.delenv(deidentify.KEY_ENV, raising=False)
    assert deidentify.main([str(src), "-o", str(tmp_path / "a")]) == 0
    assert deidentify.main([str(src), "-o", str(tmp_path / "b")]) == 0
    first = json.loads((tmp_path / "a.deid-map.json").read_text())
    second = json.loads((tmp_path / "b.deid-map.json").read_text())
    assert set(first["uids"]) == set(second["uids"])
    assert not set(first["uids"].values()) & set(second["uids"].values())
    monkeypatch.setenv(deidentify.KEY_ENV, "a key from the environment")
    assert deidentify.main([str(src), "-o", str(tmp_path / "c")]) == 0
    third = json.loads((tmp_path / "c.deid-map.json").read_text())
    assert third["uids"][STUDY_UID] == deid.keyed_uid(b"a key from the environment", STUDY_UID)


def test_deid_logs_no_identifier(
    planted: tuple[Path, list[Path]],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """At DEBUG, with bad files and hostile values (text in a class UID): no marker logged."""
    from imaging_triage.cli import main

    src, paths = planted
    data = paths[0].read_bytes()
    (src / "cut.dcm").write_bytes(data[: len(data) - 50])
    make_slice(9, 0, sop_class=SecondaryCaptureImageStorage).save_as(
        src / "sc.dcm", enforce_file_format=True
    )
    caplog.set_level(logging.DEBUG)
    code = main(["-vv", "deidentify", str(src), "-o", str(tmp_path / "out"), "--key", "0123456789"])
    assert code == 3
    out, err = capfd.readouterr()
    assert caplog.records  # something was logged (failures, quarantine)
    assert CANARY not in "\n".join(logging.Formatter().format(r) for r in caplog.records)
    assert CANARY not in out + err
