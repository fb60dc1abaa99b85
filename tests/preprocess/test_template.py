"""The ICBM152 template reduced once, kept between processes in the cache folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from imaging_triage.preprocess import template as tpl


def _arrays(t: tpl.BrainTemplate) -> list[np.ndarray]:
    return [sitk.GetArrayFromImage(getattr(t, k)) for k in ("t1", "brain", "intracranial")]


def test_the_cached_template_equals_the_computed_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(tpl.ENV_CACHE, str(tmp_path))
    tpl.load_template.cache_clear()
    computed = tpl.load_template(4.0)
    files = sorted(tmp_path.glob("icbm152_2009c_4mm_*.nii"))
    assert len(files) == 3 and not list(tmp_path.glob(".*tmp*"))
    tpl.load_template.cache_clear()
    cached = tpl.load_template(4.0)  # read back, not reduced again
    for a, b in zip(_arrays(computed), _arrays(cached), strict=True):
        np.testing.assert_array_equal(a, b)
    assert cached.t1.GetOrigin() == computed.t1.GetOrigin()
    assert cached.t1.GetSpacing() == computed.t1.GetSpacing() == (4.0, 4.0, 4.0)
    # a damaged file is computed again (and rewritten), never used
    files[0].write_bytes(b"not a nifti")
    tpl.load_template.cache_clear()
    again = tpl.load_template(4.0)
    for a, b in zip(_arrays(computed), _arrays(again), strict=True):
        np.testing.assert_array_equal(a, b)
    assert files[0].stat().st_size > 1000
    tpl.load_template.cache_clear()
