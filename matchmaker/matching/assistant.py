"""The need-writing assistant: an enterprise describes its problem in its own words, the site proposes
a structured need to edit (title, problem, industry section, key terms, maturity, transfer modes), the
similar published listings, and what information is still missing. Nothing is saved here.

The industry section is guessed from the nearest published listings of both sides and from the
names of the sections and their divisions (engine/industry_guess.py); scripts/eval_need_assistant.py measures it on the
real Zhibei needs (docs/evaluation.md).
"""
from __future__ import annotations

import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sqlalchemy as sa
from flask_babel import gettext as _

from matchmaker.core.errors import ValidationFailed
from matchmaker.engine import industry_guess
from matchmaker.engine.lexical import word_sequence
from matchmaker.matching import embedding, index, matches
from models import Session, listing_model

MAX_CHARS = matches.MAX_QUERY_CHARS
SIMILAR_SHOWN = 3
NEIGHBOUR_POOL = 60
LEADER_FLOOR, LEADER_SHARE = 0.001, 0.1  # calibrated relevance of a suggestion whose terms are borrowed

_CJK = re.compile(r"[\u4e00-\u9fff]")
_SENTENCE_END = re.compile(r"(?<=[。！？!?；;])|\n+|(?<=\.)\s+")

# What makes a need easier to answer, and the words that show the text already says it.
MISSING_CHECKS: dict[str, re.Pattern[str]] = {
    "quantities": re.compile(
        r"[0-9０-９]|[一二两三四五六七八九十百千万]+\s*(?:台|吨|件|个|套|条|次|米|公斤|千克|小时|天|年|月|人|批|元|%|度)"
        r"|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|hundred|thousand|million)\b", re.I),
    "current_process": re.compile(
        r"目前|现在|现有|现阶段|当前|现行|人工|手工|靠|采用|使用|工艺|流程|做法|方式|才|"
        r"\b(?:currently|at present|now|today|manual(?:ly)?|by hand|we use|our process|existing)\b", re.I),
    "constraints": re.compile(
        r"预算|成本|费用|不超过|以内|以下|要求|必须|限制|不能|不得|空间|环境|温度|兼容|周期|期限|标准|"
        r"\b(?:budget|cost|must|within|at most|no more than|limit|constraint|requirement|standard|deadline)\b", re.I),
}


def missing_labels() -> dict[str, str]:
    return {
        "quantities": _("Quantities: how many, how large, how often (e.g. 200 motors, 3 shifts, 8 hours a day)."),
        "current_process": _("The current process: how you do it today and where it fails."),
        "constraints": _("Constraints: budget, space, standards, deadlines, equipment it must work with."),
    }


# Words of wanting and complaining, not of the technology: never proposed as key terms or in a title
# (the site's BM25 stopwords are left out already).
FILLER_WORDS = frozenset(
    "想 想找 想要 全靠 希望 办法 太 很 总是 经常 老是 怎么 怎样 如何 解决 找 寻找 一下 帮忙 麻烦 "
    "need needs want wants would like looking look find cut way ways how make get help us too very lot "
    "much many problem problems solution solutions improve better".split())

# A need names the lowest maturity it can use; these words in the text suggest one.
_MATURITY_HINTS: list[tuple[str, re.Pattern[str]]] = [
    ("mass", re.compile(r"量产|批量|规模化|产业化|生产线|直接用|成熟|"
                        r"mass[- ]produc|off[- ]the[- ]shelf|ready[- ]to[- ]use", re.I)),
    ("pilot", re.compile(r"中试|试生产|pilot", re.I)),
    ("sample", re.compile(r"样品|样机|原型|prototype|sample", re.I)),
    ("research", re.compile(r"探索|研究|可行性|feasib|explor", re.I)),
]
_DEVELOP = re.compile(r"开发|研制|研发|设计|定制|改进|改造|develop|design|custom|improv", re.I)


@dataclass
class NeedDraft:
    """A proposed need, to be edited; `industry` holds the three likeliest sections with their share."""

    text: str
    title: str
    summary: str
    description: str
    keywords: list[str]
    industry: list[tuple[str, float]]
    min_maturity: str | None
    transfer_modes: list[str]
    language: str
    missing: list[str]
    similar_results: list[matches.MatchItem] = field(default_factory=list)
    similar_needs: list[matches.MatchItem] = field(default_factory=list)

    @property
    def industry_section(self) -> str | None:
        return self.industry[0][0] if self.industry else None

    def form_data(self) -> dict[str, Any]:
        """The draft as the need form's fields."""
        return {"title": self.title, "summary": self.summary, "description": self.description,
                "keywords": "、".join(self.keywords), "industry_section": self.industry_section or "",
                "min_maturity": self.min_maturity or "", "transfer_modes": list(self.transfer_modes),
                "language": self.language}


def check_text(text: str | None) -> str:
    """The description as typed, trimmed; ValidationFailed when there is nothing to work with."""
    cleaned = (text or "").strip()
    if not cleaned:
        raise ValidationFailed({"problem": [_("Describe the problem in a sentence or two first.")]})
    if len(cleaned) > MAX_CHARS:
        raise ValidationFailed({"problem": [_("At most %(n)s characters, please.", n=MAX_CHARS)]})
    advice = matches.query_advice(cleaned)
    if advice:
        raise ValidationFailed({"problem": advice})
    return cleaned


def draft_need(viewer: Any, text: str | None, lang: str) -> NeedDraft:
    """A structured need proposed from the viewer's own words; reads only, saves nothing."""
    cleaned = check_text(text)
    plain = embedding.listing_text(cleaned)
    qvec = embedding.query_vector(plain)
    similar_results = matches.search(viewer, plain, "result", k=SIMILAR_SHOWN)
    similar_needs = matches.search(viewer, plain, "need", k=SIMILAR_SHOWN)
    language = "zh" if _CJK.search(cleaned) else "en"
    own_terms = key_terms(cleaned)
    borrowed = [t for t in _neighbour_terms(similar_results + similar_needs) if t not in own_terms]
    keywords = (own_terms[:5] + borrowed[:3])[:8]
    return NeedDraft(
        text=cleaned, title=_title(cleaned, own_terms, borrowed, language), summary=_summary(cleaned),
        description=_description(cleaned, language), keywords=keywords,
        industry=guess_industry(qvec)[:3], min_maturity=_maturity(cleaned, similar_needs),
        transfer_modes=_transfer_modes(cleaned, similar_needs), language=language,
        missing=[name for name, pattern in MISSING_CHECKS.items() if not pattern.search(cleaned)],
        similar_results=similar_results, similar_needs=similar_needs)


# --- industry -----------------------------------------------------------------------------------

_prototypes: dict[tuple[str, str], tuple[list[str], np.ndarray]] = {}
_prototype_lock = threading.Lock()


def _section_prototypes(lang: str = "zh") -> tuple[list[str], np.ndarray]:
    """The sections' and divisions' names embedded as passages, with the section each belongs to; once
    per process and model."""
    embedder = embedding.get_embedder()
    key = (embedder.info.name, lang)
    with _prototype_lock:
        if key not in _prototypes:
            texts = industry_guess.section_texts(lang)
            _prototypes[key] = [code for code, _text in texts], embedder.embed_passages([t for _c, t in texts])
        return _prototypes[key]


def _neighbour_sections(qvec: np.ndarray) -> list[tuple[str | None, float]]:
    """(industry section, similarity) of the nearest published listings of both sides."""
    found: list[tuple[str | None, float]] = []
    for side in index.SIDES:
        hits = dict(index.reader_index(side).search(qvec, NEIGHBOUR_POOL))
        if not hits:
            continue
        model = listing_model(side)
        sections = dict(Session.execute(sa.select(model.id, model.industry_section)
                                        .where(model.id.in_(list(hits)))).all())
        found += [(sections.get(lid), float(sim)) for lid, sim in hits.items() if lid in sections]
    return found


def guess_industry(qvec: np.ndarray) -> list[tuple[str, float]]:
    """GB/T 4754 sections for a query vector, likeliest first, each with its share."""
    owners, vectors = _section_prototypes("zh")
    similarity = industry_guess.section_similarity(owners, (np.asarray(vectors) @ np.asarray(qvec)).tolist())
    return industry_guess.guess_sections(_neighbour_sections(qvec), similarity)


# --- text ---------------------------------------------------------------------------------------

def key_terms(text: str, limit: int = 8) -> list[str]:
    """The text's own technical words (jieba's precise segmentation, the site's stopwords), rarest in
    the site's BM25 vocabulary first; words the listings never use come last, since a typo or a
    colloquial word ranks no one."""
    words: list[str] = []
    for word in word_sequence(text):
        if word and word not in words and word not in FILLER_WORDS and (
                len(word) >= 2 if _CJK.search(word) else len(word) >= 3):
            words.append(word)
    lexicals = [index.reader_lexical(side) for side in index.SIDES]

    def rank(word: str) -> tuple[int, float]:
        known = [lex.idf[word] for lex in lexicals if word in lex.idf]
        return (0, -sum(known) / len(known)) if known else (1, 0.0)

    return sorted(words, key=rank)[:limit]


def _leaders(items: list[matches.MatchItem]) -> list[matches.MatchItem]:
    """The suggestions that stand out: likely ones, or, for a vague text where none is likely, those at
    least a tenth as relevant as the best (so one clearly closer listing is not drowned by noise)."""
    likely = [item for item in items if item.likely]
    if likely:
        return likely
    best = max((item.relevance for item in items), default=0.0)
    return [item for item in items if item.relevance >= max(LEADER_FLOOR, LEADER_SHARE * best)]


def _neighbour_terms(items: list[matches.MatchItem]) -> list[str]:
    """Keywords of the leading similar listings, the most shared first (shown keywords are public)."""
    counts: Counter[str] = Counter()
    for item in _leaders(items):
        counts.update(dict.fromkeys(list(item.listing.keywords or []) + item.terms, 1))
    return [term for term, _count in counts.most_common()]


def _first_sentence(text: str, limit: int) -> str:
    first = next((part.strip() for part in _SENTENCE_END.split(text) if part and part.strip()), text.strip())
    first = first.rstrip("。！？!?；;.,，、 ")
    return first if len(first) <= limit else first[:limit].rstrip("，,、 ") + "…"


def _title(text: str, own: list[str], borrowed: list[str], language: str) -> str:
    """A title that names the technology sought; the problem as typed when no term stands out."""
    # Borrowed terms in the title are in the draft's language (a Chinese keyword in an English title reads oddly).
    borrowed = [t for t in borrowed if bool(_CJK.search(t)) == (language == "zh")]
    terms = own[:1] + borrowed[:1]
    if language == "zh":
        return f"寻求{'、'.join(terms)}技术方案：{_first_sentence(text, 24)}"[:200] if terms \
            else _first_sentence(text, 40)
    if borrowed:
        return f"Seeking {' and '.join(terms)}: {_first_sentence(text, 80)}"[:200]
    return f"Seeking a solution: {_first_sentence(text, 80)}"[:200]


def _summary(text: str) -> str:
    sentences = [part.strip() for part in _SENTENCE_END.split(text) if part and part.strip()]
    summary = ""
    for sentence in sentences:
        if len(summary) + len(sentence) > 200:
            break
        summary += sentence if _CJK.search(sentence) else (" " if summary else "") + sentence
    return summary or text[:200]


def _description(text: str, language: str) -> str:
    if language == "zh":
        return f"{text}\n\n现寻求一种技术或解决方案，能够解决上述问题。"
    return f"{text}\n\nWe are looking for a technology or solution that solves this problem."


def _maturity(text: str, similar_needs: list[matches.MatchItem]) -> str | None:
    for code, pattern in _MATURITY_HINTS:
        if pattern.search(text):
            return code
    asked = Counter(item.listing.min_maturity for item in _leaders(similar_needs) if item.listing.min_maturity)
    return asked.most_common(1)[0][0] if asked else None


def _transfer_modes(text: str, similar_needs: list[matches.MatchItem]) -> list[str]:
    modes: Counter[str] = Counter()
    leaders = _leaders(similar_needs)
    for item in leaders:
        modes.update(item.listing.transfer_modes or [])
    common = [mode for mode, count in modes.most_common() if count >= min(2, len(leaders))]
    if common:
        return common[:3]
    return ["commissioned", "co_develop"] if _DEVELOP.search(text) else ["transfer", "license"]
