"""Encoding volumes for the browser: stored precision, slabs, order, exact round trip."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from imaging_triage.viewer.transfer import EncodedVolume, decode_stream, wire_array


@pytest.mark.parametrize(
    ("dtype", "wire"),
    [
        (np.int16, "int16"),
        (np.uint16, "uint16"),
        (np.uint8, "uint8"),
        (np.float32, "float32"),
        (np.float64, "float32"),
        (np.int32, "int16"),
        (np.bool_, "uint8"),
    ],
)
def test_round_trip_is_exact_in_stored_precision(dtype: type, wire: str) -> None:
    rng = np.random.default_rng(1)
    data = rng.integers(-1024, 3000, size=(17, 13, 23)).astype(dtype)
    if dtype is np.uint8 or dtype is np.bool_:
        data = (rng.integers(0, 2, size=(17, 13, 23)) * (1 if dtype is np.bool_ else 200)).astype(
            dtype
        )
    if dtype is np.uint16:
        data = np.abs(data).astype(dtype)
    # a flipped, non-contiguous view, as the canonical reorientation makes
    view = data[::-1, :, ::-1]
    enc = EncodedVolume.from_array(view, slab_slices=5)
    assert enc.dtype == wire and enc.shape == view.shape
    blob = b"".join(enc.stream(11))
    back = decode_stream(blob, enc.shape, enc.dtype)
    np.testing.assert_array_equal(back, view.astype(back.dtype))
    assert np.array_equal(back.astype(np.float64), view.astype(np.float64))


def test_wide_integers_are_not_narrowed_when_they_do_not_fit() -> None:
    assert wire_array(np.array([0, 70_000], np.int32)).dtype == np.float32
    assert wire_array(np.array([0, 60_000], np.int32)).dtype == np.uint16
    assert wire_array(np.array([-5, 30_000], np.int64)).dtype == np.int16


def test_stream_starts_at_the_opening_slice_and_goes_outwards() -> None:
    enc = EncodedVolume.from_array(np.zeros((8, 8, 40), np.int16), slab_slices=4)
    order = [s.first for s in enc.slabs_from(21)]
    assert order[0] == 20
    assert order[1:5] == [24, 16, 28, 12]
    assert sorted(order) == list(range(0, 40, 4))


def test_first_frame_is_the_opening_slice_alone() -> None:
    data = np.arange(6 * 5 * 12, dtype=np.int16).reshape(6, 5, 12)
    enc = EncodedVolume.from_array(data, slab_slices=4)
    frames = list(enc.stream(6))
    first, count, _ = struct.unpack_from("<III", frames[0])
    assert (first, count) == (6, 1)
    alone = decode_stream(frames[0], enc.shape, enc.dtype)
    np.testing.assert_array_equal(alone[:, :, 6], data[:, :, 6])
    assert not alone[:, :, 7].any()  # nothing else in that frame
    assert len(frames) == 1 + len(enc.slabs)


def test_slab_size_follows_the_byte_budget() -> None:
    enc = EncodedVolume.from_array(np.zeros((512, 512, 30), np.int16))
    assert enc.slabs[0].count == 4  # 4 x 512 KB = 2 MB
    assert enc.nbytes == 512 * 512 * 30 * 2


def test_truncated_stream_is_refused() -> None:
    enc = EncodedVolume.from_array(np.ones((4, 4, 4), np.int16), slab_slices=2)
    blob = b"".join(enc.stream(0))
    with pytest.raises(ValueError, match="truncated"):
        decode_stream(blob[:-3], enc.shape, enc.dtype)
