"""Matching both ways: for a need its research results, for a result its needs, and free-text search.

Hybrid ranking (dense + BM25 + structured compatibility, weights in MATCH_WEIGHTS) over published,
unexpired listings, with reasons in the viewer's language. Confidential listings are matched on their
public teaser only and shown as teasers.
"""
from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from markupsafe import Markup, escape

from matchmaker.core import notifications, permissions
from matchmaker.core.errors import ValidationFailed
from matchmaker.engine import ranking, reasons
from matchmaker.engine.calibration import Calibration
from matchmaker.engine.index import VectorIndex
from matchmaker.engine.lexical import BM25Scoring
from matchmaker.listings import lifecycle
from matchmaker.listings.search import match_terms, published_filter, searchable_text, tokenize
from matchmaker.matching import crosslingual, dismissals, embedding, index, versions
from matchmaker.reference import REGIONS, default_trl
from models import Notification, Session, User, listing_model

log = logging.getLogger(__name__)

OTHER_SIDE = {"need": "result", "result": "need"}
POOL = 100  # candidates taken from each of the dense and the lexical index before re-ranking
TITLE_POOL = 50  # and from the dense index for a listing query's title alone
DEFAULT_CALIBRATION = Path(__file__).with_name("calibration.json")
_calibrations: dict[Path, Calibration] = {}
_calibration_lock = threading.Lock()
MAX_QUERY_CHARS = 2000
WAN_FEN = 1_000_000


# --- filters -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class SearchFilters:
    """Optional hard filters; empty values mean "any"."""

    granted_only: bool = False
    min_trl: int | None = None
    within_budget: bool = False  # listing pages: the need's budget covers the result's price
    budget_fen: int | None = None  # free-text search: asking price at most this (面议 is left out)
    region: str = ""

    def as_args(self) -> dict[str, str]:
        args = {"granted_only": "1" if self.granted_only else "", "min_trl": str(self.min_trl or ""),
                "within_budget": "1" if self.within_budget else "",
                "budget": _trim(Decimal(self.budget_fen) / WAN_FEN) if self.budget_fen is not None else "",
                "region": self.region}
        return {k: v for k, v in args.items() if v}

    @property
    def active(self) -> bool:
        return bool(self.as_args())

    def engine_filters(self) -> ranking.HardFilters:
        return ranking.HardFilters(granted_patent_only=self.granted_only, min_trl=self.min_trl,
                                   within_budget=self.within_budget,
                                   region_prefix=region_prefix(self.region) if self.region else None)

    def admits(self, doc: ranking.ListingDoc) -> bool:
        """The filter the engine cannot apply to free text: a typed budget against the asking price."""
        if self.budget_fen is None or doc.kind != "result":
            return True
        return doc.price_fen is not None and doc.price_fen <= self.budget_fen


def _trim(amount: Decimal) -> str:
    text = f"{amount:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def region_prefix(code: str) -> str:
    """ "350000" -> "35", "350500" -> "3505": a province or city covers every code below it."""
    if code.endswith("0000"):
        return code[:2]
    return code[:4] if code.endswith("00") else code


def _flag(args: Any, name: str) -> bool:
    return (args.get(name) or "") in ("1", "on", "true", "y")


def parse_filters(args: Any) -> SearchFilters:
    """Filters from query arguments; unknown or malformed values are ignored, never an error."""
    trl_text = (args.get("min_trl") or "").strip()
    min_trl = int(trl_text) if trl_text.isdigit() and 1 <= int(trl_text) <= 9 else None
    budget_fen = None
    try:
        amount = Decimal((args.get("budget") or "").strip())
        if amount.is_finite() and 0 <= amount <= Decimal(10) ** 9:
            budget_fen = int(amount * WAN_FEN)
    except (InvalidOperation, ValueError):
        pass
    region = (args.get("region") or "").strip()
    return SearchFilters(_flag(args, "granted_only"), min_trl, _flag(args, "within_budget"), budget_fen,
                         region if region in REGIONS else "")


# --- what the pages show ---------------------------------------------------------------------------

@dataclass(frozen=True)
class CheckItem:
    label: str
    status: str  # "pass", "fail" or "unknown"


@dataclass(frozen=True)
class MatchItem:
    """One suggested listing as the viewer may see it, with its score and the reasons for it."""

    kind: str
    listing: Any  # listings.ListingView
    score: float
    parts: dict[str, float]
    checks: list[CheckItem]
    terms: list[str]
    snippet: Markup
    query_snippet: Markup
    strong: bool
    feedback: dict[str, Any] = field(default_factory=dict)
    # Calibrated probability that a broker would call the pair relevant (the same on every page);
    # `likely` is False below the calibration's list cut-off: shown only on "show more".
    relevance: float = 0.0
    likely: bool = True

    @property
    def percent(self) -> int:
        return max(0, min(100, round(self.relevance * 100)))


# --- the searchable corpus of one side ---------------------------------------------------------------

@dataclass
class Corpus:
    """What ranking searches: a vector index, a BM25 index and a loader of searchable listings by id.

    The site opens the indexes the workers wrote; the evaluation command builds them from files, and
    both rank through rank_corpus().
    """

    vectors: VectorIndex
    lexical: BM25Scoring
    load: Callable[[list[int]], dict[int, ranking.ListingDoc]]


def lexical_tokens(title: str | None, keywords: Any, summary: str | None, description: str | None) -> list[str]:
    """The BM25 tokens of a listing: the same as keyword search stores (title counted twice)."""
    shape = SimpleNamespace(title=title, keywords=keywords or [], summary=summary, description=description,
                            application_areas=None, confidential=False)
    return searchable_text(shape).split()


def site_corpus(side: str) -> Corpus:
    model = listing_model(side)

    def load(ids: list[int]) -> dict[int, ranking.ListingDoc]:
        if not ids:
            return {}
        rows = Session.scalars(sa.select(model).where(model.id.in_(ids), published_filter(model)))
        return {row.id: to_doc(row) for row in rows}

    return Corpus(index.reader_index(side), index.reader_lexical(side), load)


# --- ranking ----------------------------------------------------------------------------------------

def weights(mode: str = "hybrid") -> ranking.Weights:
    """MATCH_WEIGHTS from the configuration; "dense" and "lexical" modes keep only that signal."""
    configured = {k: float(v) for k, v in (current_app.config.get("MATCH_WEIGHTS") or {}).items()}
    if mode in ("dense", "lexical"):
        configured = {name: (1.0 if name == mode else 0.0) for name in configured}
    return ranking.Weights(**configured)


def to_doc(listing: Any, text: str | None = None) -> ranking.ListingDoc:
    """The engine's view of a listing: its public body text and its structured fields."""
    body = text if text is not None else embedding.listing_text(
        None, None, listing.summary, None if listing.confidential else listing.description)
    if listing.kind == "result":
        extra: dict[str, Any] = {"trl": listing.trl or default_trl(listing.maturity), "price_fen": listing.price_fen,
                                 "ip_status": listing.ip_status}
    else:
        extra = {"trl": listing.min_trl or default_trl(listing.min_maturity),
                 "budget_min_fen": listing.budget_min_fen, "budget_max_fen": listing.budget_max_fen}
    return ranking.ListingDoc(
        id=listing.id, kind=listing.kind, title=listing.title or "", text=body,
        keywords=tuple(listing.keywords or ()), industry_section=listing.industry_section,
        industry_division=listing.industry_division, tech_field=listing.tech_field,
        transfer_modes=frozenset(listing.transfer_modes or ()), region=listing.region, **extra)


def rank_corpus(corpus: Corpus, query: ranking.ListingDoc | str, qvec: np.ndarray, qtokens: list[str], k: int,
                filters: SearchFilters | None = None, mode: str = "hybrid",
                exclude: set[int] | None = None, title_vec: np.ndarray | None = None,
                include: Collection[int] = (), reasons: bool = True) -> list[ranking.Match]:
    """Top-k of the corpus for the query: dense and lexical candidates, re-ranked by the engine.

    A listing query is scored with structured checks and, given `title_vec` (its title embedded on
    its own), with its title's similarity too; a free-text query with dense and BM25 only. Ids in
    `include` are scored even when neither index would have proposed them (a refit's labelled pairs).
    """
    use_title = title_vec is not None and mode == "hybrid"
    dense = dict(corpus.vectors.search(qvec, POOL)) if mode != "lexical" else {}
    lexical = dict(corpus.lexical.top(qtokens, POOL)) if mode != "dense" else {}
    titled = dict(corpus.vectors.search(title_vec, TITLE_POOL)) if use_title else {}
    ids = sorted((set(dense) | set(lexical) | set(titled) | set(include)) - (exclude or set()))
    docs = corpus.load(ids)
    if filters is not None:
        docs = {i: doc for i, doc in docs.items() if filters.admits(doc)}
    if mode != "lexical":
        dense.update(corpus.vectors.similarity(qvec, [i for i in docs if i not in dense]))
    if mode != "dense":
        lexical.update(corpus.lexical.scores(qtokens, [i for i in docs if i not in lexical]))
    if use_title:
        titled.update(corpus.vectors.similarity(title_vec, [i for i in docs if i not in titled]))
    ranker = ranking.HybridRanker(weights(mode), idf=corpus.lexical.idf, calibration=calibration())
    hard = filters.engine_filters() if filters else ranking.HardFilters()
    return ranker.rank(query, list(docs.values()), dense, lexical, k, hard, title_scores=titled or None,
                       reasons=reasons)


def calibration() -> Calibration:
    """The calibrated-relevance model the site uses: the active version (refitted from outcomes or
    chosen by staff, matching/versions.py), else the shipped file."""
    return versions.current(shipped_calibration)[1]


def shipped_calibration() -> Calibration:
    """The calibration file (MATCH_CALIBRATION, default matchmaker/matching/calibration.json), loaded once."""
    path = Path(current_app.config.get("MATCH_CALIBRATION") or DEFAULT_CALIBRATION)
    with _calibration_lock:
        cached = _calibrations.get(path)
        if cached is None:
            cached = _calibrations[path] = Calibration.load(path)
        return cached


def owner_query(listing: Any) -> tuple[ranking.ListingDoc, str]:
    """The query a listing's own match list runs, as its owner sees it (full text)."""
    text = embedding.listing_text(listing.title, listing.keywords, listing.summary, listing.description)
    return to_doc(listing, text=embedding.listing_text(None, None, listing.summary, listing.description)), text


def features_for(listing: Any, candidate_ids: Collection[int]) -> dict[int, dict[str, float]]:
    """The calibration features of each given candidate (of the other side) for the listing's own match
    list, computed by the site's ranking now; candidates not searchable (closed, expired, or not in the
    vector index yet) are left out rather than given a similarity of 0."""
    query, text = owner_query(listing)
    if not text or not candidate_ids:
        return {}
    side = OTHER_SIDE[listing.kind]
    corpus, qvec = site_corpus(side), embedding.query_vector(text)
    wanted = set(corpus.vectors.similarity(qvec, list(set(candidate_ids))))
    found = rank_corpus(corpus, query, qvec, query_terms(side, text), k=10 * POOL + len(wanted),
                        title_vec=title_vector(query, text), include=wanted, reasons=False)
    return {m.id: dict(m.features) for m in found if m.id in wanted}


def rank(side: str, query: ranking.ListingDoc | str, text: str, k: int, filters: SearchFilters | None = None,
         exclude: set[int] | None = None) -> list[ranking.Match]:
    """Top-k searchable listings of `side` for a query text (the site's live indexes)."""
    return rank_corpus(site_corpus(side), query, embedding.query_vector(text), query_terms(side, text), k, filters,
                       exclude=exclude, title_vec=title_vector(query, text))


def query_terms(side: str, text: str) -> list[str]:
    """The BM25 terms of a query: its own words, plus the catalogue's Chinese terms for English words."""
    return match_terms(text) + crosslingual.query_terms(side, text)


def title_vector(query: ranking.ListingDoc | str, text: str) -> np.ndarray | None:
    """The query's title embedded on its own, when it has a title and more text than the title."""
    title = query.title.strip() if isinstance(query, ranking.ListingDoc) else ""
    return embedding.query_vector(title) if title and title != text.strip() else None


# --- public API -----------------------------------------------------------------------------------

def matches_for_listing(listing: Any, viewer: Any, k: int = 10, filters: SearchFilters | None = None
                        ) -> list[MatchItem]:
    """For a need, its best research results; for a result, its best needs."""
    side = OTHER_SIDE[listing.kind]
    text = _visible_text(listing, viewer)
    if not text:
        return []
    query = to_doc(listing, text=None if not _sees_details(listing, viewer) else embedding.listing_text(
        None, None, listing.summary, listing.description))
    # Suggestions the owners dismissed stay off the listing's list.
    found = rank(side, query, text, k, filters, exclude=dismissals.dismissed_ids(listing))
    return _present(side, found, query.full_text, viewer)


def search(viewer: Any, text: str, side: str = "result", filters: SearchFilters | None = None,
           k: int = 20) -> list[MatchItem]:
    """Free-text search (Chinese or English) over one side."""
    if side not in OTHER_SIDE:
        raise ValidationFailed({"side": [_("Choose research results or technical needs.")]})
    cleaned = embedding.listing_text((text or "")[:MAX_QUERY_CHARS])
    if not cleaned:
        raise ValidationFailed({"q": [_("Type a few words describing the problem or the technology.")]})
    found = rank(side, cleaned, cleaned, k, filters)
    return _present(side, found, cleaned, viewer)


_CJK_OR_LATIN = re.compile(r"[\u4e00-\u9fffA-Za-z]")


def query_advice(text: str) -> list[str]:
    """What the searcher should know about their query before reading the results: cut short, too
    little to match on, only filler words, or a language the matching does not read well."""
    advice = []
    text = (text or "").strip()
    if len(text) > MAX_QUERY_CHARS:
        advice.append(_("Only the first %(n)s characters of your description were used.", n=MAX_QUERY_CHARS))
    words = tokenize(text[:MAX_QUERY_CHARS])
    if text and not _CJK_OR_LATIN.search(text):
        advice.append(_("Matching reads Chinese and English; describe the problem in one of them for useful "
                        "results."))
    elif len("".join(text.split())) < 3:
        advice.append(_("That is very short to match on. Describe the problem or the technology in a "
                        "sentence."))
    elif not words:
        advice.append(_("Your words are too general to match on. Say what the technology is about: the "
                        "object, the material or process, and the figure that must improve."))
    return advice


def _sees_details(listing: Any, viewer: Any) -> bool:
    return not listing.confidential or permissions.can_view_details(viewer, listing)


def _visible_text(listing: Any, viewer: Any) -> str:
    # A viewer who may not see a confidential listing's description must not get matches computed
    # from it either: the suggestions would hint at what it says.
    if _sees_details(listing, viewer):
        return embedding.listing_text(listing.title, listing.keywords, listing.summary, listing.description)
    return embedding.text_of(listing)


def _present(side: str, found: list[ranking.Match], query_text: str, viewer: Any) -> list[MatchItem]:
    if not found:
        return []
    model = listing_model(side)
    rows = {row.id: row for row in Session.scalars(sa.select(model).where(model.id.in_([m.id for m in found])))}
    shown_at = calibration().shown_at
    items = []
    for match in found:
        row = rows.get(match.id)
        if row is None:
            continue
        shown = lifecycle.view_for(row, viewer)
        terms = list(match.shared_terms)
        items.append(MatchItem(
            kind=side, listing=shown, score=float(match.score),
            parts={"dense": match.dense, "lexical": match.lexical, "structured": match.structured},
            checks=[_check_item(check) for check in match.checks], terms=terms,
            snippet=marked(_snippet_source(shown), terms), query_snippet=marked(query_text, terms),
            strong=match.strong, relevance=match.relevance, likely=match.relevance >= shown_at))
    return items


def marked(text: str, terms: list[str], limit: int = 400) -> Markup:
    """The text (cut to `limit` characters), escaped, with the shared terms in <mark>."""
    text = text if len(text) <= limit else text[:limit].rstrip() + "…"
    return Markup("").join(Markup("<mark>%s</mark>") % piece if hit else escape(piece)
                           for piece, hit in reasons.highlight(text, terms))


def _snippet_source(shown: Any) -> str:
    return (shown.summary or "") if shown.locked else (shown.summary or shown.description or "")


CHECK_LABELS = {
    "industry": (lambda: _("Same industry"), lambda: _("Different industry"), lambda: _("Industry not stated")),
    "maturity": (lambda: _("Maturity meets what the need asks"), lambda: _("Maturity below what the need asks"),
                 lambda: _("Maturity not stated")),
    "price_budget": (lambda: _("Budget covers the price"), lambda: _("Price above the budget"),
                     lambda: _("Price or budget not stated")),
    "transfer_modes": (lambda: _("A transfer mode both accept"), lambda: _("No transfer mode in common"),
                       lambda: _("Transfer modes not stated")),
    "region": (lambda: _("Same province"), lambda: _("Different province"), lambda: _("Region not stated")),
}


def _maturity_unknown(detail: dict[str, Any]) -> str:
    result_missing, need_missing = detail.get("result_trl") is None, detail.get("need_min_trl") is None
    if result_missing and need_missing:
        return _("Maturity not compared: neither side states one")
    if result_missing:
        return _("Maturity not compared: the research result does not state its maturity")
    return _("Maturity not compared: the need does not state the lowest maturity it accepts")


def _price_unknown(detail: dict[str, Any]) -> str:
    if detail.get("negotiable"):
        return _("Price negotiable (面议): not compared with the budget")
    return _("Price not compared: the need states no budget")


# An unknown check says which side left what out, so "not stated" is never read as a flaw of the
# listing one is looking at.
UNKNOWN_LABELS: dict[str, Callable[[dict[str, Any]], str]] = {
    "maturity": _maturity_unknown, "price_budget": _price_unknown}


def _check_item(check: ranking.Check) -> CheckItem:
    labels = CHECK_LABELS.get(check.code)
    position = {ranking.PASS: 0, ranking.FAIL: 1}.get(check.status, 2)
    if labels is None:
        return CheckItem(check.code, check.status)
    if position == 2 and check.code in UNKNOWN_LABELS:
        return CheckItem(UNKNOWN_LABELS[check.code](dict(check.detail or {})), check.status)
    label = labels[position]()
    if check.code == "industry" and check.status == ranking.PASS and check.detail.get("level") == "section":
        label = _("Same industry section")
    return CheckItem(label, check.status)


# --- notifications -------------------------------------------------------------------------------

def notify_new_matches(kind: str, listing_ids: list[int]) -> int:
    """Tell owners on both sides about strong matches a freshly indexed listing made; each pair once."""
    model = listing_model(kind)
    created = 0
    for listing in Session.scalars(sa.select(model).where(model.id.in_(list(listing_ids)), published_filter(model))):
        text = embedding.text_of(listing)
        if not text:
            continue
        for match in rank(OTHER_SIDE[kind], to_doc(listing), text, 5):
            # The calibrated relevance is comparable across queries and not in rank order, so
            # every top candidate is checked.
            if not match.strong:
                continue
            other = Session.get(listing_model(OTHER_SIDE[kind]), match.id)
            if other is not None:
                created += _notify_pair(listing, other, match.relevance)
    Session.commit()
    return created


def _notify_pair(first: Any, second: Any, score: float) -> int:
    need, result = (first, second) if first.kind == "need" else (second, first)
    created = 0
    for own, other in ((need, result), (result, need)):
        for user_id in _owner_ids(own):
            key = f"match:need:{need.id}:result:{result.id}:u{user_id}"
            if Session.scalar(sa.select(Notification.id).where(Notification.dedupe_key == key)) is not None:
                continue
            Session.add(Notification(
                user_id=user_id, kind="match.new", dedupe_key=key, link=f"/{own.kind}/{own.id}",
                params={"title": own.title, "other_title": other.title, "other_kind": other.kind,
                        "other_id": other.id, "score": round(score, 3)}))
            created += 1
    return created


def _owner_ids(listing: Any) -> list[int]:
    """Who hears of the listing's new matches: its owner, else its organization's members in the owning
    role; never a user who turned match notices off."""
    if listing.owner_id is not None:
        owner = Session.get(User, listing.owner_id)
        if owner is not None and owner.active:
            return [owner.id] if notifications.wants_match_notices(owner) else []
    role = permissions.OWNER_ROLE[listing.kind]
    return list(Session.scalars(sa.select(User.id).where(
        User.organization_id == listing.organization_id, User.role == role, User.active.is_(True),
        User.match_notices != "off")))


