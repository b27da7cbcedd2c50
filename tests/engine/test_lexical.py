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
