"""Matching as users meet it: matches on listing pages with reasons, search, filters, confidentiality,
closing, the index snapshots and their rebuild. Runs the real embedding model on a handful of texts."""
from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from matchmaker.listings import lifecycle
from matchmaker.matching import admin, embedding, index, matches, outbox
from models import CloseReason, IndexState, ListingVector, OutboxEvent, Session

NEED = {"title": "设备故障预测", "summary": "工厂设备坏了才修太被动，想在出故障前就知道",
        "description": "希望通过振动监测提前发现电机轴承故障，减少停机", "industry_section": "C",
        "industry_division": "38", "budget_max_fen": 50 * 1_000_000, "min_trl": 5}
BEARING = {"title": "基于振动信号的轴承故障预测系统", "summary": "利用振动传感器和机器学习提前预测电机轴承故障",
           "description": "适用于电机、风机等旋转设备的预测性维护", "industry_section": "C",
           "industry_division": "38", "trl": 6, "price_fen": 30 * 1_000_000, "ip_status": "invention_granted"}
RICE = {"title": "水稻抗倒伏新品种选育", "summary": "培育抗倒伏高产水稻品种", "description": "适合南方双季稻区种植",
        "industry_section": "A", "industry_division": "01", "trl": 7, "price_fen": 80 * 1_000_000,
        "ip_status": "know_how"}


def _matches_on_page(client, kind: str, listing_id: int) -> str:
    page = client.get(f"/{kind}/{listing_id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    start = html.find('id="listing-matches"')
    assert start >= 0, "the listing page has no matches block"
    return html[start:]


def test_need_page_ranks_the_relevant_result_first_with_reasons(client, publish):
    need = publish("need", **NEED)
    bearing = publish("result", **BEARING)
    rice = publish("result", **RICE)
    block = _matches_on_page(client, "need", need.id)
    assert bearing.title in block
    assert rice.title not in block or block.index(bearing.title) < block.index(rice.title)
    assert "<mark>" in block  # shared technical terms are highlighted
    assert "轴承" in block
    assert "Same industry" in block or "同一行业" in block


def test_result_page_shows_the_needs_it_could_meet(client, publish):
    need = publish("need", **NEED)
    bearing = publish("result", **BEARING)
    block = _matches_on_page(client, "result", bearing.id)
    assert need.title in block


def test_a_need_without_description_is_matched_on_its_title_and_says_so(client, publish):
    need = publish("need", **{**NEED, "description": ""})
    bearing = publish("result", **BEARING)
    block = client.get(f"/need/{need.id}?lang=en").get_data(as_text=True)
    assert bearing.title in block
    assert "This listing has no description, so it is matched on its title" in block
    with_text = publish("need", **{**NEED, "title": "电机轴承故障预警"})
    assert "has no description" not in client.get(f"/need/{with_text.id}?lang=en").get_data(as_text=True)


@pytest.mark.parametrize(("lang", "passed", "failed"), [
    ("en", "Same industry", "Maturity below what the need asks"),
    ("zh", "同一行业", "成熟度低于需求要求"),
])
def test_reasons_speak_the_viewers_language(client, publish, lang, passed, failed):
    need = publish("need", **{**NEED, "min_trl": 8})
    publish("result", **BEARING)
    client.get(f"/?lang={lang}")
    block = _matches_on_page(client, "need", need.id)
    assert passed in block
    assert failed in block


def test_a_closed_result_leaves_the_matches(client, publish, staff):
    need = publish("need", **NEED)
    bearing = publish("result", **BEARING)
    assert bearing.title in _matches_on_page(client, "need", need.id)
    lifecycle.close_listing(staff, bearing, CloseReason.WITHDRAWN)
    assert bearing.title not in _matches_on_page(client, "need", need.id)
    assert bearing.id not in index.reader_index("result")


def test_confidential_result_appears_as_a_teaser(client, publish):
    need = publish("need", **NEED)
    secret = publish("result", **{**BEARING, "confidential": True, "description": "秘密配方编号XK-42"})
    block = _matches_on_page(client, "need", need.id)
    assert secret.title in block
    assert "XK-42" not in block
    assert secret.summary in re.sub(r"<[^>]+>", "", block)  # the teaser, with shared terms marked


@pytest.mark.parametrize(("args", "shown"), [
    ("", {"bearing", "rice"}),
    ("granted_only=1", {"bearing"}),
    ("min_trl=7", {"rice"}),
    ("budget=40", {"bearing"}),
    ("region=110000", set()),
])
def test_search_hard_filters(client, publish, args, shown):
    found = {"bearing": publish("result", **BEARING), "rice": publish("result", **RICE)}
    html = client.get(f"/search?q=设备故障&side=result&{args}").get_data(as_text=True)
    assert {name for name, listing in found.items() if listing.title in html} == shown


@pytest.mark.parametrize("query", ["bearing fault prediction for motors", "提前发现电机故障"])
def test_free_text_search_in_chinese_or_english(client, publish, query):
    bearing = publish("result", **BEARING)
    rice = publish("result", **RICE)
    html = client.get("/search", query_string={"q": query}).get_data(as_text=True)
    assert html.index(bearing.title) < html.index(rice.title)


@pytest.mark.parametrize("query", ["   ", "\x00\x01\x02", "😀🚀", "a" * 50_000, "Ωμέγα ∑ 数学 🚀\u200b"])
def test_odd_search_text_never_fails(client, publish, query):
    publish("result", **BEARING)
    response = client.get("/search", query_string={"q": query})
    assert response.status_code == 200


def test_empty_search_text_is_refused_with_a_message(client):
    html = client.get("/search", query_string={"q": "\x00\x01", "lang": "en"}).get_data(as_text=True)
    assert "Type a few words" in html


def test_unchanged_text_is_not_embedded_again(app, publish):
    bearing = publish("result", **BEARING)
    before = Session.scalar(sa.select(ListingVector).where(ListingVector.listing_id == bearing.id))
    stamp = before.updated_at
    outbox.record_change("result", bearing.id)  # e.g. the contact changed, not the text
    Session.commit()
    Session.expire_all()
    after = Session.scalar(sa.select(ListingVector).where(ListingVector.listing_id == bearing.id))
    assert (after.content_hash, after.updated_at) == (before.content_hash, stamp)
    assert outbox.pending_count() == 0


def test_every_vector_records_model_name_and_dimension(app, publish):
    publish("result", **BEARING)
    row = Session.scalar(sa.select(ListingVector))
    info = embedding.get_embedder().info
    assert (row.model_name, row.dim, len(row.vector)) == (info.name, info.dim, 4 * info.dim)


def test_listing_without_text_is_refused_and_the_batch_goes_on(app, publish):
    empty = publish("result", **{**RICE, "title": "\x01\x02", "summary": " ", "description": "\u0007"})
    bearing = publish("result", **BEARING)
    event = Session.scalar(sa.select(OutboxEvent).where(OutboxEvent.listing_id == empty.id))
    assert event.processed_at is not None and "no text" in event.error
    assert bearing.id in index.reader_index("result")
    assert empty.id not in index.reader_index("result")


def test_reconcile_indexes_what_the_outbox_missed_and_drops_closed(app, make):
    missed = make.result(**BEARING)  # written straight to the table: no outbox row
    assert outbox.reconcile()["queued"] == 1
    assert missed.id in index.reader_index("result")
    missed.status = "closed"  # closed behind the service's back
    Session.commit()
    outbox.reconcile()
    assert missed.id not in index.reader_index("result")


def test_each_change_announces_a_new_generation_other_processes_load(app, publish):
    publish("result", **BEARING)
    first = Session.scalar(sa.select(IndexState).where(IndexState.side == "result"))
    generation = first.generation
    reader_before = index.reader_index("result")
    rice = publish("result", **RICE)
    Session.refresh(first)
    assert first.generation > generation
    reader_after = index.reader_index("result")
    assert reader_after is not reader_before and rice.id in reader_after


@pytest.mark.parametrize("damage", ["delete", "truncate", "garbage"])
def test_a_missing_or_corrupt_snapshot_is_rebuilt_and_logged(client, publish, caplog, damage):
    need = publish("need", **NEED)
    bearing = publish("result", **BEARING)
    state = Session.scalar(sa.select(IndexState).where(IndexState.side == "result"))
    snapshot = index.index_dir() / state.path
    if damage == "delete":
        snapshot.unlink()
    elif damage == "truncate":
        snapshot.write_bytes(snapshot.read_bytes()[:100])
    else:
        snapshot.write_bytes(b"not an index at all" * 10)
    index.forget_loaded()
    with caplog.at_level(logging.WARNING, logger="matchmaker.matching.index"):
        block = _matches_on_page(client, "need", need.id)
    assert bearing.title in block
    assert "rebuilding" in caplog.text


def test_rebuild_gives_the_same_answers_as_the_incremental_index(app, publish, runner, staff):
    need = publish("need", **NEED)
    for fields in (BEARING, RICE, {**BEARING, "title": "电机振动在线监测装置", "summary": "实时采集振动数据"}):
        publish("result", **fields)
    rice_like = publish("result", **{**RICE, "title": "小麦高产栽培技术"})
    lifecycle.close_listing(staff, rice_like, CloseReason.WITHDRAWN)
    before = [(m.id, round(m.score, 6)) for m in _rank(need)]
    result = runner.invoke(args=["index", "rebuild"])
    assert result.exit_code == 0, result.output
    index.forget_loaded()
    assert [(m.id, round(m.score, 6)) for m in _rank(need)] == before
    assert rice_like.id not in [m.id for m in _rank(need)]


def _rank(need):
    return matches.rank("result", matches.to_doc(need), embedding.text_of(need), 10)


def test_index_status_command_reports_generations(app, publish, runner):
    publish("result", **BEARING)
    result = runner.invoke(args=["index", "status"])
    assert result.exit_code == 0
    assert '"side": "result"' in result.output and '"outbox_pending": 0' in result.output
    assert admin.status()["indexes"][0]["count"] == 1


def test_snapshots_live_under_index_dir(app, publish):
    publish("result", **BEARING)
    assert list(Path(app.config["INDEX_DIR"]).glob("result-*.faiss"))


def test_changing_the_model_re_embeds_everything_in_the_background(app, publish, tmp_path):
    bearing = publish("result", **BEARING)
    old_name = embedding.get_embedder().info.name
    # The same weights under another name: what the platform sees when a deployment changes models.
    source = embedding.default_model_path()
    other = tmp_path / "other-model"
    other.mkdir()
    for item in source.iterdir():
        if item.name != "README.md":
            (other / item.name).symlink_to(item)
    (other / "README.md").write_text("---\nmodel_name: test/renamed-e5\n---\n", encoding="utf-8")
    app.config["EMBEDDING_MODEL"] = str(other)
    assert outbox.reconcile()["embedded"] == 1
    names = set(Session.scalars(sa.select(ListingVector.model_name).where(ListingVector.listing_id == bearing.id)))
    assert names == {old_name, "test/renamed-e5"}
    assert bearing.id in index.reader_index("result")


def test_an_unknown_check_says_which_side_left_it_out(client, publish):
    need = publish("need", **NEED)  # asks for TRL 5 at least
    publish("result", **{**BEARING, "trl": None, "maturity": None, "price_fen": None})
    html = client.get(f"/need/{need.id}?lang=en").get_data(as_text=True)
    block = html[html.index('id="listing-matches"'):]
    assert "Maturity not compared: the research result does not state its maturity" in block
    assert "Price negotiable (面议): not compared with the budget" in block
    assert "Maturity not stated" not in block


def test_the_matches_address_opened_directly_is_a_whole_page_and_the_refresh_gets_the_block(client, publish):
    need = publish("need", **NEED)
    publish("result", **BEARING)
    page = client.get(f"/matches/need/{need.id}?lang=en").get_data(as_text=True)
    assert "<html" in page and 'class="main-nav"' in page and BEARING["title"] in page
    assert f'href="/need/{need.id}"' in page  # back to the listing
    block = client.get(f"/matches/need/{need.id}?lang=en", headers={"X-Fragment": "1"}).get_data(as_text=True)
    assert "<html" not in block and 'id="listing-matches"' in block and BEARING["title"] in block
