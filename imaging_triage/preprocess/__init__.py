"""Preprocessing steps, one module each, and the pipeline that orders them.

Steps (frozen dataclasses of parameters, each mapping a :class:`~.base.Sample`):
:mod:`.reorient` (closest canonical RAS), :mod:`.resample` (target spacing),
:mod:`.clip` (CT HU range), :mod:`.ct_brain_mask` (3-D intracranial mask),
:mod:`.window` (CT presets), :mod:`.bias_field` (MR N4), :mod:`.mr_brain_mask` (the
:mod:`.template` registered by :mod:`.registration`, refined by intensity),
:mod:`.normalize` (z-score). :mod:`.qc` judges every brain mask (pass or warn).

:mod:`.config` holds the per-modality defaults and reads TOML overrides;
:mod:`.pipeline` runs the steps on a volume and writes the outputs, the sidecar
(:mod:`.sidecar`) and the provenance (:mod:`.provenance`); :mod:`.report` writes the
visual QC report; :mod:`.phantom` generates head phantoms with known anatomy for tests
and benchmarks. The batch runner over a tree is :mod:`imaging_triage.batch`.
"""
