"""Tokenisation and BM25 over Chinese and English listing texts."""

from __future__ import annotations

import pytest

from matchmaker.engine.lexical import BM25Index, tokenize

DOCS = {
    1: "基于振动信号分析的旋转机械预测性维护系统，实现故障诊断与早期预警",
    2: "一种锂离子电池正极材料及其制备方法，提高能量密度和循环寿命",
    3: "城市污水处理厂的智能曝气控制技术，降低能耗",
    4: "高强度铝合金轻量化车身结构设计",
}


def test_tokenize_drops_punctuation_stopwords_and_lowercases_latin() -> None:
    tokens = tokenize("基于深度学习的故障诊断方法，uses Python3 and 5G; AI-based IoT！")
    assert {"深度", "学习", "故障", "诊断", "故障诊断", "python3", "5g", "ai", "iot"} <= set(tokens)
    assert not {"的", "基于", "方法", "and", "，", "！", ";", " "} & set(tokens)


def test_search_mode_yields_sub_words_of_long_words() -> None:
    assert {"锂离子", "离子"} <= set(tokenize("锂离子电池"))


@pytest.mark.parametrize(("query", "best"), [
    ("设备坏了才修太被动，想在出故障前就知道，做预测性维护", 1),
    ("电池材料 能量密度", 2),
    ("污水 曝气 节能", 3),
])
def test_bm25_ranks_the_document_sharing_terms_first(query: str, best: int) -> None:
    index = BM25Index.build(DOCS)
    top = index.top(query, 3)
    assert top[0][0] == best
    assert all(score > 0 for _, score in top)


def test_scores_only_for_requested_ids_and_only_positive() -> None:
    index = BM25Index.build(DOCS)
    assert set(index.scores("故障诊断", ids=[1, 2, 99])) == {1}
    assert index.scores("量子计算") == {}
    assert index.top("故障诊断", 5, allowed={2, 3}) == []


def test_rare_terms_weigh_more_than_common_ones() -> None:
    index = BM25Index.build({1: "电池 电池 回收", 2: "电池 储能", 3: "电池 正极"})
    assert index.idf["回收"] > index.idf["电池"]
    assert index.top("电池 回收", 1)[0][0] == 1


def test_accepts_pretokenised_documents_and_queries() -> None:
    index = BM25Index({7: ["预测性", "维护"], 8: ["电池"]})
    assert index.top(["维护"], 5) == [(7, pytest.approx(index.scores(["维护"])[7]))]
    assert len(index) == 2


def test_phrase_tokens_pair_adjacent_words_within_a_clause() -> None:
    from matchmaker.engine.lexical import phrase_tokens

    pairs = phrase_tokens("水运工程项目的全过程管理，Machine Learning 模型")
    assert "全过程管理" in pairs  # 全过程 + 管理, written as the phrase is
    assert "machine_learning" in pairs  # latin words keep a visible seam
    # A stopword (的) or punctuation breaks the run: no pair bridges them.
    assert not any(p.startswith("项目全过程") or p.startswith("管理machine") for p in pairs)


def test_a_shared_phrase_outranks_the_same_words_scattered() -> None:
    from matchmaker.engine.lexical import phrase_tokens

    docs = {**DOCS, 11: "质量管理贯穿工程全过程，兼顾成本管理", 12: "水运工程全过程管理的有效性"}
    query = "施工项目全过程管理不完善"
    words_only = BM25Index({i: tokenize(t) for i, t in docs.items()})
    with_pairs = BM25Index({i: tokenize(t) + phrase_tokens(t) for i, t in docs.items()})
    # On words alone, 11 (管理 twice, 全过程 once) edges out 12; the shared phrase puts 12 first.
    assert [i for i, _ in words_only.top(tokenize(query), 2)] == [11, 12]
    assert [i for i, _ in with_pairs.top(tokenize(query) + phrase_tokens(query), 2)] == [12, 11]
