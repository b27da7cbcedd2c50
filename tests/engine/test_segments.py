"""Delta segments on a base generation: adds, deletes and updates read as one index, scored as a fresh build,
folded into a new base by a merge, damage detected."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from matchmaker.engine import lexical_store, segments
from matchmaker.engine.index import CorruptSnapshotError, VectorIndex
from matchmaker.engine.lexical import BM25Index
from matchmaker.engine.lexical_store import MappedBM25
from matchmaker.engine.segments import CorruptSegmentError, LayeredBM25, LayeredVectors, Manifest
from tests.engine.test_lexical_store import real_corpus  # noqa: F401 (a fixture)

DIM = 16


def _vectors(ids, seed: int) -> dict[int, np.ndarray]:
    rng = np.random.default_rng(seed)
    out = {}
    for i in ids:
        v = rng.standard_normal(DIM).astype(np.float32)
        out[int(i)] = v / np.linalg.norm(v)
    return out


class World:
    """A base and deltas written to disk, and the documents a fresh build would index."""

    def __init__(self, folder: Path, docs: dict[int, list[str]], vectors: dict[int, np.ndarray],
                 approx_threshold: int = 50_000) -> None:
        self.folder = folder
        self.docs, self.vectors = dict(docs), dict(vectors)
        ids = np.array(sorted(vectors), dtype=np.int64)
        base = VectorIndex.build(ids, np.stack([vectors[i] for i in ids.tolist()]),
                                 approx_threshold=approx_threshold)
        header = base.save_mappable(folder / "b.faiss")
        lexical_store.write(folder / "b.lex", docs)
        self.manifest = Manifest("b.faiss", header)
        self.deltas: list[segments.Delta] = []

    def change(self, docs: dict[int, list[str]], removed: set[int] = frozenset()) -> None:
        name = f"d{len(self.deltas)}.delta"
        vectors = _vectors(docs, seed=len(self.deltas) + 100)
        segments.write_delta(self.folder / name, vectors, removed, docs, removed, DIM)
        self.deltas.append(segments.read_delta(self.folder / name, DIM))
        for i in removed:
            self.docs.pop(i, None)
            self.vectors.pop(i, None)
        self.docs.update(docs)
        self.vectors.update(vectors)

    def lexical(self) -> LayeredBM25:
        return LayeredBM25(MappedBM25.open(self.folder / "b.lex"), self.deltas)

    def dense(self) -> LayeredVectors:
        base = VectorIndex.open_mapped(self.folder / "b.faiss", self.manifest.base_header)
        return LayeredVectors(base, self.deltas)

    def fresh_lexical(self) -> BM25Index:
        return BM25Index(dict(sorted(self.docs.items())))


@pytest.fixture
def world(tmp_path, real_corpus):  # noqa: F811
    docs, queries = real_corpus
    ids = sorted(docs)
    base_docs = {i: docs[i] for i in ids[:300]}
    w = World(tmp_path, base_docs, _vectors(base_docs, seed=1))
    w.spare = {i: docs[i] for i in ids[300:]}
    w.queries = queries
    return w


def _assert_same_ranking(layered, fresh, queries) -> None:
    """The same scores (up to float32 rounding of the order a query's terms are summed in) for every
    document, so the same ranking: where the top 20 differ, it is between documents of equal score."""
    for query in queries:
        scores = layered.scores(query)
        assert scores == pytest.approx(fresh.scores(query), rel=1e-6)
        got, expected = layered.top(query, 20), fresh.top(query, 20)
        assert [s for _, s in got] == pytest.approx([s for _, s in expected], rel=1e-6)
        for (got_id, got_score), (expected_id, _) in zip(got, expected, strict=True):
            assert got_id == expected_id or scores[expected_id] == pytest.approx(got_score, rel=1e-6)


def test_adds_deletes_and_updates_rank_as_a_fresh_build(world) -> None:
    spare = sorted(world.spare)
    world.change({i: world.spare[i] for i in spare[:40]})  # adds
    base_ids = sorted(world.docs)
    world.change({}, removed=set(base_ids[:25]))  # deletes
    updated = {base_ids[30]: world.spare[spare[50]], base_ids[31]: ["轴承", "轴承", "振动", "mmx"]}
    world.change(updated)  # updates: new texts under old ids
    world.change({spare[41]: world.spare[spare[41]]}, removed={spare[0]})  # an add of a delta deleted later
    layered, fresh = world.lexical(), world.fresh_lexical()
    assert layered.live_ids().tolist() == sorted(world.docs)
    _assert_same_ranking(layered, fresh, world.queries)
    query = ["轴承", "振动", "mmx"]
    assert layered.top(query, 3)[0][0] == base_ids[31]
    assert layered.scores(query) == pytest.approx(fresh.scores(query), rel=1e-6)
    # N, avgdl and df cover base and deltas: the same IDF for every term, the same rarest IDF.
    assert dict(layered.idf) == pytest.approx(fresh.idf, rel=1e-6)
    assert len(layered.idf) == len(fresh.idf)
    assert layered.idf.rarest == pytest.approx(max(fresh.idf.values()), rel=1e-6)
    assert layered.idf_of("mmx") == pytest.approx(fresh.idf["mmx"], rel=1e-6)


def test_reasons_over_base_and_deltas_do_not_walk_the_vocabulary(world, monkeypatch) -> None:
    # A match page asks the IDF mapping for its size and truthiness once per candidate; counting by
    # walking every term made each page take ~17 s at 10k listings (benchmarks/scale.py).
    from matchmaker.engine.reasons import shared_terms

    spare = sorted(world.spare)
    world.change({i: world.spare[i] for i in spare[:5]})
    idf = world.lexical().idf
    expected = shared_terms("轴承振动监测系统", "滚动轴承振动信号监测", idf=idf)

    def walked(_self):
        raise AssertionError("the whole vocabulary was walked")

    monkeypatch.setattr(segments.LayeredIdf, "__iter__", walked)
    assert len(idf) > 0
    assert shared_terms("轴承振动监测系统", "滚动轴承振动信号监测", idf=idf) == expected


def test_a_deleted_listing_is_gone_from_both_indexes(world) -> None:
    gone = sorted(world.docs)[5]
    world.change({}, removed={gone})
    assert gone not in world.lexical().live_ids().tolist()
    dense = world.dense()
    assert gone not in dense and len(dense) == 299
    hits = dense.search(world.vectors[sorted(world.vectors)[0]], 300)
    assert gone not in [i for i, _ in hits] and len(hits) == 299


@pytest.mark.parametrize("approx_threshold", [50_000, 100])
def test_vector_search_over_base_and_deltas_equals_a_fresh_index(world, approx_threshold) -> None:
    folder = world.folder / f"t{approx_threshold}"
    folder.mkdir()
    w = World(folder, world.docs, world.vectors, approx_threshold)
    spare = sorted(world.spare)
    ids = sorted(w.docs)
    w.change({i: world.spare[i] for i in spare[:30]})
    w.change({ids[3]: ["x"], ids[4]: ["y"]}, removed={ids[10], ids[11]})  # 3 and 4 get new vectors
    dense = w.dense()
    fresh_ids = np.array(sorted(w.vectors), dtype=np.int64)
    fresh = VectorIndex.build(fresh_ids, np.stack([w.vectors[i] for i in fresh_ids.tolist()]),
                              approx_threshold=50_000)  # exact: what the layered exact search must equal
    assert dense.ids().tolist() == fresh_ids.tolist()
    queries = np.stack(list(_vectors(range(8), seed=7).values()))
    for got, expected in zip(dense.search_many(queries, 10), fresh.search_many(queries, 10), strict=True):
        if approx_threshold == 50_000:
            assert [i for i, _ in got] == [i for i, _ in expected]
        assert len({i for i, _ in got} & {i for i, _ in expected}) >= 8
    allowed = {ids[3], ids[10], spare[0], ids[20]}
    got = dense.search(queries[0], 10, allowed)
    assert {i for i, _ in got} == {ids[3], spare[0], ids[20]}  # ids[10] was deleted
    assert dense.similarity(queries[0], [ids[3]])[ids[3]] == pytest.approx(float(w.vectors[ids[3]] @ queries[0]),
                                                                           rel=1e-5)


def test_a_merge_folds_deltas_into_a_base_that_scores_the_same(world, tmp_path) -> None:
    spare = sorted(world.spare)
    world.change({i: world.spare[i] for i in spare[:20]})
    world.change({sorted(world.docs)[0]: ["轴承"]}, removed={sorted(world.docs)[1]})
    layered = world.lexical()
    lexical_store.write_arrays(tmp_path / "m.lex", segments.fold_lexical(layered), layered.k1, layered.b)
    merged = MappedBM25.open(tmp_path / "m.lex")
    assert merged.live_ids().tolist() == layered.live_ids().tolist()
    _assert_same_ranking(merged, world.fresh_lexical(), world.queries)
    dense = world.dense()
    writable = VectorIndex.open_mapped(world.folder / "b.faiss", world.manifest.base_header, mmap=False)
    folded = segments.fold_vectors(writable, dense)
    assert folded.ids().tolist() == dense.ids().tolist()
    ids, vectors = folded.items()
    assert np.allclose(vectors, np.stack([world.vectors[i] for i in ids.tolist()]))


def test_a_damaged_delta_or_manifest_is_detected(world) -> None:
    world.change({sorted(world.spare)[0]: ["轴承"]})
    folder = world.folder / "d0.delta"
    vectors = folder / "vectors.npy"
    data = bytearray(vectors.read_bytes())
    data[-1] ^= 0xFF
    vectors.write_bytes(bytes(data))
    with pytest.raises(CorruptSegmentError):
        segments.read_delta(folder, DIM)
    (folder / "meta.json").unlink()  # what a writer killed before its rename would leave (under a temp name)
    with pytest.raises(CorruptSegmentError):
        segments.read_delta(folder, DIM)
    world.manifest.write(world.folder / "g.gen")
    assert Manifest.read(world.folder / "g.gen") == world.manifest
    text = (world.folder / "g.gen").read_text().replace('"count": 0', '"count": 7')
    (world.folder / "g.gen").write_text(text)
    with pytest.raises(CorruptSegmentError):
        Manifest.read(world.folder / "g.gen")
    base = world.folder / "b.faiss"
    base.write_bytes(base.read_bytes()[:-8])
    with pytest.raises(CorruptSnapshotError):
        VectorIndex.open_mapped(base, world.manifest.base_header)


def test_a_delta_is_never_written_twice(world) -> None:
    world.change({sorted(world.spare)[0]: ["轴承"]})
    with pytest.raises(FileExistsError):
        segments.write_delta(world.folder / "d0.delta", {}, [], {}, [], DIM)
    assert not [p for p in world.folder.iterdir() if p.name.startswith(".")]  # no temporary left behind
