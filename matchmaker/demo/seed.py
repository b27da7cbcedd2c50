"""Demo data written by us: organizations, one user per role, results and needs, so a newcomer
sees a living site after `make run`."""
from __future__ import annotations

from importlib import import_module

import sqlalchemy as sa

from matchmaker.core.passwords import hash_password
from models import Organization, OrgKind, Role, Session, User, utcnow

DEMO_PASSWORD = "demo12345"

# Feature modules whose load(orgs, users) adds their demo rows, in dependency order.
LOADERS: tuple[str, ...] = ("matchmaker.demo.listing_samples", "matchmaker.demo.fair_samples",
                           "matchmaker.demo.deal_samples")

# (name, name_en, kind, legal-entity type, region)
ORGANIZATIONS = [
    ("泉州理工大学", "Quanzhou University of Technology", OrgKind.UNIVERSITY, "022", "350500"),
    ("闽南材料研究所", "Minnan Institute of Materials", OrgKind.INSTITUTE, "021", "350500"),
    ("海峡智能装备有限公司", "Straits Intelligent Equipment Co., Ltd.", OrgKind.ENTERPRISE, "150", "350500"),
    ("清源食品股份有限公司", "Qingyuan Foods Co., Ltd.", OrgKind.ENTERPRISE, "160", "350200"),
    ("泉州市科学技术局", "Quanzhou Science and Technology Bureau", OrgKind.BUREAU, "010", "350500"),
    ("刺桐技术转移中心", "Citong Technology Transfer Center", OrgKind.AGENCY, "170", "350500"),
]

# (email, name, role, organization index)
USERS = [
    ("researcher@demo.cn", "林教授", Role.RESEARCHER, 0),
    ("institute@demo.cn", "陈研究员", Role.RESEARCHER, 1),
    ("enterprise@demo.cn", "黄经理", Role.ENTERPRISE, 2),
    ("food@demo.cn", "吴总监", Role.ENTERPRISE, 3),
    ("broker@demo.cn", "张经纪人", Role.BROKER, 5),
    ("staff@demo.cn", "王科员", Role.STAFF, 4),
    ("admin@demo.cn", "系统管理员", Role.ADMIN, 4),
]


def is_empty() -> bool:
    return not Session.scalar(sa.select(sa.func.count()).select_from(Organization))


def load_if_empty(force: bool = False) -> bool:
    if not force and not is_empty():
        return False
    load()
    return True


def load() -> None:
    orgs = []
    for name, name_en, kind, entity_type, region in ORGANIZATIONS:
        org = Organization(name=name, name_en=name_en, kind=kind, entity_type=entity_type, region=region,
                           verified=True, verified_at=utcnow())
        Session.add(org)
        orgs.append(org)
    pw = hash_password(DEMO_PASSWORD)
    users = {}
    for email, name, role, org_index in USERS:
        users[email] = User(email=email, name=name, role=role, organization=orgs[org_index], password_hash=pw)
        Session.add(users[email])
    Session.flush()
    for module in LOADERS:
        import_module(module).load(orgs, users)
    Session.commit()


def accounts() -> list[tuple[str, str, str]]:
    return [(email, str(role), ORGANIZATIONS[i][0]) for email, _name, role, i in USERS]
