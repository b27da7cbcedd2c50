"""The staff area: who gets in, organization verification (audited), and user administration."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from models import AuditLog, Organization, OrgKind, Role, Session, User
from tests.factories import PASSWORD


@pytest.fixture
def unverified(make):
    return make.org(OrgKind.ENTERPRISE, name="新注册企业", verified=False)


@pytest.mark.parametrize("role", [Role.STAFF, Role.ADMIN])
def test_staff_verify_and_unverify_an_organization_with_an_audit_trail(client, make, auth, unverified, role):
    actor = make.user(role)
    auth.login(actor)
    page = client.get("/admin/organizations?show=unverified").get_data(as_text=True)
    assert "新注册企业" in page
    client.post(f"/admin/organizations/{unverified.id}/verify")
    org = Session.get(Organization, unverified.id)
    assert org.verified and org.verified_at is not None
    client.post(f"/admin/organizations/{unverified.id}/unverify")
    assert not Session.get(Organization, unverified.id).verified
    actions = Session.scalars(sa.select(AuditLog.action).where(
        AuditLog.entity_type == "organizations", AuditLog.entity_id == unverified.id,
        AuditLog.actor_id == actor.id).order_by(AuditLog.id)).all()
    assert actions == ["org.verify", "org.unverify"]


@pytest.mark.parametrize("role", [Role.RESEARCHER, Role.ENTERPRISE, Role.BROKER])
def test_others_cannot_verify_organizations(client, make, auth, unverified, role):
    auth.login(make.user(role))
    assert client.post(f"/admin/organizations/{unverified.id}/verify").status_code == 403
    assert client.get("/admin/").status_code == 403
    assert not Session.get(Organization, unverified.id).verified


def test_admin_area_asks_anonymous_visitors_to_log_in(client):
    response = client.get("/admin/")
    assert response.status_code == 302 and "/account/login" in response.headers["Location"]


def test_dashboard_counts_unverified_organizations_and_links_the_tools(client, make, auth, unverified):
    auth.login(make.user(Role.STAFF))
    client.get("/?lang=en")
    page = client.get("/admin/").get_data(as_text=True)
    assert "1 waiting for verification" in page
    assert "/admin/imports/" in page and "/admin/users" in page
    if "listings.review_queue" in client.application.view_functions:
        assert "Review queue" in page


def test_admin_changes_a_role_and_deactivates_an_account(client, make, auth):
    admin = make.user(Role.ADMIN)
    member = make.user(Role.RESEARCHER, email="member@example.cn")
    auth.login(admin)
    client.post(f"/admin/users/{member.id}/role", data={"role": "broker"})
    assert Session.get(User, member.id).role == Role.BROKER
    client.post(f"/admin/users/{member.id}/active", data={"active": "0"})
    assert not Session.get(User, member.id).active
    auth.logout()
    response = client.post("/account/login", data={"email": "member@example.cn", "password": PASSWORD})
    assert response.status_code == 200  # refused: the login form again
    actions = set(Session.scalars(sa.select(AuditLog.action).where(AuditLog.entity_id == member.id,
                                                                  AuditLog.entity_type == "users")))
    assert {"user.role", "user.deactivate"} <= actions


def test_admin_cannot_lock_themselves_out(client, make, auth):
    admin = make.user(Role.ADMIN)
    auth.login(admin)
    client.post(f"/admin/users/{admin.id}/role", data={"role": "researcher"})
    client.post(f"/admin/users/{admin.id}/active", data={"active": "0"})
    saved = Session.get(User, admin.id)
    assert saved.role == Role.ADMIN and saved.active


def test_staff_see_users_but_only_admins_change_them(client, make, auth):
    member = make.user(Role.RESEARCHER, name="林教授")
    auth.login(make.user(Role.STAFF))
    assert "林教授" in client.get("/admin/users").get_data(as_text=True)
    assert client.post(f"/admin/users/{member.id}/role", data={"role": "admin"}).status_code == 403
    assert client.post(f"/admin/users/{member.id}/active", data={"active": "0"}).status_code == 403
    saved = Session.get(User, member.id)
    assert saved.role == Role.RESEARCHER and saved.active
