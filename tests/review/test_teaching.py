"""Teaching mode: a read of the SDH sample study scored against its ground truth, and a
resident's read against an attending's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from imaging_triage.errors import ReviewRuleError
from imaging_triage.review.findings import (
    Finding,
    FindingType,
    Laterality,
    Location,
    Outcome,
    ReviewStatus,
    Urgency,
)
from imaging_triage.review.reads import GROUND_TRUTH, read_from_truth, reads_from_store
from imaging_triage.review.store import ReviewStore
from imaging_triage.review.teaching import (
    against_reader,
    against_truth,
    feedback,
    score_read,
    summarize,
    truth_index,
)

L, R = Laterality.LEFT, Laterality.RIGHT


def _flag(store: ReviewStore, study: str, reader: str, ftype: FindingType, side: Laterality,
          xyz: tuple[float, float, float]) -> None:  # fmt: skip
    store.add_finding(
        Finding(study, ftype, Location(xyz, (0, 0, 0)), laterality=side, reviewer=reader)
    )


def test_a_read_of_the_sdh_sample_is_scored_against_its_ground_truth(
    sample_data: Path, db_url: str
) -> None:
    truth_dir = sample_data / "ground_truth"
    truth = json.loads((truth_dir / "02_ct_sdh" / "truth.json").read_text())
    # the truth: SDH left at (-49.5, 6.9, 16.5), IPH right at (27.7, 35.9, 2.4),
    # mass effect left, midline shift; secondary cause suspected, critical
    with ReviewStore(db_url) as store:
        key = "study_sdh"
        store.register_study(key, study_uid=truth["study_instance_uid"], modality="CT")
        _flag(store, key, "resident", FindingType.SDH, L, (-45.0, 12.0, 25.0))  # 10.9 mm off
        _flag(store, key, "resident", FindingType.IPH, L, (27.7, 35.9, 2.4))  # wrong side
        _flag(store, key, "resident", FindingType.SAH, R, (10.0, 10.0, 10.0))  # not there
        _flag(store, key, "resident", FindingType.MASS_EFFECT, L, (-30.0, 0.0, 15.0))
        store.set_status(key, ReviewStatus.REVIEWED, reviewer="resident",
                         outcome=Outcome.SECONDARY, urgency=Urgency.URGENT)  # fmt: skip
        # another study with no ground truth is not scored
        _flag(store, "other", "resident", FindingType.SAH, L, (0.0, 0.0, 0.0))
        store.set_status("other", ReviewStatus.REVIEWED, reviewer="resident",
                         outcome=Outcome.SECONDARY, urgency=Urgency.URGENT)  # fmt: skip
        (result,) = against_truth(store, truth_dir)
        assert feedback(store, key, "resident", ground_truth=truth_dir) == result
        assert feedback(store, "other", "resident", ground_truth=truth_dir) is None
        with pytest.raises(ReviewRuleError, match="save your outcome first"):
            feedback(store, key, "nobody", ground_truth=truth_dir)
    assert result.study_key == key and result.reference == GROUND_TRUTH
    assert sorted((ref.type.value, read.type.value) for ref, read in result.found) == [
        ("mass_effect", "mass_effect"),
        ("sdh", "sdh"),
    ]
    assert sorted((f.type.value, f.laterality and f.laterality.value) for f in result.missed) == [
        ("iph", "right"),
        ("midline_shift", None),
    ]
    assert sorted((f.type.value, f.laterality and f.laterality.value) for f in result.extra) == [
        ("iph", "left"),
        ("sah", "right"),
    ]
    assert result.outcome_match is True and result.urgency_match is False
    summary = summarize([result])["resident"]
    assert (summary.found, summary.missed, summary.extra) == (2, 2, 2)


def test_ground_truth_as_a_read(sample_data: Path) -> None:
    ref = read_from_truth(sample_data / "ground_truth" / "02_ct_sdh" / "truth.json", "k")
    assert [(f.type.value, f.xyz_mm is not None) for f in ref.findings] == [
        ("sdh", True), ("iph", True), ("mass_effect", False), ("midline_shift", False),
    ]  # fmt: skip
    assert (ref.outcome, ref.urgency) == (Outcome.SECONDARY, Urgency.CRITICAL)


def test_every_sample_truth_reads_and_a_mass_with_its_edema_is_one_finding(
    sample_data: Path,
) -> None:
    for path in sorted((sample_data / "ground_truth").glob("*/truth.json")):
        read_from_truth(path, path.parent.name)  # none refused
    mr = read_from_truth(sample_data / "ground_truth" / "05_mr_tumor" / "truth.json", "k")
    lesions = [(f.type.value, f.laterality.value) for f in mr.findings if f.xyz_mm is not None]
    assert lesions == [("mass_edema", "left")]


def test_feedback_only_after_the_outcome_is_saved(db_url: str) -> None:
    with ReviewStore(db_url) as store:
        _flag(store, "s1", "attending", FindingType.SDH, L, (-50.0, 5.0, 15.0))
        store.set_status("s1", ReviewStatus.REVIEWED, reviewer="attending",
                         outcome=Outcome.SECONDARY, urgency=Urgency.CRITICAL)  # fmt: skip
        _flag(store, "s1", "resident", FindingType.SDH, L, (-52.0, 5.0, 15.0))
        reads = reads_from_store(store)["s1"]
        with pytest.raises(ReviewRuleError, match="save your outcome first") as caught:
            score_read(reads["resident"], reads["attending"])
        assert caught.value.code == "read-not-saved"
        assert against_reader(store, "attending") == []  # unsaved reads are not scored
        store.set_status("s1", ReviewStatus.REVIEWED, reviewer="resident",
                         outcome=Outcome.SECONDARY, urgency=Urgency.CRITICAL)  # fmt: skip
        (result,) = against_reader(store, "attending")
        assert feedback(store, "s1", "resident", reference="attending") == result
    assert result.reader == "resident" and len(result.found) == 1
    assert not result.missed and not result.extra
    assert result.outcome_match and result.urgency_match


def test_truth_index_reads_each_file_once_per_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import imaging_triage.review.teaching as teaching_module

    for name, uid in (("a", "1.2.3"), ("b", "1.2.4")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "truth.json").write_text(json.dumps({"study_instance_uid": uid}))
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "truth.json").write_text("{}")  # no UID: not indexed
    reads: list[str] = []
    real = teaching_module.truth_study_uid

    def counting(path: str | Path) -> str:
        reads.append(Path(path).parent.name)
        return real(path)

    monkeypatch.setattr(teaching_module, "truth_study_uid", counting)
    teaching_module._truth_uid.cache_clear()
    first = truth_index(tmp_path)
    assert first == {"1.2.3": tmp_path / "a" / "truth.json", "1.2.4": tmp_path / "b" / "truth.json"}
    assert truth_index(tmp_path) == first
    assert sorted(reads) == ["a", "b", "c"]  # the second call read nothing
    (tmp_path / "b" / "truth.json").write_text(json.dumps({"study_instance_uid": "1.2.99"}))
    assert set(truth_index(tmp_path)) == {"1.2.3", "1.2.99"}  # a changed file is read again
    assert sorted(reads) == ["a", "b", "b", "c"]
