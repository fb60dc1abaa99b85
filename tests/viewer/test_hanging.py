"""Hanging protocol: which series a study opens on (typed record fields only)."""

from __future__ import annotations

from imaging_triage.records import SeriesRecord, VolumeRole
from imaging_triage.viewer.hanging import default_series


def _mr(number: int, description: str, role: VolumeRole = VolumeRole.IMAGE) -> SeriesRecord:
    return SeriesRecord(
        input=description,
        files=["unused"],
        key=str(number),
        modality="MR",
        description=description,
        series_number=number,
        shape=(128, 128, 24),
        role=role,
    )


def test_mr_opens_on_the_diffusion_trace_then_adc_then_flair() -> None:
    flair = _mr(3, "AX FLAIR")
    trace = _mr(4, "DWI", VolumeRole.TRACE)
    adc = _mr(5, "DWI ADC", VolumeRole.ADC)
    raw = _mr(6, "DWI", VolumeRole.DIFFUSION)
    assert default_series([flair, raw, adc, trace]) is trace
    assert default_series([flair, raw, adc]) is adc
    assert default_series([flair, raw, _mr(7, "T1 MPRAGE")]) is flair


def test_ct_brain_kernel_from_the_typed_header() -> None:
    def ct(number: int, kernel: str, slices: int) -> SeriesRecord:
        return SeriesRecord(
            input=f"s{number}",
            files=["unused"],
            key=str(number),
            modality="CT",
            description="Head",
            series_number=number,
            shape=(512, 512, slices),
            header={"acquisition": {"ConvolutionKernel": kernel}},
        )

    assert default_series([ct(2, "H30s", 30), ct(3, "H70h", 150)]).series_number == 2  # type: ignore[union-attr]
