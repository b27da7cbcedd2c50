"""Every user-visible string has a Chinese translation, and the catalogs are well-formed."""
from __future__ import annotations

from matchmaker.core.i18n_catalog import extracted_messages, missing, translated


def test_strings_are_found_in_code_and_templates():
    found = extracted_messages()
    assert "Research results" in found  # a nav label from matchmaker/templating.py
    assert "Latest research results" in found  # from templates/main/index.html


def test_every_user_visible_string_has_a_chinese_translation():
    untranslated = missing("zh")
    listing = "\n".join(f"{msgid!r} used at {places[0]}" for msgid, places in sorted(untranslated.items()))
    assert not untranslated, f"{len(untranslated)} strings have no Chinese translation:\n{listing}"


def test_placeholders_survive_translation():
    import re

    for msgid, text in translated("zh").items():
        wanted = set(re.findall(r"%\(\w+\)s", msgid))
        assert wanted == set(re.findall(r"%\(\w+\)s", text)), f"placeholders differ in {msgid!r} -> {text!r}"
