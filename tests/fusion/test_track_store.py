"""TrackStore: appends into spare rows and in-place compaction give what concatenation and
masking gave (round 9), including after a column was replaced from outside."""

from __future__ import annotations

import numpy as np

from fusion.tracking.store import _COLUMNS, TrackStore


def _rows(rng: np.random.Generator, k: int, start: int, n_sensors: int) -> tuple:
    seen = rng.random((k, n_sensors)) < 0.3
    values = {
        "num": np.arange(start, start + k),
        "x": rng.normal(size=(k, 4)),
        "P": rng.normal(size=(k, 4, 4)),
        "t": rng.uniform(0, 100, k),
        "status": rng.integers(0, 2, k),
        "hits": rng.integers(0, 9, k),
        "opps": rng.integers(0, 9, k),
        "misses": rng.integers(0, 9, k),
        "qscale": rng.uniform(1, 2, k),
        "cls": rng.normal(size=(k, 5)),
        "mmsi": np.full(k, -1),
        "last_opp": rng.uniform(0, 100, k),
    }
    return seen, values


def test_append_and_keep_match_concatenate_and_mask() -> None:
    rng = np.random.default_rng(0)
    st = TrackStore(6)
    ref = {k: np.empty((0, *shape), dtype=dt) for k, (dt, shape) in _COLUMNS.items()}
    ref_seen, ref_seen_t = np.zeros((0, 6), bool), np.zeros((0, 6))
    counter = 0
    held = None
    for step in range(300):
        k = int(rng.integers(1, 12))
        seen, values = _rows(rng, k, counter, 6)
        counter += k
        st.append(seen, **values)
        for name, (dt, _) in _COLUMNS.items():
            v = values.get(name, np.full(k, {"dup_n": 0, "dup_of": -1}.get(name, 0)))
            ref[name] = np.concatenate([ref[name], np.asarray(v, dtype=dt)])
        ref_seen = np.vstack([ref_seen, seen])
        ref_seen_t = np.vstack([ref_seen_t, np.where(seen, values["t"][:, None], 0.0)])
        if step % 3 == 0 and len(st) > 4:  # drop a few, mostly young rows
            mask = np.ones(len(st), bool)
            mask[rng.integers(max(0, len(st) - 20), len(st), 3)] = False
            if step % 9 == 0:
                mask[int(rng.integers(0, len(st)))] = False  # and an old one
            held = st.x[mask].copy(), st.x  # a copy survives a keep; a bare view may not
            st.keep(mask)
            ref = {name: a[mask] for name, a in ref.items()}
            ref_seen, ref_seen_t = ref_seen[mask], ref_seen_t[mask]
            assert np.array_equal(held[0], st.x)
        if step == 150:  # a column replaced from outside (as the AIS store's reordering)
            st.cols["mmsi"] = st.cols["mmsi"].copy()
            st.seen = st.seen.copy()
        st.x[-1, 0] += 1.0  # writes through the view land in the store
        ref["x"][-1, 0] += 1.0
        for name, a in ref.items():
            assert np.array_equal(st.cols[name], a), name
            assert st.cols[name].dtype == a.dtype
        assert np.array_equal(st.seen, ref_seen) and np.array_equal(st.seen_t, ref_seen_t)
    assert held is not None
    # a restored copy is the same store
    back = TrackStore.from_dict(st.to_dict())
    for name in _COLUMNS:
        assert np.array_equal(back.cols[name], st.cols[name])
