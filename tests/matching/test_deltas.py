"""Outbox batches write deltas on a base; a merge folds them into a new base once there are enough; the site
ranks the same before and after, and `flask index status` shows the base and its deltas."""
from __future__ import annotations

import json
import threading

import numpy as np
import pytest
import sqlalchemy as sa

from matchmaker.engine import segments
from matchmaker.engine.lexical import BM25Index
from matchmaker.engine.segments import Manifest
from matchmaker.listings import lifecycle
from matchmaker.listings.events import listing_changed
from matchmaker.listings.search import match_terms
from matchmaker.matching import index
from models import CloseReason, IndexState, Session
from tests.matching.test_matching import BEARING, RICE

QUERY = match_terms("轴承 故障 振动 预测 水稻 电机")
MORE = [{**BEARING, "title": "电机振动在线监测装置", "summary": "实时采集振动数据"},
        {**RICE, "title": "水稻高产栽培", "summary": "南方双季稻"},
        {**BEARING, "title": "风机轴承寿命预测", "summary": "振动与温度融合的故障预测"}]


def _manifest() -> Manifest:
    state = Session.scalar(sa.select(IndexState).where(IndexState.side == "result"))
    return Manifest.read(index.index_dir() / state.path)


def _fresh() -> BM25Index:
    return BM25Index(dict(sorted(index.lexical_documents("result").items())))


def _dense_ids() -> list[int]:
    return sorted(index.reader_index("result").ids().tolist())


def test_adds_updates_and_withdrawals_rank_as_a_fresh_index_before_and_after_a_merge(app, publish, staff, runner):
    app.config["MATCH_MERGE_DELTAS"] = 100  # no merge until asked
    bearing = publish("result", **BEARING)
    rice = publish("result", **RICE)
    others = [publish("result", **fields) for fields in MORE]
    lifecycle.close_listing(staff, rice, CloseReason.WITHDRAWN)
    edited = others[0]
    edited.title = "电机轴承振动故障在线预测装置"
    edited.search_text = "电机 轴承 振动 故障 在线 预测 装置 电机"
    listing_changed("result", edited.id)  # an edit of a published listing, as update_listing reports it
    Session.commit()
    written = len(_manifest().deltas)
    assert written >= 5  # one per outbox batch after the first (a base)
    layered = index.reader_lexical("result")
    assert layered.top(QUERY, 10) == _fresh().top(QUERY, 10)
    live = sorted([bearing.id, *(o.id for o in others)])
    assert _dense_ids() == live
    vectors_before = index.reader_index("result").vectors_for([bearing.id])[1]
    bearing_id = bearing.id

    result = runner.invoke(args=["index", "merge", "--side", "result"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["result"]["merged"] == written
    Session.commit()  # a new transaction sees the generation the merge announced
    merged = _manifest()
    assert merged.deltas == () and "-b0" in merged.base
    assert index.reader_lexical("result").top(QUERY, 10) == _fresh().top(QUERY, 10)
    assert _dense_ids() == live
    assert np.allclose(index.reader_index("result").vectors_for([bearing_id])[1], vectors_before)

    later = publish("result", **{**RICE, "title": "水稻抗病新品种"})  # a delta on the merged base
    assert len(_manifest().deltas) == 1 and later.id in _dense_ids()


def test_the_merge_job_runs_once_enough_deltas_are_written(app, publish):
    app.config["MATCH_MERGE_DELTAS"] = 3
    ids = [publish("result", **fields).id for fields in [BEARING, RICE, *MORE]]
    # The first publish wrote a base; the 2nd, 3rd and 4th deltas; the 4th made three and was merged.
    assert len(_manifest().deltas) == 1
    assert _dense_ids() == sorted(ids)
    assert index.reader_lexical("result").top(QUERY, 10) == _fresh().top(QUERY, 10)


def test_status_shows_the_base_size_and_its_deltas(app, publish, runner):
    app.config["MATCH_MERGE_DELTAS"] = 100
    for fields in (BEARING, RICE, MORE[0]):
        publish("result", **fields)
    result = runner.invoke(args=["index", "status"])
    assert result.exit_code == 0, result.output
    (row,) = [r for r in json.loads(result.output)["indexes"] if r["side"] == "result"]
    assert row["deltas"] == 2 and row["delta_changes"] == 2 and row["base_bytes"] > 0 and row["count"] == 3
    assert runner.invoke(args=["index", "rebuild"]).exit_code == 0
    (row,) = [r for r in json.loads(runner.invoke(args=["index", "status"]).output)["indexes"]
              if r["side"] == "result"]
    assert row["deltas"] == 0 and row["count"] == 3


def test_two_workers_writing_at_once_each_write_their_own_generation_on_the_other(app, publish, monkeypatch):
    app.config["MATCH_MERGE_DELTAS"] = 100
    ids = [publish("result", **fields).id for fields in (BEARING, RICE, MORE[0])]
    before = _manifest()
    first_inside, release = threading.Event(), threading.Event()
    real_write = segments.write_delta

    def paused_write(path, *args, **kwargs):
        if threading.current_thread().name == "worker-a":
            first_inside.set()  # worker A holds the side's lock now
            assert release.wait(30)
        return real_write(path, *args, **kwargs)

    monkeypatch.setattr(segments, "write_delta", paused_write)
    vector = np.ones(index.embedding.get_embedder().info.dim, dtype=np.float32)
    vector /= np.linalg.norm(vector)
    written, errors = {}, []

    def worker(listing_id: int) -> None:
        with app.app_context():
            try:
                state = index.apply_changes("result", {listing_id: vector}, set())
                written[threading.current_thread().name] = (state.generation, state.path)
                Session.commit()
            except Exception as error:  # reported below
                errors.append(error)
            finally:
                Session.remove()

    a = threading.Thread(target=worker, args=(ids[0],), name="worker-a")
    b = threading.Thread(target=worker, args=(ids[1],), name="worker-b")
    a.start()
    assert first_inside.wait(30)
    b.start()
    b.join(0.5)
    assert b.is_alive()  # waiting for the side's lock, not writing beside A
    release.set()
    a.join(30)
    b.join(30)
    assert not errors and not a.is_alive() and not b.is_alive()
    (gen_a, path_a), (gen_b, path_b) = written["worker-a"], written["worker-b"]
    assert gen_b == gen_a + 1 and path_a != path_b
    Session.commit()
    final = _manifest()
    assert final.base == before.base
    assert [name for name, _ in final.deltas[:-2]] == [name for name, _ in before.deltas]
    assert len(final.deltas) == len(before.deltas) + 2  # B's generation is A's plus B's delta
    searched = index.reader_index("result")
    assert searched.similarity(vector, ids[:2]) == pytest.approx({ids[0]: 1.0, ids[1]: 1.0}, abs=1e-5)
    assert sorted(searched.ids().tolist()) == sorted(ids)
