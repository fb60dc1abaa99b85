"""The ICBM 2009c symmetric brain template and its tissue priors, as shipped inside nilearn.

nilearn's wheel carries ``mni_icbm152_{t1,gm,wm}_tal_nlin_sym_09a_converted.nii.gz``
(1 mm, 197x233x189): a skull-stripped T1 average and the grey- and white-matter
probability maps. They are read from the installed package (nothing is downloaded) and
reduced once per process to the working resolution of :mod:`.mr_brain_mask`.

The templates are (c) 1993-2009 Louis Collins, McConnell Brain Imaging Centre, Montreal
Neurological Institute, McGill University, distributed under a permissive licence that
nilearn reproduces in ``nilearn/datasets/description/icbm152_2009.rst``.
"""

from __future__ import annotations

import functools
import logging
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from imaging_triage.errors import ConfigError

logger = logging.getLogger(__name__)

_FILES = {
    "t1": "mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz",
    "gm": "mni_icbm152_gm_tal_nlin_sym_09a_converted.nii.gz",
    "wm": "mni_icbm152_wm_tal_nlin_sym_09a_converted.nii.gz",
}


@dataclass(frozen=True)
class BrainTemplate:
    """SimpleITK images of the template on one grid (LPS, as SimpleITK reads NIfTI).

    Attributes
    ----------
    t1 : SimpleITK.Image
        The skull-stripped T1 average (float32, 0 outside the intracranial region).
    brain : SimpleITK.Image
        Probability of brain tissue (grey plus white matter), 0-1 (float32).
    intracranial : SimpleITK.Image
        Fraction of each voxel inside the template's intracranial region, 0-1 (float32).
    """

    t1: Any
    brain: Any
    intracranial: Any


#: bump when the reduction below changes: cached files of another version are ignored
CACHE_VERSION = 1
#: where reduced templates are kept between processes (default: the user's cache folder)
ENV_CACHE = "IMAGING_TRIAGE_CACHE"


def cache_dir() -> Path:
    """The folder of reduced templates: ``$IMAGING_TRIAGE_CACHE``, else
    ``$XDG_CACHE_HOME/imaging_triage``, else ``~/.cache/imaging_triage``."""
    if os.environ.get(ENV_CACHE):
        return Path(os.environ[ENV_CACHE])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "imaging_triage"


@functools.lru_cache(maxsize=4)
def load_template(spacing_mm: float = 2.0) -> BrainTemplate:
    """The template resampled to ``spacing_mm``.

    Reducing it takes about 0.8 s, which every worker process of a batch would pay on its
    first MR series: the result is kept per process and, between processes, as three
    small NIfTI files in :func:`cache_dir` (written atomically; a missing, unreadable or
    stale file is simply computed again).

    Raises
    ------
    ConfigError
        If nilearn (which ships the template files) is not installed.
    """
    cached = _read_cache(spacing_mm)
    if cached is not None:
        return cached
    template = _reduce(spacing_mm)
    _write_cache(spacing_mm, template)
    return template


def _cache_paths(spacing_mm: float) -> dict[str, Path]:
    try:
        from importlib.metadata import version

        source = version("nilearn")
    except Exception:  # no metadata: nothing to key the cache on
        source = "unknown"
    stem = f"icbm152_2009c_{spacing_mm:g}mm_v{CACHE_VERSION}_nilearn-{source}"
    try:
        folder = cache_dir()
    except (RuntimeError, KeyError):  # no home folder to cache in: compute every time
        return {}
    return {k: folder / f"{stem}_{k}.nii" for k in ("t1", "brain", "intracranial")}


def _read_cache(spacing_mm: float) -> BrainTemplate | None:
    import SimpleITK as sitk

    paths = _cache_paths(spacing_mm)
    if not paths or not all(p.is_file() for p in paths.values()):
        return None
    try:
        images = {k: sitk.ReadImage(str(p), sitk.sitkFloat32) for k, p in paths.items()}
    except RuntimeError as err:  # a damaged file: recompute (and rewrite) it
        logger.debug("template cache unreadable (%s); recomputing", err)
        return None
    return BrainTemplate(**images)


def _write_cache(spacing_mm: float, template: BrainTemplate) -> None:
    import SimpleITK as sitk

    try:
        for key, path in _cache_paths(spacing_mm).items():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp.nii")
            sitk.WriteImage(getattr(template, key), str(tmp))
            os.replace(tmp, path)
    except (OSError, RuntimeError) as err:  # a read-only home: the next process recomputes
        logger.debug("template cache not written (%s)", err)


def _reduce(spacing_mm: float) -> BrainTemplate:
    """Read the 1 mm template from nilearn's package data and reduce it."""
    import SimpleITK as sitk

    try:
        folder = resources.files("nilearn") / "datasets" / "data"
    except ModuleNotFoundError as err:
        raise ConfigError(
            "MR brain extraction needs the ICBM152 template shipped with nilearn: "
            "`pip install nilearn`"
        ) from err
    images = {}
    for key, name in _FILES.items():
        with resources.as_file(folder / name) as path:
            images[key] = sitk.ReadImage(str(path), sitk.sitkFloat32)
    t1 = images["t1"]
    brain = (images["gm"] + images["wm"]) / 255.0
    intracranial = sitk.Cast(t1 > 0, sitk.sitkFloat32)
    if spacing_mm != 1.0:
        t1, brain, intracranial = (
            _downsample(img, spacing_mm) for img in (t1, brain, intracranial)
        )
    return BrainTemplate(t1=t1, brain=brain, intracranial=intracranial)


def _downsample(image: Any, spacing_mm: float) -> Any:
    import numpy as np
    import SimpleITK as sitk

    old = np.asarray(image.GetSpacing())
    size = [round(n * s / spacing_mm) for n, s in zip(image.GetSize(), old, strict=True)]
    direction = np.asarray(image.GetDirection()).reshape(3, 3)
    # keep the outer edge of the first voxel where it was
    origin = np.asarray(image.GetOrigin()) + direction @ ((spacing_mm - old) / 2.0)
    smooth = sitk.SmoothingRecursiveGaussian(image, spacing_mm / 2.0)
    return sitk.Resample(
        smooth,
        size,
        sitk.Transform(),
        sitk.sitkLinear,
        [float(v) for v in origin],
        [spacing_mm] * 3,
        image.GetDirection(),
        0.0,
        sitk.sitkFloat32,
    )
