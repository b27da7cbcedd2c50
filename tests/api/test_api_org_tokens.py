"""Organization tokens: made by the organization's admins (User.org_role "admin") and staff, not by
ordinary members; they act as the organization (its ordinary members' rights, whoever made them), are
listed and revoked by its admins and staff, and outlive their creator."""
from __future__ import annotations

import sqlalchemy as sa

from matchmaker.accounts import users
from matchmaker.api import tokens
from models import ApiToken, ListingStatus, OrgKind, Role, Session, User


def _secret(page) -> str:
    html = page.get_data(as_text=True)
    start = html.index("<code>mm_") + 6
    return html[start:html.index("</code>", start)]


def _bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def test_an_organizations_admin_makes_a_token_that_acts_as_the_organization(client, auth, make, app):
    uni = make.org(OrgKind.UNIVERSITY)
    admin = make.user(Role.RESEARCHER, uni, org_role="admin")
    draft = make.result(owner=make.user(Role.RESEARCHER, uni), status=ListingStatus.DRAFT, description="ORGDRAFT")
    auth.login(admin)
    page = client.get("/account/tokens/?lang=en").get_data(as_text=True)
    assert 'id="organization-tokens"' in page and f'name="organization_id" value="{uni.id}"' in page
    made = client.post("/account/tokens/organization?lang=en", data={
        "organization_id": str(uni.id), "name": "TTO docket", "days": "365", "scopes": ["read", "write"]})
    assert made.status_code == 200
    secret = _secret(made)
    token = Session.scalar(sa.select(ApiToken))
    assert token.organization_id == uni.id and token.created_by_id == admin.id and token.user_id != admin.id
    me = client.get("/api/v1/me", headers=_bearer(secret)).json
    assert me["organization"]["id"] == uni.id and me["role"] == "researcher" and me["id"] != admin.id
    # The organization's rights: its drafts, and listings it creates are the organization's.
    assert "ORGDRAFT" in client.get(f"/api/v1/listings/result/{draft.id}", headers=_bearer(secret)).get_data(
        as_text=True)
    created = client.post("/api/v1/listings/result", headers=_bearer(secret), json={"title": "机构令牌发布的成果",
                                                                                      "summary": "摘要"})
    assert created.status_code == 201 and created.json["organization"]["id"] == uni.id
    listed = client.get("/account/tokens/?lang=en").get_data(as_text=True)
    assert f'id="token-{token.id}"' in listed and "TTO docket" in listed
    # It outlives its creator; the service account it acts as cannot sign in and gets no mail.
    admin.active = False
    Session.commit()
    assert client.get("/api/v1/me", headers=_bearer(secret)).status_code == 200
    service = Session.get(User, token.user_id)
    assert users.authenticate(service.email, "!") is None and service.email.endswith(".invalid")


def test_staffs_organization_token_has_the_organizations_rights_not_staffs(client, auth, make):
    firm = make.org(OrgKind.ENTERPRISE)
    staff = make.user(Role.STAFF)
    auth.login(staff)
    page = client.get("/account/tokens/?lang=en").get_data(as_text=True)
    assert f'<option value="{firm.id}"' in page  # staff choose the organization
    secret = _secret(client.post("/account/tokens/organization?lang=en", data={
        "organization_id": str(firm.id), "name": "ERP", "days": "30", "scopes": ["read"]}))
    assert client.get("/api/v1/stats", headers=_bearer(secret)).status_code == 403  # staff may; the firm may not
    assert client.get("/api/v1/me", headers=_bearer(secret)).json["role"] == "enterprise"
    bureau = make.org(OrgKind.BUREAU)
    refused = client.post("/account/tokens/organization?lang=en", data={
        "organization_id": str(bureau.id), "name": "Bureau", "days": "30", "scopes": ["read"]})
    assert refused.status_code == 422 and "personal tokens" in refused.get_data(as_text=True)
    missing = client.post("/account/tokens/organization?lang=en", data={"name": "x", "days": "30", "scopes": ["read"]})
    assert missing.status_code == 422 and "Choose the organization" in missing.get_data(as_text=True)


def test_ordinary_members_neither_make_nor_revoke_organization_tokens(client, auth, make):
    uni = make.org(OrgKind.UNIVERSITY)
    admin, member = make.user(Role.RESEARCHER, uni, org_role="admin"), make.user(Role.RESEARCHER, uni)
    other_admin = make.user(Role.RESEARCHER, make.org(OrgKind.UNIVERSITY), org_role="admin")
    with client.application.test_request_context("/"):
        token, secret = tokens.create_for_organization(admin, uni.id, "sync", ["read"])
    auth.login(member)
    page = client.get("/account/tokens/?lang=en").get_data(as_text=True)
    assert 'id="organization-tokens"' not in page and f'id="token-{token.id}"' not in page
    client.post("/account/tokens/organization?lang=en", data={"organization_id": str(uni.id), "name": "mine",
                                                              "days": "30", "scopes": ["read"]})
    assert Session.scalar(sa.select(sa.func.count()).select_from(ApiToken)) == 1  # nothing made
    for who in (member, other_admin):
        auth.login(who)
        client.post(f"/account/tokens/{token.id}/revoke")
        assert client.get("/api/v1/me", headers=_bearer(secret)).status_code == 200, who.email
    auth.login(other_admin)
    client.post("/account/tokens/organization?lang=en", data={"organization_id": str(uni.id), "name": "theirs",
                                                              "days": "30", "scopes": ["read"]})
    assert Session.scalar(sa.select(sa.func.count()).select_from(ApiToken)) == 1  # not their organization
    auth.login(admin)
    client.post(f"/account/tokens/{token.id}/revoke")
    assert client.get("/api/v1/me", headers=_bearer(secret)).status_code == 401  # revoked at once


def test_whoever_registers_a_new_organization_is_its_admin(client, app):
    with app.test_request_context("/"):
        from matchmaker.accounts.organizations import NewOrganization

        founder = users.register(users.Registration(
            email="founder@example.cn", name="创始人", password="a-long-password-1", role=Role.ENTERPRISE,
            new_organization=NewOrganization(name="新公司", kind="enterprise", entity_type="150", region="350500")))
    assert founder.org_role == "admin"


def test_an_administrator_makes_a_member_the_organizations_admin(client, auth, make):
    uni = make.org(OrgKind.UNIVERSITY)
    member = make.user(Role.RESEARCHER, uni)
    auth.login(member)
    assert 'id="organization-tokens"' not in client.get("/account/tokens/").get_data(as_text=True)
    auth.login(make.user(Role.ADMIN))
    assert "Make organization admin" in client.get("/admin/users?lang=en").get_data(as_text=True)
    client.post(f"/admin/users/{member.id}/org-admin", data={"admin": "1"})
    Session.refresh(member)
    assert member.org_role == "admin"
    assert f'id="org-admin-{member.id}"' in client.get("/admin/users").get_data(as_text=True)
    auth.login(member)
    assert 'id="organization-tokens"' in client.get("/account/tokens/").get_data(as_text=True)
    auth.login(make.user(Role.STAFF))  # staff who are not administrators change no accounts
    client.post(f"/admin/users/{member.id}/org-admin", data={"admin": "0"})
    Session.refresh(member)
    assert member.org_role == "admin"


def test_the_service_account_keeps_its_role_so_the_token_never_outgrows_the_organization(client, make):
    import pytest

    from matchmaker.core.errors import ValidationFailed

    uni = make.org(OrgKind.UNIVERSITY)
    _token, secret = tokens.create_for_organization(make.user(Role.STAFF), uni.id, "docket", ["read"])
    service = Session.get(User, _token.user_id)
    administrator = make.user(Role.ADMIN)
    for role in (Role.STAFF, Role.ADMIN, Role.BROKER):
        with pytest.raises(ValidationFailed):
            users.set_role(administrator, service.id, role)
    assert client.get("/api/v1/me", headers=_bearer(secret)).json["role"] == "researcher"
