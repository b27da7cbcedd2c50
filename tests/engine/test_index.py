"""VectorIndex: exact and approximate search, updates, filtering and snapshots."""

from __future__ import annotations

import numpy as np
import pytest

from matchmaker.engine.index import CorruptSnapshotError, VectorIndex

DIM = 32


def clustered(n: int, seed: int, n_clusters: int = 40) -> np.ndarray:
    """Unit vectors around a few centres: recall on uniform noise says nothing."""
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(99).standard_normal((n_clusters, DIM))
    x = centres[rng.integers(0, n_clusters, n)] + 0.6 * rng.standard_normal((n, DIM))
    x = x.astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def ids_of(hits: list[tuple[int, float]]) -> list[int]:
    return [i for i, _ in hits]


def test_exact_search_returns_nearest_by_cosine() -> None:
    vectors = np.eye(4, dtype=np.float32)
    index = VectorIndex.build([10, 20, 30, 40], vectors)
    query = np.array([0.9, 0.1, 0.0, 0.0], dtype=np.float32)
    hits = index.search(query / np.linalg.norm(query), 2)
    assert ids_of(hits) == [10, 20]
    assert hits[0][1] == pytest.approx(0.9939, abs=1e-3)


@pytest.mark.parametrize("threshold", [10_000, 500])  # exact, approximate
def test_incremental_updates_then_snapshot_match_a_fresh_build(tmp_path, threshold: int) -> None:
    vectors = clustered(2000, seed=1)
    ids = np.arange(2000) * 3 + 5
    incremental = VectorIndex(DIM, approx_threshold=threshold)
    incremental.upsert(ids[:1200], clustered(1200, seed=2))  # stale vectors, replaced below
    incremental.upsert(ids[:1500], vectors[:1500])
    incremental.upsert(ids[1500:], vectors[1500:])
    incremental.remove(ids[::4])
    incremental.remove([123456789])  # unknown ids are ignored
    incremental.save(tmp_path / "side.idx")
    loaded = VectorIndex.load(tmp_path / "side.idx")

    keep = np.ones(2000, dtype=bool)
    keep[::4] = False
    fresh = VectorIndex.build(ids[keep], vectors[keep], approx_threshold=threshold)
    queries = clustered(20, seed=3)
    assert len(loaded) == len(fresh) == 1500
    assert np.array_equal(loaded.ids(), fresh.ids())
    assert loaded.is_approximate == fresh.is_approximate == (threshold < 1500)
    exact = VectorIndex.build(ids[keep], vectors[keep], approx_threshold=10_000)
    for query in queries:
        expected = exact.search(query, 10)
        assert loaded.search(query, 10) == incremental.search(query, 10)  # snapshot round trip
        if not fresh.is_approximate:
            assert ids_of(loaded.search(query, 10)) == ids_of(fresh.search(query, 10))
        for index in (loaded, fresh):
            got = index.search(query, 10)
            assert len(set(ids_of(got)) & set(ids_of(expected))) >= 9
            assert not set(ids_of(got)) & set(ids[~keep].tolist())


def test_upsert_replaces_the_vector_of_an_existing_id() -> None:
    index = VectorIndex.build([1, 2], np.eye(2, dtype=np.float32))
    index.upsert([1], np.array([[0.0, 1.0]], dtype=np.float32))
    assert len(index) == 2
    assert index.search(np.array([1.0, 0.0], dtype=np.float32), 1)[0][1] == pytest.approx(0.0)


def test_approximate_recall_on_clustered_vectors() -> None:
    vectors = clustered(6000, seed=4)
    ids = np.arange(6000)
    exact = VectorIndex.build(ids, vectors, approx_threshold=100_000)
    approx = VectorIndex.build(ids, vectors, approx_threshold=1000)
    assert approx.is_approximate and not exact.is_approximate
    queries = clustered(100, seed=5)
    truth = exact.search_many(queries, 10)
    found = approx.search_many(queries, 10)
    recall = np.mean([len(set(ids_of(f)) & set(ids_of(t))) / 10 for f, t in zip(found, truth, strict=True)])
    assert recall >= 0.95


@pytest.mark.parametrize("threshold", [100_000, 1000])
@pytest.mark.parametrize("every", [2, 97])  # a large allowed set and a tiny one
def test_allowed_set_returns_k_allowed_hits(threshold: int, every: int) -> None:
    vectors = clustered(5000, seed=6)
    index = VectorIndex.build(np.arange(5000), vectors, approx_threshold=threshold)
    allowed = set(range(0, 5000, every)) | {999_999}  # ids not in the index don't count
    for query in clustered(10, seed=7):
        hits = index.search(query, 10, allowed)
        assert len(hits) == 10
        assert set(ids_of(hits)) <= allowed
        scores = [s for _, s in hits]
        assert scores == sorted(scores, reverse=True)


@pytest.mark.parametrize("threshold", [100_000, 1000])
def test_allowed_set_smaller_than_k_returns_what_exists(threshold: int) -> None:
    index = VectorIndex.build(np.arange(3000), clustered(3000, seed=8), approx_threshold=threshold)
    query = clustered(1, seed=9)[0]
    assert sorted(ids_of(index.search(query, 10, {5, 6, 7}))) == [5, 6, 7]
    assert index.search(query, 10, {10_000}) == []


def test_index_switches_to_approximate_and_back_with_size() -> None:
    index = VectorIndex(DIM, approx_threshold=1000)
    index.upsert(np.arange(900), clustered(900, seed=10))
    assert not index.is_approximate
    index.upsert(np.arange(900, 1600), clustered(700, seed=11))
    assert index.is_approximate and len(index) == 1600
    index.remove(np.arange(1200))
    assert not index.is_approximate and len(index) == 400
    assert np.array_equal(index.ids(), np.arange(1200, 1600))


def test_similarity_scores_given_ids_exactly() -> None:
    vectors = clustered(1500, seed=12)
    index = VectorIndex.build(np.arange(1500), vectors, approx_threshold=1000)
    query = clustered(1, seed=13)[0]
    scores = index.similarity(query, [3, 700, 5000])
    assert set(scores) == {3, 700}
    assert scores[700] == pytest.approx(float(vectors[700] @ query), abs=1e-5)


@pytest.mark.parametrize("damage", ["flip", "truncate", "garbage"])
def test_damaged_snapshot_raises_corrupt_snapshot_error(tmp_path, damage: str) -> None:
    path = tmp_path / "side.idx"
    VectorIndex.build(np.arange(50), clustered(50, seed=14)).save(path)
    data = bytearray(path.read_bytes())
    if damage == "flip":
        data[len(data) // 2] ^= 0xFF
    elif damage == "truncate":
        data = data[: len(data) // 3]
    else:
        data = bytearray(b"not an index at all" * 3)
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptSnapshotError):
        VectorIndex.load(path)


def test_save_leaves_no_temporary_files(tmp_path) -> None:
    index = VectorIndex.build([1], np.ones((1, DIM), dtype=np.float32) / np.sqrt(DIM))
    index.save(tmp_path / "side.idx")
    index.save(tmp_path / "side.idx")  # overwrite in place
    assert [p.name for p in tmp_path.iterdir()] == ["side.idx"]
    assert len(VectorIndex.load(tmp_path / "side.idx")) == 1
