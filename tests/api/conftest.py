"""Fixtures of the API tests: a research team, an enterprise, an enterprise of another organization, staff."""
from __future__ import annotations

import pytest

from models import OrgKind, Role


@pytest.fixture
def people(make):
    uni, firm, other = make.org(OrgKind.UNIVERSITY), make.org(OrgKind.ENTERPRISE), make.org(OrgKind.ENTERPRISE)
    return {"researcher": make.user(Role.RESEARCHER, uni), "enterprise": make.user(Role.ENTERPRISE, firm),
            "outsider": make.user(Role.ENTERPRISE, other), "staff": make.user(Role.STAFF)}
