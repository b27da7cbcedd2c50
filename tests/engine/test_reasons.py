"""Shared terms and highlighting that explain a match."""

from __future__ import annotations

from matchmaker.engine.reasons import highlight, shared_terms

NEED = "设备坏了才修太被动，我们想做旋转设备的预测性维护，在出故障前就能预警，最好能在线监测振动信号。"
RESULT = "基于振动信号分析的旋转机械预测性维护系统，采用深度学习实现故障诊断与早期预警。"


def test_shared_terms_find_multiword_chinese_terms() -> None:
    terms = shared_terms(NEED, RESULT)
    assert terms[0] == "预测性维护"  # longest first without an idf map
    assert {"振动信号", "故障", "预警", "旋转"} <= set(terms)
    assert "预测性" not in terms and "维护" not in terms  # inside a longer term already shown


def test_shared_terms_exclude_stopwords_and_single_characters() -> None:
    terms = shared_terms("我们的技术可以实现这个方法", "本技术可以实现一种方法")
    assert terms == ()


def test_idf_puts_the_most_specific_term_first_and_limit_applies() -> None:
    idf = {"预警": 9.0, "旋转": 0.5, "故障": 0.4, "振动": 0.3, "信号": 0.3, "预测性": 2.0, "维护": 2.0}
    terms = shared_terms(NEED, RESULT, limit=2, idf=idf)
    assert terms == ("预警", "预测性维护")


def test_shared_terms_join_latin_words_with_a_space() -> None:
    assert "deep learning" in shared_terms("Deep Learning for 故障诊断", "a deep learning model")


def test_highlight_marks_every_occurrence_case_insensitively() -> None:
    segments = highlight("AI 预测性维护 and ai-based 预测", ["ai", "预测性维护", "预测"])
    assert segments == [("AI", True), (" ", False), ("预测性维护", True), (" and ", False),
                        ("ai", True), ("-based ", False), ("预测", True)]
    assert "".join(text for text, _ in segments) == "AI 预测性维护 and ai-based 预测"


def test_highlight_does_not_match_latin_terms_inside_words() -> None:
    assert highlight("maintain <b>", ["ai"]) == [("maintain <b>", False)]


def test_highlight_without_terms_returns_the_text_unmarked() -> None:
    assert highlight("文本", []) == [("文本", False)]
    assert highlight("", ["x"]) == []


def test_numbers_units_and_generic_words_are_not_reasons() -> None:
    terms = shared_terms("降低成本30%以下，功率30 kW的热泵烘干", "热泵烘干设备，成本降低30%以下，30 kW")
    assert "热泵" in " ".join(terms) and "烘干" in " ".join(terms)
    assert not {"成本", "30", "以下", "30 kw", "kw"} & set(terms)


def test_a_word_most_listings_share_is_not_a_reason_in_a_large_catalogue() -> None:
    from matchmaker.engine.lexical import BM25Index

    docs = {i: f"智能 控制 {'热泵 烘干' if i == 0 else f'其他{i}'}" for i in range(200)}
    index = BM25Index.build(docs)
    terms = shared_terms("智能控制的热泵烘干", docs[0], idf=index.idf)
    assert "热泵" in " ".join(terms) and "智能" not in " ".join(terms)
    small = BM25Index.build({0: docs[0], 1: docs[1]})  # two listings: too few to call a word generic
    assert "智能" in " ".join(shared_terms("智能控制的热泵烘干", docs[0], idf=small.idf))
