"""engine.crosslingual: which words of a query are translated, and to which catalogue terms."""
from __future__ import annotations

import numpy as np

from matchmaker.engine.crosslingual import MAX_GRAMS, TermTable, build_table, candidate_terms, latin_grams


def test_grams_are_the_content_words_and_their_adjacent_pairs():
    assert latin_grams("We need a heat pump for drying") == ["heat", "pump", "drying", "heat pump", "pump drying"]


def test_a_chinese_query_has_no_grams_and_a_huge_one_is_capped():
    assert latin_grams("热泵干燥节能") == []
    assert latin_grams(None) == []
    assert len(latin_grams(" ".join(f"word{i}x" for i in range(5000)))) == MAX_GRAMS


def test_only_terms_of_two_to_eight_cjk_characters_are_candidates():
    vocabulary = ["热泵", "热", "heat", "热泵干燥", "LED灯", "超长的一个不会被翻译的术语"]
    assert candidate_terms(vocabulary) == ["热泵", "热泵干燥"]


def _table() -> TermTable:
    vectors = {"热泵": [1.0, 0.0, 0.0], "干燥": [0.0, 1.0, 0.0], "电池": [0.0, 0.0, 1.0]}
    return build_table(list(vectors), lambda terms: np.array([vectors[t] for t in terms]), "toy")


def test_a_gram_translates_to_its_nearest_terms_above_the_threshold_only():
    table = _table()
    near_heat_pump = np.array([[0.99, 0.1, 0.0]]) / np.linalg.norm([0.99, 0.1, 0.0])
    unrelated = np.array([[0.5, 0.5, 0.5]]) / np.linalg.norm([0.5, 0.5, 0.5])
    assert table.translate(near_heat_pump, top=1) == ["热泵"]
    assert table.translate(unrelated, top=3, threshold=0.82) == []
    assert table.translate(np.zeros((0, 3))) == []


def test_a_saved_table_loads_memory_mapped_and_a_half_written_one_is_ignored(tmp_path):
    table = _table()
    table.save(tmp_path / "t")
    loaded = TermTable.load(tmp_path / "t")
    assert loaded is not None and loaded.terms == table.terms and loaded.model == "toy"
    assert isinstance(loaded.vectors, np.memmap)
    assert loaded.translate(np.array([[0.0, 1.0, 0.0]]), top=1) == ["干燥"]
    (tmp_path / "t" / "terms.json").write_text('{"model": "toy", "terms": ["热泵"]}', encoding="utf-8")
    assert TermTable.load(tmp_path / "t") is None
    assert TermTable.load(tmp_path / "missing") is None
