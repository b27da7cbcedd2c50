"""Small factories for tests: each creates, commits and returns one row with sensible defaults."""
from __future__ import annotations

from datetime import date, timedelta
from itertools import count
from typing import Any

from matchmaker.core.passwords import hash_password
from models import (
    ListingStatus,
    Organization,
    OrgKind,
    ResearchResult,
    Role,
    Session,
    TechNeed,
    User,
    utcnow,
)

_seq = count(1)
PASSWORD = "correct horse 42"
_PW_HASH: str | None = None

KIND_FOR_ROLE = {
    Role.RESEARCHER: OrgKind.UNIVERSITY,
    Role.ENTERPRISE: OrgKind.ENTERPRISE,
    Role.BROKER: OrgKind.AGENCY,
    Role.STAFF: OrgKind.BUREAU,
    Role.ADMIN: OrgKind.BUREAU,
}


def org(kind: str = OrgKind.UNIVERSITY, **kw: Any) -> Organization:
    n = next(_seq)
    defaults = {"name": f"测试机构{n}", "kind": kind, "entity_type": "022" if kind == OrgKind.UNIVERSITY else "150",
                "region": "350500", "verified": True}
    row = Organization(**{**defaults, **kw})
    Session.add(row)
    Session.commit()
    return row


def user(role: str = Role.RESEARCHER, organization: Organization | None = None, **kw: Any) -> User:
    global _PW_HASH
    if _PW_HASH is None:
        _PW_HASH = hash_password(PASSWORD)  # Argon2 is slow on purpose: hash once per test run
    n = next(_seq)
    organization = organization or org(KIND_FOR_ROLE[Role(role)])
    row = User(email=kw.pop("email", f"user{n}@example.cn"), name=kw.pop("name", f"用户{n}"), role=role,
               organization=organization, password_hash=_PW_HASH, **kw)
    Session.add(row)
    Session.commit()
    return row


def _listing(model: Any, owner: User | None, status: str, **kw: Any) -> Any:
    owner = owner or user(Role.RESEARCHER if model is ResearchResult else Role.ENTERPRISE)
    now = utcnow()
    defaults: dict[str, Any] = {
        "title": f"测试条目{next(_seq)}", "summary": "公开简介", "description": "详细说明",
        "industry_section": "C", "industry_division": "39", "keywords": [], "transfer_modes": ["transfer"],
        "region": "350500", "status": status, "organization_id": owner.organization_id, "owner_id": owner.id,
        "valid_until": date.today() + timedelta(days=180),
        "published_at": now if status == ListingStatus.PUBLISHED else None,
    }
    row = model(**{**defaults, **kw})
    Session.add(row)
    Session.commit()
    return row


def result(owner: User | None = None, status: str = ListingStatus.PUBLISHED, **kw: Any) -> ResearchResult:
    kw.setdefault("maturity", "sample")
    kw.setdefault("trl", 5)
    return _listing(ResearchResult, owner, status, **kw)


def need(owner: User | None = None, status: str = ListingStatus.PUBLISHED, **kw: Any) -> TechNeed:
    return _listing(TechNeed, owner, status, **kw)
