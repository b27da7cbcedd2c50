"""Joining an existing organization is a request its members or staff decide (issue 14.1)."""
from __future__ import annotations

import sqlalchemy as sa

from models import ListingStatus, Notification, Role, Session, User

PASSWORD = "a-long-password"


def _register(client, organization, email="newcomer@example.cn"):
    return client.post("/account/register", data={
        "email": email, "name": "新人", "password": PASSWORD, "confirm": PASSWORD, "role": Role.RESEARCHER,
        "org_mode": "existing", "organization_id": str(organization.id)}, follow_redirects=True)


def test_signing_up_into_an_existing_organization_grants_nothing_until_approved(client, make):
    secret = make.result(confidential=True, description="保密的工艺参数", title="公开标题")
    draft = make.result(status=ListingStatus.DRAFT, title="草稿里的新成果", organization=secret.organization)
    page = _register(client, secret.organization)
    assert page.status_code == 200
    newcomer = Session.scalar(sa.select(User).where(User.email == "newcomer@example.cn"))
    assert newcomer.organization_id is None and newcomer.pending_organization_id == secret.organization_id
    assert "保密的工艺参数" not in client.get(f"/result/{secret.id}").get_data(as_text=True)
    assert client.get(f"/result/{draft.id}").status_code == 404
    assert client.get(f"/result/{secret.id}/edit").status_code == 403
    assert "等待" in client.get("/account/profile").get_data(as_text=True)


def test_a_member_approves_and_then_the_newcomer_sees_what_members_see(client, make, auth):
    secret = make.result(confidential=True, description="保密的工艺参数")
    member = make.user(Role.RESEARCHER, organization=secret.organization)
    _register(client, secret.organization)
    newcomer = Session.scalar(sa.select(User).where(User.email == "newcomer@example.cn"))
    asked = Session.scalar(sa.select(Notification).where(Notification.user_id == member.id,
                                                         Notification.kind == "membership.requested"))
    assert asked is not None
    client.post("/account/logout")
    outsider = make.user(Role.RESEARCHER)
    auth.login(outsider)
    assert client.post(f"/account/requests/{newcomer.id}/approve").status_code == 403
    assert "新人" not in client.get("/account/requests").get_data(as_text=True)
    auth.login(member)
    assert "newcomer@example.cn" in client.get("/account/requests").get_data(as_text=True)
    assert client.post(f"/account/requests/{newcomer.id}/approve").status_code == 302
    Session.refresh(newcomer)
    assert newcomer.organization_id == secret.organization_id and newcomer.pending_organization_id is None
    auth.login(newcomer)
    assert "保密的工艺参数" in client.get(f"/result/{secret.id}").get_data(as_text=True)


def test_staff_decline_and_the_account_stays_outside(client, make, auth):
    organization = make.org()
    _register(client, organization)
    newcomer = Session.scalar(sa.select(User).where(User.email == "newcomer@example.cn"))
    client.post("/account/logout")
    auth.login(make.user(Role.STAFF))
    assert client.post(f"/account/requests/{newcomer.id}/reject").status_code == 302
    Session.refresh(newcomer)
    assert newcomer.organization_id is None and newcomer.pending_organization_id is None
    assert Session.scalar(sa.select(Notification).where(Notification.user_id == newcomer.id,
                                                        Notification.kind == "membership.rejected"))
    assert client.post(f"/account/requests/{newcomer.id}/approve").status_code == 404
