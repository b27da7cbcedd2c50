"""The BM25 index a worker writes to disk and readers map: same ranking as BM25Index, damage detected."""

from __future__ import annotations

import json
import random
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from matchmaker.engine import lexical_store
from matchmaker.engine.lexical import BM25Index
from matchmaker.engine.lexical_store import CorruptLexicalError, MappedBM25
from matchmaker.listings.search import match_terms, searchable_text
from tests import shared_data

ZHIBEI = shared_data.DATA / "zhibei"

DOCS = {
    7: "基于振动信号分析的旋转机械预测性维护系统，实现故障诊断与早期预警",
    3: "一种锂离子电池正极材料及其制备方法，提高能量密度和循环寿命",
    12: "城市污水处理厂的智能曝气控制技术，降低能耗 machine learning",
    5: "高强度铝合金轻量化车身结构设计",
}


def _tokens(texts: dict[int, str]) -> dict[int, list[str]]:
    return {i: searchable_text(SimpleNamespace(title="", keywords=[], summary=text, description=None,
                                               application_areas=None, confidential=False)).split()
            for i, text in texts.items()}


def _written(tmp_path: Path, docs: dict[int, list[str]], name: str = "g1") -> Path:
    lexical_store.write(tmp_path / name, docs)
    return tmp_path / name


@pytest.fixture(scope="module")
def real_corpus() -> tuple[dict[int, list[str]], list[list[str]]]:
    """Four hundred real research results as listings store them, and sixty real needs as queries."""
    shared_data.require(ZHIBEI)
    rows = [json.loads(line) for line in (ZHIBEI / "achievements.jsonl").read_text(encoding="utf-8").splitlines()]
    texts = {1000 + 3 * n: f"{row['name']}\n{row['context']}" for n, row in enumerate(rows[:400])}
    needs = [json.loads(line) for line in (ZHIBEI / "requirements.jsonl").read_text(encoding="utf-8").splitlines()]
    queries = [match_terms(f"{row['name']} {row['context']}") for row in needs[:60]]
    return _tokens(texts), [q for q in queries if q]


def test_same_top_k_scores_and_idf_as_bm25index_on_real_listings(tmp_path, real_corpus) -> None:
    docs, queries = real_corpus
    expected = BM25Index(dict(sorted(docs.items())))
    mapped = MappedBM25.open(_written(tmp_path, docs))
    some_ids = random.Random(3).sample(sorted(docs), 50) + [999_999]
    hits = 0
    for query in queries:
        top = mapped.top(query, 100)
        assert top == expected.top(query, 100)  # ids, order and float scores, exactly
        assert mapped.top(query, 10, allowed=some_ids) == expected.top(query, 10, allowed=some_ids)
        assert mapped.scores(query, some_ids) == expected.scores(query, some_ids)
        hits += len(top)
    assert hits > 20 * len(queries)  # the needs really share terms with the results
    assert dict(mapped.idf) == expected.idf
    assert mapped.idf.rarest == max(expected.idf.values())
    assert len(mapped) == len(expected) == 400


def test_documents_given_in_any_order_rank_alike(tmp_path) -> None:
    docs = _tokens(DOCS)
    mapped = MappedBM25.open(_written(tmp_path, docs))
    expected = BM25Index(dict(sorted(docs.items())))
    for query in ("预测性维护 故障", "电池材料 能量密度", "污水 曝气 节能 machine", "铝合金"):
        assert mapped.top(query, 3) == expected.top(query, 3)
        assert mapped.top(query, 1)[0][0] == expected.top(query, 1)[0][0]
    assert mapped.top("量子 计算", 5) == []


def test_unknown_terms_fall_back_to_the_rarest_idf(tmp_path) -> None:
    mapped = MappedBM25.open(_written(tmp_path, _tokens(DOCS)))
    assert "电池" in mapped.idf
    assert "不存在的词" not in mapped.idf
    with pytest.raises(KeyError):
        mapped.idf["不存在的词"]
    assert mapped.idf_of("不存在的词") == mapped.max_idf
    assert mapped.column("电池") is not None and mapped.term(mapped.column("电池")) == "电池"


def test_an_empty_catalogue_answers_nothing(tmp_path) -> None:
    for index in (MappedBM25.empty(), MappedBM25.open(_written(tmp_path, {}))):
        assert len(index) == 0
        assert index.top(["电池"], 5) == []
        assert index.scores(["电池"], [1, 2]) == {}
        assert not index.idf


def test_a_generation_is_written_once(tmp_path) -> None:
    folder = _written(tmp_path, _tokens(DOCS))
    with pytest.raises(FileExistsError):
        lexical_store.write(folder, _tokens(DOCS))


def test_a_failed_write_leaves_nothing_behind(tmp_path, monkeypatch) -> None:
    def disk_full(*_args, **_kwargs):
        raise OSError("No space left on device")

    monkeypatch.setattr(np, "save", disk_full)
    with pytest.raises(OSError):
        lexical_store.write(tmp_path / "g1", _tokens(DOCS))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("damage", ["flip_byte", "truncate", "no_meta", "missing_array", "bad_meta", "wrong_size"])
def test_damage_is_detected(tmp_path, damage) -> None:
    folder = _written(tmp_path, _tokens(DOCS))
    weights = folder / "weights.npy"
    if damage == "flip_byte":
        data = bytearray(weights.read_bytes())
        data[-1] ^= 0xFF
        weights.write_bytes(bytes(data))
    elif damage == "truncate":
        weights.write_bytes(weights.read_bytes()[:-8])
    elif damage == "no_meta":
        (folder / "meta.json").unlink()
    elif damage == "missing_array":
        (folder / "idf.npy").unlink()
    elif damage == "bad_meta":
        (folder / "meta.json").write_text("{not json", encoding="utf-8")
    else:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        meta["postings"] += 1
        (folder / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(CorruptLexicalError):
        MappedBM25.open(folder)


def test_a_missing_folder_is_not_called_corrupt(tmp_path) -> None:
    with pytest.raises(FileNotFoundError):
        MappedBM25.open(tmp_path / "never-written")


def _assert_ranks_alike(merged: MappedBM25, fresh: BM25Index, queries: list[list[str]]) -> None:
    for query in queries:
        # Same documents and scores; float32 rounding may only swap documents of equal score.
        got, expected = merged.top(query, 20), fresh.top(query, 20)
        assert dict(got) == pytest.approx(dict(expected), rel=1e-6)
        assert [s for _, s in got] == pytest.approx([s for _, s in expected], rel=1e-6)


def test_a_merge_adds_replaces_and_removes_documents_like_a_fresh_build(tmp_path, real_corpus) -> None:
    docs, queries = real_corpus
    ids = sorted(docs)
    base_docs = {i: docs[i] for i in ids[:300]}
    base = MappedBM25.open(_written(tmp_path, base_docs))
    removed = ids[10:40]
    changed = {i: docs[j] for i, j in zip(ids[50:70], ids[300:320], strict=True)}  # new text, same id
    added = {i: docs[i] for i in ids[320:]}
    merged = MappedBM25(lexical_store.merge_arrays(base, {**changed, **added}, removed), 1.5, 0.75)
    final = {i: t for i, t in base_docs.items() if i not in removed} | changed | added
    fresh = BM25Index(dict(sorted(final.items())))
    assert merged._ids.tolist() == sorted(final)
    assert dict(merged.idf) == fresh.idf  # the same vocabulary: terms only removed documents had are gone
    assert merged.idf.rarest == max(fresh.idf.values())
    _assert_ranks_alike(merged, fresh, queries)
    for query in queries[:10]:
        assert removed[0] not in merged.scores(query, removed)


def test_a_merged_generation_is_written_and_merged_again(tmp_path) -> None:
    docs = _tokens(DOCS)
    base = MappedBM25.open(_written(tmp_path, docs))
    more = _tokens({20: "电池 热管理 系统", 21: "污水 膜生物反应器"})
    lexical_store.write_arrays(tmp_path / "g2", lexical_store.merge_arrays(base, more, [3]), 1.5, 0.75)
    second = MappedBM25.open(tmp_path / "g2")
    third = MappedBM25(lexical_store.merge_arrays(second, {}, [20, 21, 7, 12, 5]), 1.5, 0.75)
    assert len(second) == 5 and len(third) == 0
    assert third.top(["电池"], 5) == [] and not third.idf
    fresh = BM25Index(dict(sorted(({i: t for i, t in docs.items() if i != 3} | more).items())))
    _assert_ranks_alike(second, fresh, [["电池"], ["污水", "曝气"], match_terms("热管理 电池 寿命")])
