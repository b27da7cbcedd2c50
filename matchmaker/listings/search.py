"""Browsing published listings: filters, Chinese keyword search over segmented words, sorting, pages.

Keyword search matches whole jieba tokens stored in `search_text` (kept current on every flush) and
ranks by BM25 among the filtered published listings; confidential listings are searchable by their
public teaser only, so a search can never reveal what their description says.
"""
from __future__ import annotations

import logging
import math
import unicodedata
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app, has_app_context
from sqlalchemy import event
from sqlalchemy import orm as so

from matchmaker.engine.lexical import phrase_tokens
from matchmaker.engine.lexical import tokenize as engine_tokenize
from matchmaker.reference import (
    INDUSTRY_DIVISIONS,
    INDUSTRY_SECTIONS,
    IP_STATUS,
    MATURITY,
    REGIONS,
    TECH_FIELDS,
    TRANSFER_MODES,
)
from models import ListingStatus, ResearchResult, Session, TechNeed, listing_model

log = logging.getLogger(__name__)

SORTS = ("relevance", "newest", "price_asc", "price_desc")
# Words too common to narrow a search; dropped from queries and stored tokens alike.
STOPWORDS = frozenset("的 了 和 与 及 或 在 是 等 对 为 将 把 被 也 就 都 而 并 其 之".split()
                      + "a an the of and or for to in on with by".split())
_SEARCH_FIELDS = ("title", "summary", "keywords", "description", "application_areas", "confidential")
_BM25_K1 = 1.2
_BM25_B = 0.75
WAN_FEN = 1_000_000  # fen in one 万元


def local_today() -> date:
    """Today in the bureau's time zone: validity dates are calendar days in China, not UTC."""
    tz = current_app.config.get("BABEL_DEFAULT_TIMEZONE") if has_app_context() else None
    return datetime.now(ZoneInfo(tz or "Asia/Shanghai")).date()


# --- tokens ----------------------------------------------------------------------------------

def _meaningful(token: str) -> bool:
    return bool(token) and token not in STOPWORDS and any(
        unicodedata.category(ch)[0] in "LN" for ch in token)


def tokenize(text: str | None) -> list[str]:
    """Lower-cased search tokens of `text` (Chinese segmented by jieba), stopwords and punctuation out."""
    if not text:
        return []
    normalized = unicodedata.normalize("NFKC", text)
    tokens = (t.strip().lower() for t in engine_tokenize(normalized))
    return [t for t in tokens if _meaningful(t) and " " not in t]


def phrases(text: str | None) -> list[str]:
    """Adjacent-word pairs of `text` as single tokens (see engine.lexical.phrase_tokens)."""
    if not text:
        return []
    return [t for t in phrase_tokens(unicodedata.normalize("NFKC", text)) if _meaningful(t)]


def match_terms(text: str | None) -> list[str]:
    """What matching's BM25 looks up for a query: its words and its adjacent-word pairs."""
    return tokenize(text) + phrases(text)


def searchable_text(listing: Any) -> str:
    """The text outsiders may search: the teaser always, the details only for open listings.

    Words first, then the adjacent-word pairs of each field (pairs never cross two fields).
    """
    parts = [listing.title, listing.title, " ".join(listing.keywords or []), listing.summary]
    if not listing.confidential:
        parts += [listing.description, getattr(listing, "application_areas", None)]
    parts = [p for p in parts if p]
    tokens = tokenize("\n".join(parts)) + [pair for part in parts for pair in phrases(part)]
    # Leading and trailing spaces let a LIKE '% token %' match whole tokens only.
    return f" {' '.join(tokens)} " if tokens else ""


def _needs_reindex(obj: Any) -> bool:
    state = sa.inspect(obj)
    if state.pending or obj.search_text is None:
        return True
    return any(state.attrs[name].history.has_changes() for name in _SEARCH_FIELDS if name in state.attrs)


@event.listens_for(so.Session, "before_flush")
def _refresh_search_text(session: so.Session, _ctx: Any, _instances: Any) -> None:
    # Every writer (forms, imports, demo data) gets current tokens without having to remember.
    for obj in list(session.new) + list(session.dirty):
        if isinstance(obj, ResearchResult | TechNeed) and _needs_reindex(obj):
            obj.search_text = searchable_text(obj)


def reindex(missing_only: bool = False, batch: int = 500) -> int:
    """Recompute listings' search tokens: every listing, or only those without any (a migration
    clears them when the tokenizer changes). Commits every `batch` listings; returns how many."""
    count = 0
    for model in (ResearchResult, TechNeed):
        stmt = sa.select(model).options(so.undefer(model.search_text)).order_by(model.id)
        if missing_only:
            stmt = stmt.where(model.search_text.is_(None))
        for listing in Session.scalars(stmt).all():
            listing.search_text = searchable_text(listing)
            count += 1
            if count % batch == 0:
                Session.commit()
    Session.commit()
    return count


# --- filters ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class BrowseFilters:
    q: str = ""
    industry_section: str = ""
    industry_division: str = ""
    tech_field: str = ""
    maturity: str = ""
    ip_status: str = ""
    transfer_mode: str = ""
    region: str = ""
    amount_min: str = ""  # 万元, as typed; price for results, budget for needs
    amount_max: str = ""
    negotiable: bool = False
    sort: str = ""

    def as_args(self) -> dict[str, str]:
        """The non-empty filters as query arguments (for links to pages and exports)."""
        args: dict[str, str] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value:
                args[f.name] = "1" if value is True else str(value)
        return args

    @property
    def active(self) -> bool:
        return any(v for k, v in self.as_args().items() if k != "sort")


_CODE_FILTERS = {
    "industry_section": INDUSTRY_SECTIONS,
    "industry_division": INDUSTRY_DIVISIONS,
    "tech_field": TECH_FIELDS,
    "maturity": MATURITY,
    "ip_status": IP_STATUS,
    "transfer_mode": TRANSFER_MODES,
    "region": REGIONS,
}


def parse_filters(args: Mapping[str, str]) -> BrowseFilters:
    """Filters from query arguments; unknown codes and malformed numbers are ignored, never an error."""
    values: dict[str, Any] = {"q": (args.get("q") or "").strip()[:200]}
    for name, codes in _CODE_FILTERS.items():
        value = (args.get(name) or "").strip()
        values[name] = value if value in codes else ""
    for name in ("amount_min", "amount_max"):
        value = (args.get(name) or "").strip()
        values[name] = value if _wan_to_fen(value) is not None else ""
    values["negotiable"] = (args.get("negotiable") or "") in ("1", "on", "true", "y")
    sort = args.get("sort") or ""
    values["sort"] = sort if sort in SORTS else ""
    return BrowseFilters(**values)


def _wan_to_fen(text: str) -> int | None:
    try:
        amount = Decimal(text)
    except (InvalidOperation, ValueError):
        return None
    if not amount.is_finite() or amount < 0 or amount > Decimal(10) ** 9:
        return None
    return int(amount * WAN_FEN)


def _region_prefix(code: str) -> str:
    """ "350000" -> "35", "350500" -> "3505": a province or city covers every code below it."""
    if code.endswith("0000"):
        return code[:2]
    return code[:4] if code.endswith("00") else code


def _amount_columns(model: Any) -> tuple[Any, Any]:
    if model is ResearchResult:
        return model.price_fen, model.price_fen
    return model.budget_min_fen, model.budget_max_fen


def published_filter(model: Any) -> Any:
    """Listings outsiders may browse: published and not past their validity (even before the job runs)."""
    return sa.and_(model.status == ListingStatus.PUBLISHED,
                   sa.or_(model.valid_until.is_(None), model.valid_until >= local_today()))


def _conditions(model: Any, f: BrowseFilters) -> list[Any]:
    conds: list[Any] = [published_filter(model)]
    for name in ("industry_section", "industry_division", "tech_field"):
        if getattr(f, name):
            conds.append(getattr(model, name) == getattr(f, name))
    if f.maturity:
        conds.append((model.maturity if model is ResearchResult else model.min_maturity) == f.maturity)
    if f.ip_status and model is ResearchResult:
        conds.append(model.ip_status == f.ip_status)
    if f.transfer_mode:
        # JSON lists are stored as text on both databases; codes are quoted, so this is an exact match.
        conds.append(sa.cast(model.transfer_modes, sa.Text).like(f'%"{f.transfer_mode}"%'))
    if f.region:
        conds.append(model.region.like(_region_prefix(f.region) + "%"))
    low_col, high_col = _amount_columns(model)
    if f.negotiable:
        conds.append(sa.and_(low_col.is_(None), high_col.is_(None)))
    if f.amount_min:  # budget ranges overlap the asked range; a price lies within it
        conds.append(high_col >= _wan_to_fen(f.amount_min))
    if f.amount_max:
        conds.append(low_col <= _wan_to_fen(f.amount_max))
    return conds


def _token_conditions(model: Any, tokens: list[str]) -> list[Any]:
    return [model.search_text.contains(f" {t} ", autoescape=True) for t in tokens]


# --- results ---------------------------------------------------------------------------------

@dataclass
class Page:
    items: list[Any]
    total: int
    number: int
    per_page: int
    scores: dict[int, float] | None = None

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))


def _order(model: Any, sort: str) -> list[Any]:
    newest = [model.published_at.desc(), model.id.desc()]
    if sort in ("price_asc", "price_desc"):
        col = model.price_fen if model is ResearchResult else sa.func.coalesce(
            model.budget_max_fen, model.budget_min_fen)
        direction = col.asc() if sort == "price_asc" else col.desc()
        return [sa.nulls_last(direction), *newest]
    return newest


def effective_sort(f: BrowseFilters) -> str:
    if f.sort and (f.sort != "relevance" or f.q):
        return f.sort
    return "relevance" if f.q else "newest"


def _bm25(doc_tokens: list[str], query: list[str], df: dict[str, int], n_docs: int, avg_len: float) -> float:
    counts = Counter(doc_tokens)
    length = len(doc_tokens) or 1
    score = 0.0
    for token in query:
        tf = counts.get(token, 0)
        idf = math.log(1 + (n_docs - df[token] + 0.5) / (df[token] + 0.5))
        score += idf * tf * (_BM25_K1 + 1) / (tf + _BM25_K1 * (1 - _BM25_B + _BM25_B * length / avg_len))
    return score


def _ranked_ids(model: Any, conds: list[Any], tokens: list[str]) -> tuple[list[int], dict[int, float]]:
    n_docs = Session.scalar(sa.select(sa.func.count()).select_from(model).where(*conds)) or 0
    df = {t: Session.scalar(sa.select(sa.func.count()).select_from(model).where(*conds, *_token_conditions(
        model, [t]))) or 0 for t in set(tokens)}
    rows = Session.execute(sa.select(model.id, model.search_text).where(*conds, *_token_conditions(model, tokens)))
    docs = [(row_id, (text or "").split()) for row_id, text in rows]
    avg_len = sum(len(d) for _, d in docs) / len(docs) if docs else 1.0
    scores = {row_id: _bm25(d, tokens, df, max(n_docs, 1), avg_len or 1.0) for row_id, d in docs}
    ordered = sorted(scores, key=lambda i: (-scores[i], -i))
    return ordered, scores


def _load_in_order(model: Any, ids: list[int]) -> list[Any]:
    rows = {r.id: r for r in Session.scalars(sa.select(model).where(model.id.in_(ids)))} if ids else {}
    return [rows[i] for i in ids if i in rows]


def search(kind: str, f: BrowseFilters, page: int = 1, per_page: int = 20) -> Page:
    """Published listings of `kind` matching the filters, one page of them."""
    model = listing_model(kind)
    conds = _conditions(model, f)
    tokens = tokenize(f.q)
    page = max(1, page)
    sort = effective_sort(f)
    if tokens and sort == "relevance":
        ids, scores = _ranked_ids(model, conds, tokens)
        chunk = ids[(page - 1) * per_page: page * per_page]
        return Page(_load_in_order(model, chunk), len(ids), page, per_page, scores)
    conds += _token_conditions(model, tokens)
    total = Session.scalar(sa.select(sa.func.count()).select_from(model).where(*conds)) or 0
    stmt = sa.select(model).where(*conds).order_by(*_order(model, sort))
    items = list(Session.scalars(stmt.limit(per_page).offset((page - 1) * per_page)))
    return Page(items, total, page, per_page)


def search_all(kind: str, f: BrowseFilters, limit: int) -> list[Any]:
    """Every matching listing in browse order, up to `limit` (for exports)."""
    return search(kind, f, page=1, per_page=limit).items
