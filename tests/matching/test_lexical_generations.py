"""The BM25 side of matching: written by the process that applies listing changes, beside the vector
snapshot of the same generation, and only opened (never built) by the processes that search."""
from __future__ import annotations

import logging
import shutil
import threading

import pytest
import sqlalchemy as sa

from matchmaker.engine import lexical, lexical_store
from matchmaker.engine.lexical import BM25Index
from matchmaker.engine.segments import Manifest
from matchmaker.listings import lifecycle
from matchmaker.listings.search import match_terms
from matchmaker.matching import index, matches, outbox
from models import CloseReason, IndexState, Session
from tests.matching.test_matching import BEARING, NEED, RICE, _matches_on_page

QUERY = "轴承 故障 振动 预测 水稻"


def _state(side: str = "result") -> IndexState:
    return Session.scalar(sa.select(IndexState).where(IndexState.side == side))


def _manifest(path: str | None = None) -> Manifest:
    return Manifest.read(index.index_dir() / (path or _state().path))


def test_the_first_change_writes_a_base_and_the_next_ones_deltas_on_it(app, publish):
    publish("result", **BEARING)
    first = _manifest()
    assert first.deltas == () and (index.index_dir() / first.base_lexical / "meta.json").exists()
    publish("result", **RICE)
    second = _manifest()
    assert second.base == first.base and len(second.deltas) == 1 and second.count == 2
    assert (index.index_dir() / second.deltas[0][0] / "lex" / "meta.json").exists()
    searched = index.reader_lexical("result")
    assert searched.path == index.index_dir() / first.base_lexical
    assert len(searched) == 2


def test_the_site_ranks_as_bm25index_over_the_stored_tokens(app, publish, staff):
    for fields in (BEARING, RICE, {**BEARING, "title": "电机振动在线监测装置", "summary": "实时采集振动数据"}):
        publish("result", **fields)
    expected = BM25Index(dict(sorted(index.lexical_documents("result").items())))
    terms = match_terms(QUERY)
    assert index.reader_lexical("result").top(terms, 10) == expected.top(terms, 10)
    assert len(expected.top(terms, 10)) == 3


def test_searching_never_builds_a_lexical_index(client, publish, monkeypatch):
    need = publish("need", **NEED)
    bearing = publish("result", **BEARING)
    index.forget_loaded()  # a freshly started web process

    def refuse(*_args, **_kwargs):
        raise AssertionError("a lexical index was built on a request")

    monkeypatch.setattr(BM25Index, "__init__", refuse)
    monkeypatch.setattr(lexical_store, "build_arrays", refuse)
    monkeypatch.setattr(index, "lexical_documents", refuse)
    assert bearing.title in _matches_on_page(client, "need", need.id)
    assert index.reader_lexical("result").top(match_terms(QUERY), 5)[0][0] == bearing.id


def test_rebuild_writes_the_lexical_index_too(app, publish, runner):
    bearing = publish("result", **BEARING)
    before = _state().path
    result = runner.invoke(args=["index", "rebuild"])
    assert result.exit_code == 0, result.output
    after = _state().path
    assert after != before
    assert [i for i, _ in index.reader_lexical("result").top(match_terms(QUERY), 5)] == [bearing.id]


@pytest.mark.parametrize("damage", ["delete", "corrupt"])
def test_an_unreadable_lexical_generation_is_logged_and_the_old_one_served(app, publish, caplog, damage):
    bearing = publish("result", **BEARING)
    assert [i for i, _ in index.reader_lexical("result").top(match_terms(QUERY), 5)] == [bearing.id]
    assert bearing.id in index.reader_index("result")
    rice = publish("result", **RICE)
    folder = index.index_dir() / _manifest().deltas[-1][0]  # the delta of this change
    if damage == "delete":
        shutil.rmtree(folder)
    else:
        weights = folder / "lex" / "weights.npy"
        data = bytearray(weights.read_bytes())
        data[-1] ^= 0xFF
        weights.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING, logger="matchmaker.engine.generations"):
        served = index.reader_lexical("result")
        assert rice.id not in index.reader_index("result")  # the vector side keeps it too: same delta
    assert [i for i, _ in served.top(match_terms(QUERY), 5)] == [bearing.id]  # the old generation
    assert "result lexical index generation" in caplog.text and "still serving" in caplog.text
    assert "result vector index generation" in caplog.text
    assert outbox.reconcile()["repaired"] == 1  # the periodic check rebuilds the side from the database
    fixed = publish("result", **{**RICE, "title": "水稻高产栽培"})
    ids = {rice.id, fixed.id}
    Session.remove()  # a new request (its own session) sees the generation announced since
    assert ids <= {i for i, _ in index.reader_lexical("result").top(match_terms(QUERY), 5)}


def test_a_web_process_opens_a_new_generation_in_the_background(app, publish, monkeypatch):
    app.config["INDEX_OPEN_IN_BACKGROUND"] = True
    index.forget_loaded()
    bearing = publish("result", **BEARING)
    assert len(index.reader_lexical("result")) == 1  # nothing open yet: opened right away
    release = threading.Event()
    real_open = lexical_store.MappedBM25.open

    def slow_open(path, *args, **kwargs):
        if threading.current_thread().name.startswith("open-"):  # the reader's, not the writer's merge
            assert release.wait(10)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(lexical_store.MappedBM25, "open", slow_open)
    rice = publish("result", **RICE)
    served = index.reader_lexical("result")  # answers while the new generation is still opening
    assert len(served) == 1 and served.top(match_terms(QUERY), 5)[0][0] == bearing.id
    release.set()
    next(iter(index._lexical_readers.values())).wait(10)
    latest = index.reader_lexical("result")
    assert {i for i, _ in latest.top(match_terms(QUERY), 5)} == {bearing.id, rice.id}


def test_no_generation_yet_means_no_lexical_matches_not_an_error(app):
    assert len(index.reader_lexical("result")) == 0
    assert index.reader_lexical("need").top(lexical.tokenize("轴承"), 5) == []
    assert matches.site_corpus("result").lexical.top(["轴承"], 5) == []


def test_each_change_writes_a_delta_not_a_whole_index(app, publish, staff, monkeypatch):
    bearing = publish("result", **BEARING)
    rice = publish("result", **RICE)
    built = []
    real_write = lexical_store.write
    monkeypatch.setattr(lexical_store, "write", lambda *a, **k: built.append(a) or real_write(*a, **k))
    lifecycle.close_listing(staff, bearing, CloseReason.WITHDRAWN)
    other = publish("result", **{**RICE, "title": "水稻高产栽培"})
    assert built == []  # a delta, not built from every listing
    assert len(_manifest().deltas) == 3
    merged = index.reader_lexical("result")
    assert merged.live_ids().tolist() == sorted([rice.id, other.id])
    assert merged.top(match_terms(QUERY), 5) == BM25Index(
        dict(sorted(index.lexical_documents("result").items()))).top(match_terms(QUERY), 5)


def test_a_writer_that_cannot_read_the_previous_generation_builds_from_the_database(app, publish, caplog):
    bearing = publish("result", **BEARING)
    folder = index.index_dir() / _manifest().base_lexical
    (folder / "meta.json").unlink()
    index.forget_loaded()  # a worker process started after the damage
    with caplog.at_level(logging.WARNING, logger="matchmaker.matching.index"):
        rice = publish("result", **RICE)
    assert "building the result indexes from the database" in caplog.text
    assert _manifest().deltas == ()  # a new base, not a delta on the damaged one
    Session.remove()
    assert {i for i, _ in index.reader_lexical("result").top(match_terms(QUERY), 5)} == {bearing.id, rice.id}


def test_files_left_by_a_writer_killed_mid_write_are_removed_by_the_next_writer(app, publish):
    publish("result", **BEARING)
    stem = _state().path.removesuffix(".gen")
    half_written = index.index_dir() / f".{stem}.delta.k1ll3d"
    half_written.mkdir()
    (half_written / "vectors.npy").write_bytes(b"\x93NUMPY")
    half_manifest = index.index_dir() / f".{stem}.gen.d3ad"
    half_manifest.write_bytes(b"{")
    publish("result", **RICE)
    assert not half_written.exists() and not half_manifest.exists()
    assert (index.index_dir() / _manifest().deltas[0][0] / "meta.json").exists()


def test_an_unreadable_vector_snapshot_keeps_the_open_one_instead_of_rebuilding_on_the_request(
        app, publish, caplog, monkeypatch):
    bearing = publish("result", **BEARING)
    assert index.reader_index("result").ids().tolist() == [bearing.id]
    rice = publish("result", **RICE)
    (index.index_dir() / _state().path).write_bytes(b"not an index at all")
    monkeypatch.setattr(index, "build_from_vectors", lambda *a: pytest.fail("rebuilt on a request"))
    with caplog.at_level(logging.WARNING, logger="matchmaker.engine.generations"):
        assert index.reader_index("result").ids().tolist() == [bearing.id]
    assert "result vector index generation" in caplog.text and "still serving" in caplog.text
    later = publish("result", **{**RICE, "title": "水稻高产栽培"})
    Session.remove()
    assert index.reader_index("result").ids().tolist() == sorted([bearing.id, rice.id, later.id])


def test_reconcile_rebuilds_a_damaged_announced_lexical_index_from_the_database(app, publish, caplog):
    ids = {publish("result", **BEARING).id, publish("result", **RICE).id}
    damaged = _state().path
    weights = index.index_dir() / _manifest().base_lexical / "weights.npy"
    weights.write_bytes(weights.read_bytes()[:-4])
    with caplog.at_level(logging.WARNING, logger="matchmaker.matching.index"):
        assert outbox.reconcile()["repaired"] == 1
    assert "rebuilding the result indexes from the database" in caplog.text
    Session.remove()
    assert _state().path != damaged
    assert {i for i, _ in index.reader_lexical("result").top(match_terms(QUERY), 5)} == ids
    assert outbox.reconcile()["repaired"] == 0  # nothing to repair any more
