"""Steim-1 and Steim-2 decompression (SEED manual v2.4, appendix B), vectorised over words.

A Steim data section is a run of 64-byte frames of sixteen 32-bit words. Word 0 of each frame
holds sixteen 2-bit codes (one per word) that say how the word packs first differences; in the
first frame words 1 and 2 are the forward (X0) and reverse (Xn) integration constants. Rather
than walk the words one by one, we group words by their packing and unpack each group with
array shifts, then scatter the differences into place: the Python loop runs over the (at most
seven) packings, never over samples.
"""

from __future__ import annotations

import numpy as np

__all__ = ["SteimError", "decode_steim"]


class SteimError(ValueError):
    """A Steim data section that cannot be decoded (reason in the message)."""


# (count, bits) per packing. Steim-1: code -> packing. Steim-2: (code, dnib) -> packing.
_STEIM1 = {1: (4, 8), 2: (2, 16), 3: (1, 32)}
_STEIM2 = {
    (1, None): (4, 8),
    (2, 1): (1, 30),
    (2, 2): (2, 15),
    (2, 3): (3, 10),
    (3, 0): (5, 6),
    (3, 1): (6, 5),
    (3, 2): (7, 4),
}


def _unpack(words: np.ndarray, count: int, bits: int) -> np.ndarray:
    """Signed ``bits``-wide fields of each word, most significant first: shape (n, count)."""
    shifts = bits * np.arange(count - 1, -1, -1, dtype=np.uint64)
    mask = np.uint64((1 << bits) - 1)
    fields = (words.astype(np.uint64)[:, None] >> shifts[None, :]) & mask
    signed = fields.astype(np.int64)
    return np.where(signed >= (1 << (bits - 1)), signed - (1 << bits), signed)


def decode_steim(data: bytes, nsamples: int, level: int, big_endian: bool = True) -> np.ndarray:
    """Decode ``nsamples`` int32 samples from a Steim-``level`` (1 or 2) data section.

    Raises :class:`SteimError` when the frames hold too few differences, use a reserved
    packing, or the last sample disagrees with the reverse integration constant (the check
    the format provides against corruption).
    """
    if level not in (1, 2):
        raise SteimError(f"unknown Steim level {level}")
    nframes = len(data) // 64
    if nsamples == 0:
        return np.zeros(0, dtype=np.int32)
    if nframes == 0:
        raise SteimError("data section shorter than one 64-byte Steim frame")
    words = np.frombuffer(data[: nframes * 64], dtype=">u4" if big_endian else "<u4")
    words = words.reshape(nframes, 16).astype(np.uint32)
    x0 = int(words[0, 1].astype(np.int32))
    xn = int(words[0, 2].astype(np.int32))
    # 2-bit codes of words 0..15, word 0's code in the top bits of the control word.
    codes = (words[:, :1] >> (2 * np.arange(15, -1, -1, dtype=np.uint32))) & np.uint32(3)
    codes = codes.astype(np.int8)
    codes[:, 0] = 0  # the control word itself
    codes[0, 1:3] = 0  # X0, Xn
    flat_words = words.ravel()
    flat_codes = codes.ravel()
    if not big_endian:
        # Little-endian writers (libmseed) swap each *difference*, not the word: 8-bit
        # differences stay in memory order, Steim-1 16-bit ones are swapped pairwise.
        as_bytes = np.frombuffer(data[: nframes * 64], dtype=">u4").astype(np.uint32)
        flat_words = np.where(flat_codes == 1, as_bytes, flat_words)
        if level == 1:
            rot = (flat_words << np.uint32(16)) | (flat_words >> np.uint32(16))
            flat_words = np.where(flat_codes == 2, rot, flat_words)

    counts = np.zeros(flat_words.size, dtype=np.int64)
    groups: list[tuple[np.ndarray, int, int]] = []
    if level == 1:
        for code, (count, bits) in _STEIM1.items():
            idx = np.flatnonzero(flat_codes == code)
            counts[idx] = count
            groups.append((idx, count, bits))
    else:
        dnib = (flat_words >> np.uint32(30)).astype(np.int8)
        idx1 = np.flatnonzero(flat_codes == 1)
        counts[idx1] = 4
        groups.append((idx1, 4, 8))
        for (code, nib), (count, bits) in _STEIM2.items():
            if nib is None:
                continue
            idx = np.flatnonzero((flat_codes == code) & (dnib == nib))
            counts[idx] = count
            groups.append((idx, count, bits))
        bad = np.flatnonzero(((flat_codes == 2) & (dnib == 0)) | ((flat_codes == 3) & (dnib == 3)))
        if bad.size:
            raise SteimError(
                f"reserved Steim-2 packing in frame {bad[0] // 16}, word {bad[0] % 16}"
            )
    starts = np.cumsum(counts) - counts
    total = int(counts.sum())
    if total < nsamples:
        raise SteimError(f"frames hold {total} differences, header says {nsamples} samples")
    diffs = np.zeros(total, dtype=np.int64)
    for idx, count, bits in groups:
        if idx.size:
            pos = starts[idx][:, None] + np.arange(count)[None, :]
            diffs[pos.ravel()] = _unpack(flat_words[idx], count, bits).ravel()
    # The first difference refers to the previous record; X0 is the first sample.
    diffs = diffs[:nsamples]
    diffs[0] = 0
    samples = x0 + np.cumsum(diffs)
    if int(samples[-1]) != xn:
        raise SteimError(f"last sample {int(samples[-1])} != reverse integration constant {xn}")
    return samples.astype(np.int32)
