"""A configured, ordered list of steps, run on one volume; writes outputs and provenance.

>>> config = load_config(None)                                   # doctest: +SKIP
>>> base = Path("out/study/0002_T1")                             # doctest: +SKIP
>>> out = process_volume(vol, config, base, input_sha256="", series_outputs=[])  # doctest: +SKIP

Outputs of a volume with base path ``B`` (all written atomically):

* ``B.nii.gz``: the image (CT: int16 HU; MR: float32 z-scores; ``convert``: as loaded);
* ``B_mask.nii.gz``: the brain mask (uint8), when a brain-mask step ran;
* ``B_win-<preset>.nii.gz``: windowed 8-bit derivatives, when the windows step ran;
* ``B_candidates.nii.gz`` and ``B_candidates.json``: the automated candidate checks
  (:mod:`imaging_triage.candidates`), on CT with a brain mask unless ``[candidates]
  enabled = false``;
* ``B.bval`` and ``B.bvec``: the b-values and gradient directions of a 4-D diffusion
  image (``convert``), in dcm2niix's FSL text format (:func:`diffusion_texts`);
* ``B.json``: the sidecar (BIDS keys, corrections, warnings);
* ``B_provenance.json``: steps, parameters, seconds, library versions, hashes; written last.

``config=None`` is the empty pipeline used by ``convert``: the volume is written as loaded
(every time point of a 4-D series).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from imaging_triage.candidates.run import (
    SeriesCandidates,
    candidate_paths,
    run_checks,
    save_candidates,
)
from imaging_triage.dicom.diffusion import bval_bvec_text
from imaging_triage.display import is_ct
from imaging_triage.errors import NotAVolumeError
from imaging_triage.preprocess.base import Sample, step_params
from imaging_triage.preprocess.config import Pipeline, PipelineConfig, build_steps, param_hash
from imaging_triage.preprocess.provenance import Provenance, StepRecord
from imaging_triage.preprocess.qc import assess
from imaging_triage.preprocess.sidecar import bids_sidecar
from imaging_triage.volume import Volume, atomic_write_bytes, atomic_write_json, save_nifti

logger = logging.getLogger(__name__)

#: fewest voxels along any axis for a volume to be preprocessed (N4, morphology, masks)
MIN_SIZE = 4


def choose_pipeline(volume: Volume) -> tuple[Pipeline, str | None]:
    """Pick the pipeline for a volume from its modality; return it and a note if guessed.

    A volume without a modality (a NIfTI input) is treated as CT when its values look
    like Hounsfield units (the one rule of :func:`imaging_triage.display.is_ct`, shared
    with the viewer and the report), otherwise as MR.
    """
    modality = volume.info.modality.upper()
    if modality == "CT" or volume.info.hounsfield:
        return Pipeline.CT, None
    if modality == "MR":
        return Pipeline.MR, None
    if modality:
        return Pipeline.OTHER, None
    if is_ct("", data=volume.data):
        return Pipeline.CT, "modality unknown (NIfTI input): values look like HU, treated as CT"
    return Pipeline.MR, "modality unknown (NIfTI input): treated as MR"


@dataclass
class PipelineResult:
    """The processed sample and the record of each step."""

    sample: Sample
    pipeline: Pipeline
    steps: list[StepRecord] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def run_pipeline(volume: Volume, config: PipelineConfig) -> PipelineResult:
    """Run the configured steps for the volume's modality.

    A 4-D volume is reduced to its first time point (noted): the steps are 3-D.

    Raises
    ------
    NotAVolumeError
        If the image has fewer than :data:`MIN_SIZE` voxels along an axis (one slice).
    """
    pipe, note = choose_pipeline(volume)
    notes = [note] if note else []
    if volume.data.ndim == 4:
        notes.append(f"4-D series ({volume.shape[3]} volumes): first volume preprocessed")
        volume = Volume(np.ascontiguousarray(volume.data[..., 0]), volume.affine, volume.info)
    if min(volume.shape[:3]) < MIN_SIZE:
        raise NotAVolumeError(
            f"image of {'x'.join(str(n) for n in volume.shape[:3])} voxels is not a volume; "
            f"preprocessing needs at least {MIN_SIZE} voxels along each axis (convert still "
            "writes it)"
        )
    sample = Sample(image=volume)
    records = []
    for step in build_steps(config, pipe):
        start = time.perf_counter()
        before = len(sample.notes)
        sample = step(sample)
        records.append(
            StepRecord(
                name=step.name,
                params=step_params(step),
                seconds=round(time.perf_counter() - start, 4),
                notes=sample.notes[before:],
            )
        )
    return PipelineResult(sample, pipe, records, notes)


def cast_output(data: npt.NDArray[Any], dtype: str) -> tuple[npt.NDArray[Any], str | None]:
    """Cast the output image to the configured datatype (``auto``: smallest exact)."""
    if dtype == "auto":
        return data, None
    if dtype == "int16":
        info = np.iinfo(np.int16)
        return np.clip(np.round(data), info.min, info.max).astype(np.int16), "int16"
    return np.asarray(data, dtype=np.float32), "float32"


def diffusion_texts(image: Volume) -> tuple[str, str] | None:
    """The ``.bval`` and ``.bvec`` texts of a 4-D diffusion image, else ``None``.

    Only an image whose fourth axis is the diffusion volumes gets them: a preprocessed
    image (the first volume only) or a 3-D trace image does not, and neither does an
    image whose encoding does not list one b-value per volume.
    """
    if image.data.ndim != 4:
        return None
    texts = bval_bvec_text(image.info.acquisition)
    if texts is None or len(texts[0].split()) != image.shape[3]:
        return None
    return texts


def output_paths(
    base: Path,
    result: PipelineResult | None,
    candidates: bool = False,
    diffusion: bool = False,
) -> dict[str, Path]:
    """The files :func:`process_volume` writes for ``base``, by role."""
    paths = {"image": base.with_name(base.name + ".nii.gz")}
    if diffusion:
        paths["bval"] = base.with_name(base.name + ".bval")
        paths["bvec"] = base.with_name(base.name + ".bvec")
    if result is not None:
        if result.sample.mask is not None:
            paths["mask"] = base.with_name(base.name + "_mask.nii.gz")
        for key in result.sample.derivatives:
            paths[key] = base.with_name(f"{base.name}_{key}.nii.gz")
    if candidates:
        found = candidate_paths(base)
        paths["candidates"] = found["labels"]
        paths["candidates_json"] = found["json"]
    paths["sidecar"] = base.with_name(base.name + ".json")
    paths["provenance"] = base.with_name(base.name + "_provenance.json")
    return paths


@dataclass
class VolumeOutput:
    """What :func:`process_volume` wrote."""

    paths: dict[str, Path]
    shape: tuple[int, ...]
    spacing_mm: tuple[float, ...]
    pipeline: str
    step_seconds: dict[str, float]
    write_seconds: float = 0.0
    #: the brain-mask QC cell of the manifest (``pass``, ``warn: ...``, or empty)
    qc: str = ""
    #: QC renderings for the report (view -> PNG bytes), when asked for
    views: dict[str, bytes] = field(default_factory=dict)
    #: the candidate score of the series, None when the checks did not run
    candidate_score: int | None = None


def _remove_stale_outputs(paths: dict[str, Path]) -> None:
    """Delete outputs an earlier configuration wrote for this series that the new one
    will not write (a mask after brain masking was turned off, old windows): left in
    place they would sit under the new image's name on another grid. The earlier
    provenance is removed first, so a crash in between never describes missing files."""
    prov_path = paths["provenance"]
    try:
        previous = json.loads(prov_path.read_text()).get("outputs", {})
    except (OSError, ValueError, AttributeError):
        return
    keep = {p.name for p in paths.values()}
    stale = [name for name in previous.values() if isinstance(name, str) and name not in keep]
    if not stale:
        return
    prov_path.unlink(missing_ok=True)
    for name in stale:
        target = prov_path.parent / name
        if target.parent == prov_path.parent:  # a bare file name, never a path elsewhere
            target.unlink(missing_ok=True)


def process_volume(
    volume: Volume,
    config: PipelineConfig | None,
    base: Path,
    *,
    input_sha256: str,
    series_outputs: list[str],
    load_seconds: float = 0.0,
    render: bool = False,
) -> VolumeOutput:
    """Run the pipeline (or none, for ``convert``) and write every output of one volume.

    Parameters
    ----------
    volume : Volume
        The loaded volume.
    config : PipelineConfig or None
        The pipeline configuration; ``None`` writes the volume as loaded.
    base : Path
        Output path without suffix; the folder is created.
    input_sha256 : str
        Hash of the input files (recorded for resume).
    series_outputs : list of str
        Names of every provenance file of the same input series.
    load_seconds : float
        Time spent loading (recorded in the provenance).
    render : bool
        Also render the QC views of the written image and mask (for ``report.html``),
        so the main process does not have to read the outputs back.
    """
    result: PipelineResult | None = None
    notes: list[str] = []
    if config is None:
        image = volume
        dtype: str | None = None
        pipe_name = "convert"
        phash = param_hash(None, None)
    else:
        result = run_pipeline(volume, config)
        mod = config.modalities[result.pipeline]
        data, dtype = cast_output(result.sample.image.data, mod.output_dtype)
        image = Volume(data, result.sample.image.affine, volume.info)
        pipe_name = result.pipeline.value
        phash = param_hash(config, result.pipeline)
        notes = result.notes
    with_candidates = (
        config is not None
        and result is not None
        and result.sample.mask is not None
        and config.candidates.applies_to(result.pipeline)
    )
    texts = diffusion_texts(image)
    paths = output_paths(base, result, with_candidates, diffusion=texts is not None)
    base.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_outputs(paths)
    start = time.perf_counter()
    save_nifti(image, paths["image"], dtype=dtype)
    if texts is not None:
        atomic_write_bytes(paths["bval"], texts[0].encode("ascii"))
        atomic_write_bytes(paths["bvec"], texts[1].encode("ascii"))
    if result is not None:
        if result.sample.mask is not None:
            mask = Volume(result.sample.mask.astype(np.uint8), image.affine, volume.info)
            save_nifti(mask, paths["mask"], dtype=np.uint8)
        for key, arr in result.sample.derivatives.items():
            save_nifti(Volume(arr, image.affine, volume.info), paths[key])
    processing = {"Pipeline": pipe_name, "Notes": notes}
    if result is not None:
        processing["Steps"] = [s.name for s in result.steps]
    atomic_write_json(paths["sidecar"], bids_sidecar(volume.info, {"ImagingTriage": processing}))
    write_seconds = time.perf_counter() - start
    found = None
    if with_candidates and config is not None and result is not None:
        found = _candidates_step(image, result, config, base)
    qc = None
    if config is not None and result is not None and result.sample.mask is not None:
        qc = assess(result.sample.mask, result.sample.image, pipe_name, config.qc)
    prov = Provenance(
        input_sha256=input_sha256,
        param_hash=phash,
        pipeline=pipe_name,
        steps=result.steps if result is not None else [],
        outputs={k: p.name for k, p in paths.items() if k != "provenance"},
        series_outputs=series_outputs,
        load_seconds=round(load_seconds, 4),
        write_seconds=round(write_seconds, 4),
        shape=list(image.shape),
        spacing_mm=[round(s, 6) for s in image.spacing],
        corrections=list(volume.info.corrections),
        warnings=list(volume.info.warnings) + notes,
        qc=qc.to_dict() if qc is not None else {},
        candidates=found.score.to_dict() | {"regions": len(found.regions)} if found else {},
    )
    atomic_write_json(paths["provenance"], prov.to_dict())
    views: dict[str, bytes] = {}
    if render:
        from imaging_triage.preprocess.report import render_views

        mask_arr = result.sample.mask if result is not None else None
        views = render_views(
            image.data,
            image.affine,
            mask_arr,
            pipe_name == "ct",
            labels=found.labels if found is not None else None,
        )
    return VolumeOutput(
        views=views,
        paths=paths,
        shape=image.shape,
        spacing_mm=image.spacing,
        pipeline=pipe_name,
        step_seconds={s.name: s.seconds for s in (result.steps if result else [])},
        write_seconds=round(write_seconds, 4),
        qc=qc.summary() if qc is not None else "",
        candidate_score=found.score.score if found is not None else None,
    )


def _candidates_step(
    image: Volume, result: PipelineResult, config: PipelineConfig, base: Path
) -> SeriesCandidates:
    """Run the candidate checks on the written image and mask, write their outputs and
    record them as the last step (``candidates``) of the provenance."""
    assert result.sample.mask is not None
    start = time.perf_counter()
    found = run_checks(image, result.sample.mask, config.candidates.checks)
    save_candidates(found, image, base)
    result.steps.append(
        StepRecord(
            name="candidates",
            params=config.candidates.params(),
            seconds=round(time.perf_counter() - start, 4),
            notes=[f"candidate score {found.score.score}, {len(found.regions)} region(s)"],
        )
    )
    return found
