"""Pipeline configuration: ordered steps and their parameters per modality, from TOML.

Defaults are sensible per modality and a TOML file (``--config``) overrides any of them::

    [ct]
    steps = ["reorient", "clip", "resample", "brain_mask", "windows"]
    output_dtype = "int16"

    [ct.resample]
    spacing_mm = [1.0, 1.0, 1.0]
    interpolation = "linear"        # or "bspline"

    [mr.n4]
    shrink_factor = 6
    iterations = [50, 50, 30, 20]

    [batch]
    max_tasks_per_child = 10

    [qc]                            # brain-mask QC limits (QCLimits), adult heads
    ct_ml = [1200.0, 1800.0]        # CT intracranial volume, whole head
    mr_ml = [950.0, 1700.0]         # MR brain volume, whole head

    [candidates]                    # the automated candidate checks, last step on CT and MR
    enabled = true                  # false: no candidate outputs
    checks = ["hyperdensity", "midline_shift", "ventricles", "hypodensity_asymmetry",
              "flair_asymmetry"]

    [candidates.hyperdensity]
    acute_hu = [50.0, 90.0]

``--dry-run`` prints the effective configuration in this format (:func:`to_toml`).
Each modality has its own parameter hash (:func:`param_hash`), so changing a CT parameter
recomputes CT series only.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from imaging_triage.candidates.findings import Check
from imaging_triage.candidates.run import CandidateConfig
from imaging_triage.errors import ConfigError
from imaging_triage.preprocess.base import Step, step_params
from imaging_triage.preprocess.bias_field import N4BiasCorrection
from imaging_triage.preprocess.clip import ClipIntensity
from imaging_triage.preprocess.ct_brain_mask import CTBrainMask
from imaging_triage.preprocess.mr_brain_mask import MRBrainMask
from imaging_triage.preprocess.normalize import ZScoreNormalize
from imaging_triage.preprocess.qc import QCLimits
from imaging_triage.preprocess.reorient import Reorient
from imaging_triage.preprocess.resample import Resample
from imaging_triage.preprocess.window import Windows

#: bump when the meaning of outputs changes without a parameter change (forces recompute)
OUTPUT_FORMAT = 1


class Pipeline(str, enum.Enum):
    """Which step list a series goes through, chosen from its modality."""

    #: computed tomography, in Hounsfield units
    CT = "ct"
    #: magnetic resonance (arbitrary units)
    MR = "mr"
    #: anything else: geometry steps only
    OTHER = "other"


#: the steps each pipeline may use, by the name used in the TOML file
STEP_TYPES: dict[Pipeline, dict[str, type[Any]]] = {
    Pipeline.CT: {
        "reorient": Reorient,
        "clip": ClipIntensity,
        "resample": Resample,
        "brain_mask": CTBrainMask,
        "windows": Windows,
    },
    Pipeline.MR: {
        "reorient": Reorient,
        "resample": Resample,
        "n4": N4BiasCorrection,
        "brain_mask": MRBrainMask,
        "normalize": ZScoreNormalize,
    },
    Pipeline.OTHER: {"reorient": Reorient, "resample": Resample},
}

DEFAULT_STEPS: dict[Pipeline, tuple[str, ...]] = {
    Pipeline.CT: ("reorient", "clip", "resample", "brain_mask"),
    # N4 before resampling: the bias field is fitted at the native resolution
    Pipeline.MR: ("reorient", "n4", "resample", "brain_mask", "normalize"),
    Pipeline.OTHER: ("reorient", "resample"),
}

DEFAULT_DTYPE: dict[Pipeline, str] = {
    Pipeline.CT: "int16",
    Pipeline.MR: "float32",
    Pipeline.OTHER: "float32",
}

_DTYPES = ("int16", "float32", "auto")


@dataclass(frozen=True)
class ModalityConfig:
    """Steps (in order), every step's parameters, and the output datatype of one pipeline."""

    steps: tuple[str, ...]
    params: dict[str, dict[str, Any]]
    output_dtype: str


@dataclass(frozen=True)
class BatchConfig:
    """Settings of the batch runner that do not change outputs (not hashed)."""

    #: recycle a worker process after this many series (bounds leaked memory)
    max_tasks_per_child: int = 10


# --------------------------------------------------------------------------------------
# Candidate checks (issue 14): the [candidates] section, kept apart from the steps above.

#: pipelines whose series get the candidate checks (they need HU and a brain mask)
CANDIDATE_PIPELINES = (Pipeline.CT, Pipeline.MR)


@dataclass(frozen=True)
class CandidatesSettings:
    """The ``[candidates]`` section: whether :mod:`imaging_triage.candidates` runs after
    the steps of a pipeline in :data:`CANDIDATE_PIPELINES`, and with which parameters.

    Attributes
    ----------
    enabled : bool
        Run the checks and write ``B_candidates.nii.gz`` and ``B_candidates.json``
        (default true).
    checks : CandidateConfig
        Which checks and their parameters (sub-tables ``[candidates.hyperdensity]``,
        ``[candidates.midline]``, ``[candidates.ventricles]``, ``[candidates.hypodensity]``,
        ``[candidates.flair]``, ``[candidates.mr_ventricles]``, ``[candidates.score]``).
    """

    enabled: bool = True
    checks: CandidateConfig = field(default_factory=CandidateConfig)

    def applies_to(self, pipe: Pipeline) -> bool:
        """Whether the checks run on series of pipeline ``pipe``."""
        return self.enabled and pipe in CANDIDATE_PIPELINES

    def params(self) -> dict[str, Any]:
        """Plain values of every parameter (for provenance, hashing and TOML)."""
        return {"enabled": self.enabled, **dataclasses.asdict(self.checks)}


#: sub-tables of [candidates], by name: the field of CandidateConfig each one sets
_CANDIDATE_TABLES = (
    "hyperdensity",
    "midline",
    "ventricles",
    "hypodensity",
    "flair",
    "mr_ventricles",
    "prior",
    "score",
)


def merge_candidates(base: CandidatesSettings, section: dict[str, Any]) -> CandidatesSettings:
    """Override ``base`` with a parsed ``[candidates]`` table.

    Raises
    ------
    ConfigError
        On unknown keys or checks, or invalid values; the message names the key.
    """
    section = dict(section)
    enabled = section.pop("enabled", base.enabled)
    if not isinstance(enabled, bool):
        raise ConfigError("[candidates] enabled must be true or false")
    checks = base.checks
    if "checks" in section:
        names = section.pop("checks")
        known = [c.value for c in Check]
        if not isinstance(names, list) or any(n not in known for n in names):
            raise ConfigError(
                f"[candidates] checks must be a list of check names; known: {', '.join(known)}"
            )
        checks = dataclasses.replace(checks, checks=tuple(names))
    for name, values in section.items():
        if name not in _CANDIDATE_TABLES or not isinstance(values, dict):
            raise ConfigError(
                f"[candidates] unknown key or table {name!r}; keys: enabled, checks; "
                f"tables: {', '.join(_CANDIDATE_TABLES)}"
            )
        current = getattr(checks, name)
        merged = {**dataclasses.asdict(current), **values}
        updated = make_step(type(current), merged, f"candidates.{name}")
        checks = dataclasses.replace(checks, **{name: updated})
    return CandidatesSettings(enabled, checks)


# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PipelineConfig:
    """The whole configuration: one :class:`ModalityConfig` per :class:`Pipeline`."""

    modalities: dict[Pipeline, ModalityConfig]
    batch: BatchConfig = field(default_factory=BatchConfig)
    #: brain-mask QC limits (``[qc]``); hashed with the pipelines that make a mask
    qc: QCLimits = field(default_factory=QCLimits)
    #: the candidate checks (issue 14)
    candidates: CandidatesSettings = field(default_factory=CandidatesSettings)


def make_step(cls: type[Any], params: dict[str, Any], where: str = "") -> Any:
    """Instantiate a step dataclass from plain (TOML) values, converting types.

    Raises
    ------
    ConfigError
        On unknown keys or values of the wrong type; the message names the key.
    """
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(params) - set(fields))
    if unknown:
        raise ConfigError(
            f"[{where}] unknown key(s) {', '.join(unknown)}; known: {', '.join(fields) or 'none'}"
        )
    kwargs: dict[str, Any] = {}
    for key, value in params.items():
        f = fields[key]
        if f.default is not dataclasses.MISSING:
            default: Any = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            default = None
        try:
            kwargs[key] = _convert(value, default)
        except (TypeError, ValueError) as err:
            raise ConfigError(f"[{where}] {key} = {value!r}: {err}") from err
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as err:
        if isinstance(err, ConfigError):
            raise
        raise ConfigError(f"[{where}] {err}") from err


def _convert(value: Any, default: Any) -> Any:
    if isinstance(default, enum.Enum):
        return type(default)(value)
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise TypeError("expected true or false")
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError("expected an integer")
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError("expected a number")
        return float(value)
    if isinstance(default, tuple):
        if not isinstance(value, list | tuple):
            raise TypeError("expected a list")
        sample = default[0] if default else 0.0
        return tuple(_convert(v, sample) for v in value)
    if isinstance(default, dict):
        if not isinstance(value, dict):
            raise TypeError("expected a table")
        sample = next(iter(default.values())) if default else None
        return {k: _convert(v, sample) if sample is not None else v for k, v in value.items()}
    return value


def default_config() -> PipelineConfig:
    """The built-in configuration."""
    modalities = {}
    for pipe, types in STEP_TYPES.items():
        params = {name: step_params(cls()) for name, cls in types.items()}
        modalities[pipe] = ModalityConfig(DEFAULT_STEPS[pipe], params, DEFAULT_DTYPE[pipe])
    return PipelineConfig(modalities)


def _read_toml(path: Path) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        try:
            import tomli as tomllib
        except ImportError as err:
            raise ConfigError("reading TOML on Python 3.10 needs `pip install tomli`") from err
    try:
        with path.open("rb") as fh:
            return dict(tomllib.load(fh))
    except OSError as err:
        raise ConfigError(f"cannot read the configuration file: {err}", path=path) from err
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"not valid TOML: {err}", path=path) from err


def load_config(path: str | Path | None = None) -> PipelineConfig:
    """Return the defaults overridden by the TOML file at ``path`` (if given).

    Raises
    ------
    ConfigError
        If the file cannot be read, is not TOML, or names unknown sections, steps or
        keys, or gives invalid values; the message names the file and the key.
    """
    base = default_config()
    if path is None:
        return base
    p = Path(path)
    doc = _read_toml(p)
    try:
        return merge(base, doc)
    except ConfigError as err:
        raise ConfigError(err.reason, path=p) from err


def merge(base: PipelineConfig, doc: dict[str, Any]) -> PipelineConfig:
    """Override ``base`` with a parsed TOML document (validated; see :func:`load_config`)."""
    known = {p.value for p in Pipeline} | {"batch", "qc", "candidates"}
    unknown = sorted(set(doc) - known)
    if unknown:
        raise ConfigError(
            f"unknown section(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    batch = base.batch
    if "batch" in doc:
        batch = make_step(BatchConfig, dict(doc["batch"]), "batch")
        if batch.max_tasks_per_child < 1:
            raise ConfigError("[batch] max_tasks_per_child must be at least 1")
    candidates = base.candidates
    if "candidates" in doc:
        candidates = merge_candidates(base.candidates, dict(doc["candidates"]))
    modalities = dict(base.modalities)
    for pipe in Pipeline:
        section = dict(doc.get(pipe.value, {}))
        if not section:
            continue
        current = modalities[pipe]
        types = STEP_TYPES[pipe]
        steps = current.steps
        if "steps" in section:
            steps = tuple(section.pop("steps"))
            bad = [s for s in steps if s not in types]
            if bad:
                raise ConfigError(
                    f"[{pipe.value}] steps: unknown step(s) {', '.join(bad)}; "
                    f"available: {', '.join(types)}"
                )
        dtype = str(section.pop("output_dtype", current.output_dtype))
        if dtype not in _DTYPES:
            raise ConfigError(f"[{pipe.value}] output_dtype must be one of {', '.join(_DTYPES)}")
        params = {k: dict(v) for k, v in current.params.items()}
        for name, values in section.items():
            if name not in types or not isinstance(values, dict):
                raise ConfigError(
                    f"[{pipe.value}] unknown key or step {name!r}; steps: {', '.join(types)}"
                )
            merged = {**params[name], **values}
            step = make_step(types[name], merged, f"{pipe.value}.{name}")
            params[name] = step_params(step)
        modalities[pipe] = ModalityConfig(steps, params, dtype)
    return PipelineConfig(modalities, batch, _merge_qc(base.qc, doc), candidates)


# --- [qc]: brain-mask QC limits (issue 15) ---------------------------------------------


def _merge_qc(base: QCLimits, doc: dict[str, Any]) -> QCLimits:
    """The QC limits of ``base`` overridden by the ``[qc]`` table of ``doc`` (validated)."""
    if "qc" not in doc:
        return base
    if not isinstance(doc["qc"], dict):
        raise ConfigError("[qc] must be a table of QC limits")
    limits: QCLimits = make_step(QCLimits, {**step_params(base), **doc["qc"]}, "qc")
    return limits


def _qc_toml(limits: QCLimits) -> list[str]:
    lines = ["[qc]"]
    lines.extend(f"{k} = {_toml_value(v)}" for k, v in step_params(limits).items())
    return [*lines, ""]


# ----------------------------------------------------------------------------------------


def build_steps(config: PipelineConfig, pipe: Pipeline) -> list[Step]:
    """Instantiate the ordered steps of one pipeline."""
    mod = config.modalities[pipe]
    types = STEP_TYPES[pipe]
    return [make_step(types[n], mod.params[n], f"{pipe.value}.{n}") for n in mod.steps]


def param_hash(config: PipelineConfig | None, pipe: Pipeline | None) -> str:
    """Hash of everything that determines the outputs of one pipeline (hex, 16 chars).

    ``config=None`` is the empty pipeline of ``convert``.
    """
    if config is None or pipe is None:
        payload: dict[str, Any] = {"format": OUTPUT_FORMAT, "pipeline": "convert"}
    else:
        mod = config.modalities[pipe]
        payload = {
            "format": OUTPUT_FORMAT,
            "pipeline": pipe.value,
            "steps": [[n, mod.params[n]] for n in mod.steps],
            "output_dtype": mod.output_dtype,
        }
        if "brain_mask" in mod.steps:  # the QC verdict is written with the outputs
            payload["qc"] = step_params(config.qc)
        if config.candidates.applies_to(pipe):
            payload["candidates"] = config.candidates.params()
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def to_toml(config: PipelineConfig) -> str:
    """The effective configuration as TOML text (loadable by :func:`load_config`)."""
    lines = ["[batch]", f"max_tasks_per_child = {config.batch.max_tasks_per_child}", ""]
    lines.extend(_qc_toml(config.qc))
    for pipe, mod in config.modalities.items():
        lines.append(f"[{pipe.value}]")
        lines.append(f"steps = {_toml_value(list(mod.steps))}")
        lines.append(f'output_dtype = "{mod.output_dtype}"')
        lines.append("")
        for name, params in mod.params.items():
            if not params:
                continue
            lines.append(f"[{pipe.value}.{name}]")
            lines.extend(f"{k} = {_toml_value(v)}" for k, v in params.items())
            lines.append("")
    lines.extend(_candidates_toml(config.candidates))
    return "\n".join(lines)


def _candidates_toml(settings: CandidatesSettings) -> list[str]:
    params = settings.params()
    lines = [
        "[candidates]",
        f"enabled = {_toml_value(params.pop('enabled'))}",
        f"checks = {_toml_value(list(params.pop('checks')))}",
        "",
    ]
    for name in _CANDIDATE_TABLES:
        lines.append(f"[candidates.{name}]")
        lines.extend(f"{k} = {_toml_value(v)}" for k, v in params[name].items())
        lines.append("")
    return lines


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")
