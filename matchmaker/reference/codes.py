"""Bilingual code lists: the building block for every controlled vocabulary in the platform."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass


def is_english(locale: str | None) -> bool:
    """Babel locales arrive as "en", "en_US" or "en-GB"; all of them mean English."""
    return bool(locale) and locale.lower().startswith("en")


@dataclass(frozen=True)
class Code:
    code: str
    zh: str
    en: str

    def label(self, locale: str) -> str:
        return self.en if is_english(locale) else self.zh


class CodeList:
    """An ordered, immutable list of codes with lookup by code."""

    def __init__(self, name: str, codes: Iterable[Code]) -> None:
        self.name = name
        self._codes: tuple[Code, ...] = tuple(codes)
        self._by_code: dict[str, Code] = {}
        for item in self._codes:
            if item.code in self._by_code:
                raise ValueError(f"{name}: duplicate code {item.code!r}")
            self._by_code[item.code] = item

    def get(self, code: str | None) -> Code | None:
        return self._by_code.get(code) if code is not None else None

    def __contains__(self, code: object) -> bool:
        return isinstance(code, str) and code in self._by_code

    def __iter__(self) -> Iterator[Code]:
        return iter(self._codes)

    def __len__(self) -> int:
        return len(self._codes)

    def __repr__(self) -> str:
        return f"CodeList({self.name!r}, {len(self)} codes)"

    @property
    def codes(self) -> list[str]:
        return [item.code for item in self._codes]

    def choices(self, locale: str) -> list[tuple[str, str]]:
        """(value, label) pairs in list order, as WTForms SelectField expects."""
        return [(item.code, item.label(locale)) for item in self._codes]

    def label(self, code: str | None, locale: str) -> str:
        """The label, or the code itself when unknown so stale data still displays."""
        item = self.get(code)
        if item is None:
            return code or ""
        return item.label(locale)

    def by_zh(self, zh: str) -> Code | None:
        return next((item for item in self._codes if item.zh == zh), None)


def code_list(name: str, rows: Iterable[tuple[str, str, str]]) -> CodeList:
    """Builds a CodeList from (code, zh, en) rows, the compact form the data modules use."""
    return CodeList(name, (Code(code, zh, en) for code, zh, en in rows))
