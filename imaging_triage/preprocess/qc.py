"""Quality control of a brain mask: findings as data, a verdict that flags, never silence.

Each processed series gets a :class:`QCReport`: measures of its mask (volume, connected
components, left-right balance, fraction of the head inside the mask, field-of-view
coverage) and a :class:`Verdict`, ``warn`` with its reasons as soon as one measure is
outside its plausible adult range. The report is written in the provenance (``"qc"``),
the ``qc`` column of ``manifest.csv`` and ``report.html``; :func:`read_qc` gives the
viewer the verdict of an output. A ``warn`` asks a person to look; it is not a finding
about the patient.

>>> report = assess(mask, image, "ct")                 # doctest: +SKIP
>>> report.verdict, report.reasons                     # doctest: +SKIP
(<Verdict.WARN: 'warn'>, ['intracranial volume 612 ml below 1200 ml'])
"""

from __future__ import annotations

import enum
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from imaging_triage.errors import ConfigError
from imaging_triage.volume import Volume


class Verdict(str, enum.Enum):
    """The QC outcome of one series."""

    #: every measure inside its plausible range
    PASS = "pass"
    #: at least one measure outside its range: a person should look at the mask
    WARN = "warn"
    #: no mask was made (e.g. a geometry-only pipeline): nothing to judge
    NONE = "none"


@dataclass(frozen=True)
class QCLimits:
    """Plausible adult ranges (configurable: the ``[qc]`` section of the pipeline TOML).

    Attributes
    ----------
    ct_ml, mr_ml : tuple of float
        Mask volume range (mL) for a whole head: CT intracranial, MR brain.
    expected_height_mm : float
        Superior-inferior extent of a whole mask; a mask cut by the field of view is held
        to the lower volume limit scaled by the covered fraction of this height.
    max_asymmetry : float
        Largest ``|left - right| / (left + right)`` about the head's midline.
    head_fraction : tuple of float
        Range of the mask's share of the head (every voxel of tissue).
    min_main_component : float
        Smallest share of the mask in its largest connected component.
    cut_section_cm2 : float
        An end section of the mask (top or bottom, across the superior axis) larger than
        this means the field of view cut the brain.

    Raises
    ------
    ConfigError
        If a range is not ``[low, high]`` with ``0 <= low < high`` or a value is out of range.
    """

    ct_ml: tuple[float, float] = (1200.0, 1800.0)
    mr_ml: tuple[float, float] = (950.0, 1700.0)
    expected_height_mm: float = 130.0
    max_asymmetry: float = 0.15
    head_fraction: tuple[float, float] = (0.2, 0.9)
    min_main_component: float = 0.95
    cut_section_cm2: float = 20.0

    def __post_init__(self) -> None:
        for name in ("ct_ml", "mr_ml", "head_fraction"):
            lo, hi = getattr(self, name)
            if not 0 <= lo < hi:
                raise ConfigError(f"qc: {name} must be [low, high] with 0 <= low < high")
        if self.head_fraction[1] > 1:
            raise ConfigError("qc: head_fraction is a share of the head: at most 1")
        if self.expected_height_mm <= 0 or self.cut_section_cm2 <= 0:
            raise ConfigError("qc: expected_height_mm and cut_section_cm2 must be > 0")
        if not 0 <= self.max_asymmetry <= 1 or not 0 <= self.min_main_component <= 1:
            raise ConfigError("qc: max_asymmetry and min_main_component must be in [0, 1]")


@dataclass
class QCReport:
    """Measures of one mask and the verdict drawn from them."""

    verdict: Verdict
    reasons: list[str] = field(default_factory=list)
    measures: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able values."""
        out = asdict(self)
        out["verdict"] = self.verdict.value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QCReport:
        """Inverse of :meth:`to_dict` (unknown verdicts read as ``warn``)."""
        try:
            verdict = Verdict(str(data.get("verdict", "")))
        except ValueError:
            verdict = Verdict.WARN
        reasons = [str(r) for r in data.get("reasons", [])]
        measures = {str(k): float(v) for k, v in dict(data.get("measures", {})).items()}
        return cls(verdict, reasons, measures)

    def summary(self) -> str:
        """One manifest cell: ``pass``, or ``warn: reason; reason``."""
        if self.verdict is Verdict.WARN:
            return "warn: " + "; ".join(self.reasons)
        return self.verdict.value


def _head(image: Volume, ct: bool) -> npt.NDArray[np.bool_]:
    data = np.asarray(image.data)
    if ct:
        return np.asarray(data > -300.0, dtype=bool)
    from imaging_triage.preprocess.mr_brain_mask import otsu_threshold

    sub = data.ravel()[:: max(1, data.size // 1_000_000)]
    return np.asarray(data > otsu_threshold(sub), dtype=bool)


def assess(
    mask: npt.NDArray[np.bool_], image: Volume, pipeline: str, limits: QCLimits | None = None
) -> QCReport:
    """Measure a brain mask on its image and give the verdict.

    Parameters
    ----------
    mask : numpy.ndarray of bool
        The brain mask, on the image grid.
    image : Volume
        The image the mask was made on (CT in HU).
    pipeline : str
        ``"ct"`` (intracranial mask) or ``"mr"`` (brain mask).
    limits : QCLimits, optional
        Ranges; the defaults are adult heads.

    Returns
    -------
    QCReport
    """
    lim = limits or QCLimits()
    ct = pipeline == "ct"
    mask = np.asarray(mask, dtype=bool)
    voxel_ml = float(np.prod(image.spacing)) / 1000.0
    volume_ml = float(mask.sum()) * voxel_ml
    lo, hi = lim.ct_ml if ct else lim.mr_ml
    what = "intracranial" if ct else "brain"
    measures: dict[str, float] = {"volume_ml": round(volume_ml, 1)}
    reasons: list[str] = []
    if volume_ml == 0:
        return QCReport(Verdict.WARN, [f"empty {what} mask"], measures)

    # field-of-view coverage along the superior axis
    direction = image.affine[:3, :3] / np.linalg.norm(image.affine[:3, :3], axis=0)
    s_axis = int(np.argmax(np.abs(direction[2])))
    other = tuple(a for a in range(3) if a != s_axis)
    area_cm2 = mask.sum(axis=other) * float(np.prod([image.spacing[a] for a in other])) / 100.0
    present = np.nonzero(area_cm2 > 0)[0]
    height = float(present[-1] - present[0] + 1) * image.spacing[s_axis]
    # a whole brain tapers to a few cm^2 at the vertex and the foramen magnum: a large end
    # section means the field of view (or a tilted slab's edge) cut it
    ends = (float(area_cm2[present[0]]), float(area_cm2[present[-1]]))
    cut = max(ends) > lim.cut_section_cm2
    coverage = min(1.0, height / lim.expected_height_mm) if cut else 1.0
    measures["height_mm"] = round(height, 1)
    measures["coverage"] = round(coverage, 3)
    low_limit = lo * coverage
    if volume_ml < low_limit:
        partial = f" (field of view covers {coverage:.0%})" if cut else ""
        reasons.append(f"{what} volume {volume_ml:.0f} ml below {low_limit:.0f} ml{partial}")
    elif volume_ml > hi:
        reasons.append(f"{what} volume {volume_ml:.0f} ml above {hi:.0f} ml")

    labels, n = ndimage.label(mask)
    sizes = np.bincount(labels.ravel())[1:]
    main = float(sizes.max()) / float(mask.sum())
    measures["components"] = float(n)
    measures["main_component"] = round(main, 3)
    if main < lim.min_main_component:
        reasons.append(f"mask in {n} pieces, the largest holds {main:.0%}")

    head = _head(image, ct) | mask
    fraction = float(mask.sum()) / float(head.sum())
    measures["head_fraction"] = round(fraction, 3)
    if not lim.head_fraction[0] <= fraction <= lim.head_fraction[1]:
        reasons.append(
            f"mask holds {fraction:.0%} of the head (expected "
            f"{lim.head_fraction[0]:.0%}-{lim.head_fraction[1]:.0%})"
        )

    # left-right balance about the head's own midline (x of the head's centroid)
    r_axis = int(np.argmax(np.abs(direction[0])))
    r_other = tuple(a for a in range(3) if a != r_axis)
    head_profile = head.sum(axis=r_other).astype(np.float64)
    centre = float((np.arange(head_profile.size) * head_profile).sum() / head_profile.sum())
    profile = mask.sum(axis=r_other).astype(np.float64)
    idx = np.arange(profile.size)
    first = float(profile[idx < centre].sum())
    second = float(profile[idx > centre].sum())
    asym = abs(first - second) / max(first + second, 1.0)
    measures["asymmetry"] = round(asym, 3)
    if asym > lim.max_asymmetry:
        reasons.append(f"left-right imbalance {asym:.0%} (over {lim.max_asymmetry:.0%})")
    return QCReport(Verdict.WARN if reasons else Verdict.PASS, reasons, measures)


def provenance_of(image_path: str | Path) -> Path:
    """The provenance JSON beside an output image (``B.nii.gz`` -> ``B_provenance.json``)."""
    p = Path(image_path)
    name = p.name
    for suffix in (".nii.gz", ".nii", ".json"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    if name.endswith("_provenance"):
        return p
    return p.with_name(f"{name}_provenance.json")


def read_qc(path: str | Path) -> QCReport | None:
    """The QC report of an output, for the viewer: from its provenance JSON.

    Parameters
    ----------
    path : str or Path
        The output image (as in the manifest's ``output`` column, joined to OUT) or its
        ``_provenance.json``.

    Returns
    -------
    QCReport or None
        ``None`` when there is no QC (an output of ``convert``, a pipeline without a
        brain mask, or written before QC existed) or the provenance cannot be read.

    Examples
    --------
    >>> qc = read_qc("out/study/0002_T1.nii.gz")               # doctest: +SKIP
    >>> if qc is not None and qc.verdict is Verdict.WARN:      # doctest: +SKIP
    ...     print("brain mask needs a look:", "; ".join(qc.reasons))
    """
    try:
        data = json.loads(provenance_of(path).read_text())
    except (OSError, ValueError):
        return None
    qc = data.get("qc") if isinstance(data, dict) else None
    if not isinstance(qc, dict):
        return None
    return QCReport.from_dict(qc)
