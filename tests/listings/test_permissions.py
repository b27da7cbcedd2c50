"""Who may do what with a listing: every role × action, in the owning organization and outside it."""
from __future__ import annotations

import pytest

from matchmaker.core import permissions
from matchmaker.core.errors import NotAllowed
from matchmaker.listings import lifecycle
from models import ListingStatus, OrgKind, ResearchResult, Role, Session, TechNeed

VALUES = {"title": "新条目", "summary": "简介", "transfer_modes": ["license"], "price_fen": None}

# (who) -> how to build them relative to the owning organization
WHO = ("owner_role_same_org", "owner_role_other_org", "researcher", "enterprise", "broker", "staff", "admin")
ACTIONS = ("create", "edit", "submit", "review", "close", "renew", "view_details")

# Expected outcome for a listing of each kind, per who × action.
ALLOWED = {
    "owner_role_same_org": {"create", "edit", "submit", "close", "renew", "view_details"},
    "owner_role_other_org": {"create"},
    "staff": set(ACTIONS),
    "admin": set(ACTIONS),
    "broker": set(),
}
# Researchers and enterprise members outside the owning org may only create their own kind.


def _person(make, who: str, kind: str, owner_org):
    owner_role = Role.RESEARCHER if kind == "result" else Role.ENTERPRISE
    if who == "owner_role_same_org":
        return make.user(owner_role, organization=owner_org)
    if who == "owner_role_other_org":
        return make.user(owner_role)
    return make.user(Role(who))


def _attempt(action: str, user, kind: str, make, owner) -> bool:
    model = ResearchResult if kind == "result" else TechNeed
    factory = make.result if kind == "result" else make.need
    state = {"submit": ListingStatus.DRAFT, "review": ListingStatus.PENDING}.get(action, ListingStatus.PUBLISHED)
    listing = factory(owner=owner, status=state, confidential=True)
    calls = {
        "create": lambda: lifecycle.create_listing(user, kind, {**VALUES, "organization_id": owner.organization_id}),
        "edit": lambda: lifecycle.update_listing(user, listing, {**VALUES, "title": listing.title}),
        "submit": lambda: lifecycle.submit_listing(user, listing),
        "review": lambda: lifecycle.approve_listing(user, listing),
        "close": lambda: lifecycle.close_listing(user, listing, "withdrawn"),
        "renew": lambda: lifecycle.renew_listing(user, listing),
    }
    if action == "view_details":
        return permissions.can_view_details(user, listing)
    try:
        calls[action]()
    except NotAllowed:
        Session.rollback()
        assert Session.get(model, listing.id).status == state  # nothing changed
        return False
    return True


@pytest.mark.parametrize("kind", ["result", "need"])
@pytest.mark.parametrize("who", WHO)
def test_role_action_table(make, kind, who):
    owner_org = make.org(OrgKind.UNIVERSITY if kind == "result" else OrgKind.ENTERPRISE)
    owner = make.user(Role.RESEARCHER if kind == "result" else Role.ENTERPRISE, organization=owner_org)
    user = _person(make, who, kind, owner_org)
    expected = ALLOWED.get(who)
    if expected is None:
        own_role = (who == "researcher") == (kind == "result")
        expected = {"create"} if own_role else set()
    outcome = {action for action in ACTIONS if _attempt(action, user, kind, make, owner)}
    assert outcome == expected


def test_a_researcher_in_an_enterprise_cannot_list_results(make):
    user = make.user(Role.RESEARCHER, organization=make.org(OrgKind.ENTERPRISE))
    with pytest.raises(NotAllowed):
        lifecycle.create_listing(user, "result", VALUES)


@pytest.mark.parametrize("role, path, status", [
    (Role.BROKER, "/result/new", 403),
    (Role.ENTERPRISE, "/result/new", 403),
    (Role.RESEARCHER, "/need/new", 403),
    (Role.RESEARCHER, "/admin/review", 403),
    (Role.ENTERPRISE, "/need/new", 200),
    (Role.STAFF, "/admin/review", 200),
])
def test_pages_refuse_roles_that_may_not(client, make, login, role, path, status):
    login(make.user(role))
    assert client.get(path).status_code == status


def test_outsider_cannot_edit_or_see_drafts_of_another_org(client, make, login):
    draft = make.result(status=ListingStatus.DRAFT)
    published = make.result()
    login(make.user(Role.RESEARCHER))
    assert client.get(f"/result/{draft.id}").status_code == 404
    assert client.get(f"/result/{published.id}/edit").status_code == 403
    assert client.post(f"/result/{published.id}/close", data={"reason": "withdrawn"}).status_code == 403
    assert Session.get(ResearchResult, published.id).status == ListingStatus.PUBLISHED


def test_anonymous_visitors_are_sent_to_log_in(client, make):
    assert client.get("/result/new").status_code in (302, 401)
    assert client.get("/my/listings").status_code in (302, 401)


def test_require_raises_not_allowed_with_the_message_unless_the_user_can(make):
    with pytest.raises(NotAllowed) as refused:
        permissions.require(make.user(Role.BROKER), "listing.review", "Only staff review.")
    assert refused.value.message == "Only staff review."
    assert permissions.require(make.user(Role.STAFF), "listing.review", "Only staff review.") is None
    listing = make.result()
    with pytest.raises(NotAllowed):
        permissions.require(make.user(Role.RESEARCHER), "listing.edit", "Not yours.", listing)
    owner = make.user(Role.RESEARCHER, organization=listing.organization)
    assert permissions.require(owner, "listing.edit", "Not yours.", listing) is None


UNPUBLISHED = (ListingStatus.DRAFT, ListingStatus.PENDING, ListingStatus.REJECTED, ListingStatus.EXPIRED)


@pytest.mark.parametrize("status", UNPUBLISHED)
@pytest.mark.parametrize("kind", ["result", "need"])
def test_anonymous_visitors_never_read_an_unpublished_listing(client, make, kind, status):
    factory = make.result if kind == "result" else make.need
    listing = factory(status=status, title="未公开的秘密标题", description="只有本单位能看的详细描述")
    for path in (f"/{kind}/{listing.id}", f"/matches/{kind}/{listing.id}"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert "未公开的秘密标题" not in response.get_data(as_text=True)
        assert "只有本单位能看的详细描述" not in response.get_data(as_text=True)


def test_a_deactivated_member_is_an_outsider_to_drafts_and_confidential_details(client, make, login):
    draft = make.result(status=ListingStatus.DRAFT, title="草稿标题")
    secret = make.result(confidential=True, description="保密的详细描述", organization=draft.organization)
    member = make.user(Role.RESEARCHER, organization=draft.organization)
    assert permissions.can_view_details(member, secret)
    member.active = False
    Session.commit()
    assert not permissions.can(member, "listing.view", draft)
    assert not permissions.can_view_details(member, secret)
    assert permissions.can(member, "listing.view", secret)  # published: the teaser stays public
