"""The analytic head phantom behind sample_data/: anatomy, densities, sides."""

from __future__ import annotations

import numpy as np
import pytest

from imaging_triage.phantom import (
    CT_HU,
    MR_SIGNAL,
    Crescent,
    Ellipsoid,
    HeadSpec,
    Lesion,
    LesionKind,
    Tissue,
    bias_field,
    classify,
    ct_values,
    mr_values,
)

SDH = Lesion(LesionKind.SDH, Crescent((-1.0, 0.0, 0.3), 45.0, 9.0), ct_hu=70.0)


def tissue_at(x: float, y: float, z: float, spec: HeadSpec | None = None) -> Tissue:
    tissue, _ = classify(np.array([[x, y, z]]), spec or HeadSpec())
    return Tissue(int(tissue[0]))


def test_landmarks() -> None:
    assert tissue_at(0.0, 0.0, 200.0) is Tissue.AIR
    assert tissue_at(0.0, 0.0, 66.5) in (Tissue.BONE, Tissue.DIPLOE)  # vertex skull
    assert tissue_at(-67.0, -2.0, -8.0) in (Tissue.BONE, Tissue.DIPLOE)  # left temporal squama
    assert tissue_at(-9.0, 0.0, 15.0) is Tissue.VENTRICLE  # left lateral ventricle
    assert tissue_at(9.0, 0.0, 15.0) is Tissue.VENTRICLE
    assert tissue_at(0.0, -16.0, -40.0) is Tissue.BRAINSTEM
    assert tissue_at(20.0, 4.0, 2.0) is Tissue.DEEP_GREY  # right lentiform nucleus
    assert tissue_at(30.0, -60.0, -45.0) in (Tissue.CEREBELLUM, Tissue.CSF)


def test_reference_densities() -> None:
    assert 37.0 <= CT_HU[Tissue.GREY] <= 45.0
    assert 20.0 <= CT_HU[Tissue.WHITE] <= 30.0
    assert CT_HU[Tissue.BONE] >= 1000.0
    assert CT_HU[Tissue.CSF] < 15.0 and CT_HU[Tissue.VENTRICLE] < 15.0
    t1, flair = MR_SIGNAL["T1"], MR_SIGNAL["FLAIR"]
    assert t1[Tissue.WHITE] > t1[Tissue.GREY] > t1[Tissue.CSF]
    assert flair[Tissue.GREY] > flair[Tissue.WHITE] > flair[Tissue.CSF]


def test_normal_head_is_mirror_symmetric() -> None:
    rng = np.random.default_rng(1)
    points = rng.uniform([-80, -100, -70], [80, 100, 80], size=(20000, 3))
    mirrored = points * np.array([-1.0, 1.0, 1.0])
    left, _ = classify(points, HeadSpec())
    right, _ = classify(mirrored, HeadSpec())
    assert np.mean(left == right) > 0.999  # only points exactly on a boundary may differ


def test_left_crescent_is_on_the_left_against_the_skull() -> None:
    spec = HeadSpec(lesions=(SDH,))
    points = np.array([[-61.0, -2.0, 5.0], [61.0, -2.0, 5.0], [-40.0, -2.0, 5.0]])
    _, lesion = classify(points, spec)
    assert lesion.tolist() == [1, 0, 0]
    tissue, lesion = classify(points[:1], spec)
    assert ct_values(tissue, lesion, spec)[0] == 70.0


def test_midline_shift_moves_the_ventricles_right() -> None:
    shifted = HeadSpec(midline_shift_mm=6.0, shift_centre=(0.0, 0.0, 15.0))
    assert tissue_at(-12.0, 0.0, 15.0) is Tissue.VENTRICLE  # lateral wall, left ventricle
    assert tissue_at(-12.0, 0.0, 15.0, shifted) is not Tissue.VENTRICLE
    assert tissue_at(16.0, 0.0, 15.0) is not Tissue.VENTRICLE
    assert tissue_at(16.0, 0.0, 15.0, shifted) is Tissue.VENTRICLE


def test_first_lesion_wins_and_occupies_only_its_tissues() -> None:
    blob = Lesion(LesionKind.IPH, Ellipsoid((-30.0, 20.0, 10.0), (6.0, 6.0, 6.0)), ct_hu=65.0)
    infarct = Lesion(
        LesionKind.INFARCT,
        Ellipsoid((-30.0, 20.0, 10.0), (20.0, 20.0, 20.0)),
        occupies=frozenset({Tissue.GREY, Tissue.WHITE}),
        ct_delta_hu=-8.0,
    )
    spec = HeadSpec(lesions=(blob, infarct))
    rng = np.random.default_rng(2)
    points = rng.uniform([-50, 0, -10], [-10, 40, 30], size=(5000, 3))
    tissue, lesion = classify(points, spec)
    assert set(np.unique(lesion)) == {0, 1, 2}
    assert np.all(np.isin(tissue[lesion == 2], [Tissue.GREY, Tissue.WHITE]))
    hu = ct_values(tissue, lesion, spec)
    base = ct_values(tissue, np.zeros_like(lesion), HeadSpec())
    np.testing.assert_allclose(hu[lesion == 2] - base[lesion == 2], -8.0)
    assert np.all(hu[lesion == 1] == 65.0)


def test_mr_values_and_bias() -> None:
    tissue = np.array([Tissue.WHITE, Tissue.GREY], dtype=np.uint8)
    lesion = np.zeros(2, dtype=np.uint8)
    t1 = mr_values(tissue, lesion, HeadSpec(), "T1")
    assert t1[0] > t1[1]
    with pytest.raises(ValueError, match="unknown MR contrast"):
        mr_values(tissue, lesion, HeadSpec(), "DWI")
    points = np.random.default_rng(3).uniform(-1.0, 1.0, size=(4000, 3))
    points = points[np.linalg.norm(points, axis=1) < 1.0] * np.array([70.0, 90.0, 80.0])
    field = bias_field(points)  # over the head
    assert field.min() > 0.75 and field.max() < 1.25
    assert field.max() - field.min() > 0.2  # a real inhomogeneity, not a constant


def test_beam_hardening_streaks_and_calcifications() -> None:
    import math

    from imaging_triage.phantom import (
        CALCIFICATIONS,
        PETROUS_APICES,
        STREAK_ANGLES_DEG,
        Tissue,
        beam_hardening,
    )

    ax, ay, az = PETROUS_APICES[0]
    theta = math.radians(STREAK_ANGLES_DEG[0])
    on_ray = [ax + 10 * math.cos(theta), ay + 10 * math.sin(theta), az]
    bar = [0.0, ay, az]
    above = [on_ray[0], on_ray[1], az + 40.0]
    hu = beam_hardening(np.array([on_ray, bar, above]), 30.0)
    assert hu[0] > 15.0  # bright streak behind the apex
    assert hu[1] < -15.0  # the dark bar between the apices
    assert abs(hu[2]) < 0.1  # nothing far above the skull base
    centres = np.array([c.centre for c in CALCIFICATIONS.values()])
    plain, _ = classify(centres, HeadSpec())
    calcified, _ = classify(centres, HeadSpec(calcifications=True))
    assert np.all(calcified == Tissue.CALCIFICATION) and not np.any(plain == Tissue.CALCIFICATION)
