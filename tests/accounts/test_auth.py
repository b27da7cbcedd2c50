"""Registering, logging in and out, password reset by e-mail, the profile page, CSRF and rate limits."""
from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from models import AuditLog, Organization, OrgKind, Role, Session, User
from tests.accounts.conftest import csrf_token_from, flashes
from tests.factories import PASSWORD


@pytest.fixture
def english(client):
    client.get("/?lang=en")
    return client


def _logged_in_name(client) -> str | None:
    page = client.get("/").get_data(as_text=True)
    import re

    match = re.search(r'<span class="who">(.*?)</span>', page)
    return match.group(1) if match else None


def _login(client, email: str, password: str, **extra):
    return client.post("/account/login", data={"email": email, "password": password, **extra})


# --- registration ------------------------------------------------------------------------------

def test_register_with_an_existing_organization_logs_the_user_in_as_a_pending_member(english, make):
    org = make.org(OrgKind.UNIVERSITY, name="泉州理工大学")
    response = english.post("/account/register", data={
        "email": "Lin@Example.CN", "name": "林教授", "password": "long enough 1", "confirm": "long enough 1",
        "role": "researcher", "org_mode": "existing", "organization_id": str(org.id)})
    assert response.status_code == 302
    user = Session.scalar(sa.select(User).where(User.email == "lin@example.cn"))
    # Membership waits for the organization's approval (tests/accounts/test_memberships.py).
    assert user.role == Role.RESEARCHER and user.organization_id is None and user.pending_organization_id == org.id
    assert user.password_hash != "long enough 1"
    assert _logged_in_name(english) == "林教授"


def test_register_with_a_new_organization_creates_it_unverified(english):
    response = english.post("/account/register", data={
        "email": "huang@factory.cn", "name": "黄经理", "password": "long enough 1", "confirm": "long enough 1",
        "role": "enterprise", "org_mode": "new", "org_name": "海峡智能装备有限公司", "org_kind": "enterprise",
        "org_entity_type": "150", "org_region": "350500"}, follow_redirects=True)
    assert "unverified" in response.get_data(as_text=True)
    org = Session.scalar(sa.select(Organization).where(Organization.name == "海峡智能装备有限公司"))
    assert (org.kind, org.entity_type, org.region, org.verified) == ("enterprise", "150", "350500", False)
    assert Session.scalar(sa.select(User).where(User.email == "huang@factory.cn")).organization_id == org.id


@pytest.mark.parametrize(("change", "message"), [
    ({"confirm": "something else"}, "The two passwords differ."),
    ({"password": "short", "confirm": "short"}, "at least 8"),
    ({"role": "staff"}, "Not a valid choice"),
    ({"organization_id": ""}, "Choose your organization, or create a new one."),
    ({"email": "taken@example.cn"}, "An account with this e-mail already exists."),
])
def test_register_refuses_bad_input_and_keeps_what_was_typed(english, make, change, message):
    org = make.org(OrgKind.UNIVERSITY)
    make.user(Role.RESEARCHER, email="taken@example.cn")
    data = {"email": "new@example.cn", "name": "陈研究员", "password": "long enough 1", "confirm": "long enough 1",
            "role": "researcher", "org_mode": "existing", "organization_id": str(org.id), **change}
    response = english.post("/account/register", data=data)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert message.lower() in page.lower()
    assert 'value="陈研究员"' in page
    assert Session.scalar(sa.select(sa.func.count()).select_from(User)) == 1


@pytest.mark.parametrize(("org", "message"), [
    ({"org_name": "", "org_kind": "enterprise"}, "s name."),
    ({"org_name": "某某科技局", "org_kind": "bureau"}, "Not a valid choice"),  # bureaus are set up by operators
])
def test_new_organization_needs_a_name_and_an_allowed_type(english, org, message):
    page = english.post("/account/register", data={
        "email": "x@example.cn", "name": "X", "password": "long enough 1", "confirm": "long enough 1",
        "role": "broker", "org_mode": "new", **org}).get_data(as_text=True)
    assert message in page
    assert Session.scalar(sa.select(sa.func.count()).select_from(Organization)) == 0
    assert Session.scalar(sa.select(sa.func.count()).select_from(User)) == 0


# --- log in and out ------------------------------------------------------------------------------

def test_login_with_the_right_password_and_logout_by_post(english, make):
    user = make.user(Role.BROKER, email="broker@example.cn", name="张经纪人")
    response = _login(english, "BROKER@example.cn", PASSWORD)
    assert response.status_code == 302
    assert _logged_in_name(english) == "张经纪人"
    assert Session.get(User, user.id).last_login_at is not None
    assert english.get("/account/logout").status_code == 405  # a link cannot log anyone out
    english.post("/account/logout")
    assert _logged_in_name(english) is None


@pytest.mark.parametrize(("email", "password"), [
    ("known@example.cn", "wrong password"),
    ("nobody@example.cn", PASSWORD),
])
def test_wrong_email_or_password_get_the_same_message(english, make, email, password):
    make.user(Role.RESEARCHER, email="known@example.cn")
    page = _login(english, email, password).get_data(as_text=True)
    assert "Wrong e-mail or password." in flashes(page)
    assert _logged_in_name(english) is None


def test_deactivated_user_cannot_log_in(english, make):
    make.user(Role.RESEARCHER, email="gone@example.cn", active=False)
    page = _login(english, "gone@example.cn", PASSWORD).get_data(as_text=True)
    assert "Wrong e-mail or password." in flashes(page)


def test_login_redirects_only_to_pages_of_this_site(english, make):
    make.user(Role.RESEARCHER, email="r@example.cn")
    inside = english.post("/account/login?next=/account/profile", data={"email": "r@example.cn", "password": PASSWORD})
    assert inside.headers["Location"].endswith("/account/profile")
    english.post("/account/logout")
    outside = english.post("/account/login?next=https://evil.example/x",
                           data={"email": "r@example.cn", "password": PASSWORD})
    assert "evil.example" not in outside.headers["Location"]


OFF_SITE = ["https://evil.example/x", "//evil.example/x", "/\\evil.example/x", "\\\\evil.example", "/\t/evil.example",
            "/\n/evil.example", "///evil.example", "javascript:alert(1)", "https:evil.example", " //evil.example"]


@pytest.mark.parametrize("target", OFF_SITE)
def test_no_next_parameter_leads_off_site(english, make, target):
    make.user(Role.RESEARCHER, email="r@example.cn")
    login = english.post("/account/login", query_string={"next": target},
                         data={"email": "r@example.cn", "password": PASSWORD})
    language = english.get("/lang/zh", query_string={"next": target})
    for response in (login, language):
        assert response.status_code == 302
        assert response.headers["Location"] == "/", target


class TestCsrf:
    @pytest.fixture
    def app_config(self, app_config):
        return {**app_config, "WTF_CSRF_ENABLED": True}

    def test_login_without_the_token_is_refused(self, client, make):
        make.user(Role.RESEARCHER, email="r@example.cn")
        response = _login(client, "r@example.cn", PASSWORD)
        assert response.status_code == 400
        assert _logged_in_name(client) is None

    def test_login_with_the_token_from_the_form_works(self, client, make):
        make.user(Role.RESEARCHER, email="r@example.cn", name="林")
        token = csrf_token_from(client.get("/account/login").get_data(as_text=True))
        assert _login(client, "r@example.cn", PASSWORD, csrf_token=token).status_code == 302
        assert _logged_in_name(client) == "林"


class TestRateLimit:
    @pytest.fixture
    def app_config(self, app_config):
        return {**app_config, "RATELIMIT_ENABLED": True, "LOGIN_RATE_LIMIT": "3 per minute"}

    def test_fourth_attempt_in_a_minute_gets_a_friendly_429(self, client, make):
        make.user(Role.RESEARCHER, email="r@example.cn")
        for _ in range(3):
            assert _login(client, "r@example.cn", "guess").status_code == 200
        blocked = _login(client, "r@example.cn", PASSWORD)
        page = blocked.get_data(as_text=True)
        assert blocked.status_code == 429
        assert "尝试次数过多" in page  # Chinese is the default language
        assert "<form" in page  # the login page itself, not a bare error
        assert _logged_in_name(client) is None

    def test_one_venue_address_does_not_lock_out_other_accounts(self, client, make):
        make.user(Role.RESEARCHER, email="r@example.cn")
        make.user(Role.RESEARCHER, email="colleague@example.cn", name="同事")
        for _ in range(4):
            _login(client, "r@example.cn", "guess")
        assert _login(client, "r@example.cn", PASSWORD).status_code == 429
        assert _login(client, "colleague@example.cn", PASSWORD).status_code == 302


# --- password reset ------------------------------------------------------------------------------

def _reset_link(app) -> str:
    import re

    body = app.extensions["mail_outbox"][-1].get_content()
    return re.search(r"http://localhost(/account/reset/\S+)", body).group(1)


def test_password_reset_by_emailed_link_works_once(english, make, app):
    make.user(Role.ENTERPRISE, email="e@example.cn")
    answer = english.post("/account/forgot", data={"email": "e@example.cn"}, follow_redirects=True)
    assert "we have sent it a link" in answer.get_data(as_text=True)
    assert app.extensions["mail_outbox"][-1]["To"] == "e@example.cn"
    link = _reset_link(app)
    assert english.get(link).status_code == 200
    done = english.post(link, data={"password": "a brand new one", "confirm": "a brand new one"})
    assert done.status_code == 302
    assert "Wrong" in " ".join(flashes(_login(english, "e@example.cn", PASSWORD).get_data(as_text=True)))
    assert _login(english, "e@example.cn", "a brand new one").status_code == 302
    english.post("/account/logout")
    # The token was salted with the old password hash: it cannot be used again.
    again = english.post(link, data={"password": "third password", "confirm": "third password"},
                         follow_redirects=True)
    assert "invalid or has already been used" in again.get_data(as_text=True)
    assert _login(english, "e@example.cn", "third password").status_code == 200


def test_unknown_email_gets_the_same_answer_and_no_mail(english, app):
    answer = english.post("/account/forgot", data={"email": "nobody@example.cn"}, follow_redirects=True)
    assert "we have sent it a link" in answer.get_data(as_text=True)
    assert app.extensions["mail_outbox"] == []


def test_expired_reset_link_is_refused(english, make, app, monkeypatch):
    make.user(Role.ENTERPRISE, email="e@example.cn")
    english.post("/account/forgot", data={"email": "e@example.cn"})
    link = _reset_link(app)
    later = time.time() + app.config["PASSWORD_RESET_MAX_AGE"] + 60
    monkeypatch.setattr(time, "time", lambda: later)
    page = english.post(link, data={"password": "a brand new one", "confirm": "a brand new one"},
                        follow_redirects=True).get_data(as_text=True)
    assert "This reset link has expired." in page
    monkeypatch.undo()
    assert _login(english, "e@example.cn", "a brand new one").status_code == 200  # unchanged: no redirect


def test_tampered_reset_link_is_refused(english, make, app):
    make.user(Role.ENTERPRISE, email="e@example.cn")
    english.post("/account/forgot", data={"email": "e@example.cn"})
    page = english.get(_reset_link(app) + "x", follow_redirects=True).get_data(as_text=True)
    assert "invalid or has already been used" in page


# --- profile ------------------------------------------------------------------------------------

def test_profile_sets_the_preferred_language(client, make, auth):
    user = make.user(Role.RESEARCHER)
    auth.login(user)
    client.post("/account/profile", data={"name": "新名字", "phone": "0595-12345678", "locale": "en"})
    saved = Session.get(User, user.id)
    assert (saved.name, saved.phone, saved.locale) == ("新名字", "0595-12345678", "en")
    assert "Your profile" in client.get("/account/profile").get_data(as_text=True)
    assert Session.scalar(sa.select(AuditLog).where(AuditLog.action == "user.profile")) is not None


def test_profile_needs_a_login(client):
    response = client.get("/account/profile")
    assert response.status_code == 302 and "/account/login" in response.headers["Location"]


class TestSessionsEnd:
    """A copied session or remember-me cookie stops working once its user's sessions are ended."""

    @staticmethod
    def _signed_in(client) -> bool:
        return client.get("/account/profile").status_code == 200

    def _two_devices(self, app, make):
        user = make.user(Role.RESEARCHER, email="s@example.cn")
        laptop, phone = app.test_client(), app.test_client()
        for device in (laptop, phone):
            response = device.post("/account/login", data={"email": "s@example.cn", "password": PASSWORD,
                                                           "remember": "y"})
            assert response.status_code == 302
            assert self._signed_in(device)
        return user, laptop, phone

    def test_logout_ends_every_session_of_the_user(self, app, make):
        _user, laptop, phone = self._two_devices(app, make)
        copied = phone.get_cookie("session").value
        laptop.post("/account/logout")
        assert not self._signed_in(laptop) and not self._signed_in(phone)
        thief = app.test_client()
        thief.set_cookie("session", copied)
        assert not self._signed_in(thief)

    def test_a_password_reset_ends_every_session(self, app, make):
        from matchmaker.accounts import users

        user, laptop, _phone = self._two_devices(app, make)
        with app.test_request_context():
            users.reset_password(users.make_reset_token(user), "a new long passphrase 77")
        assert not self._signed_in(laptop)

    def test_deactivating_ends_sessions_even_after_reactivation(self, app, make):
        from matchmaker.accounts import users

        user, laptop, _phone = self._two_devices(app, make)
        admin = make.user(Role.ADMIN)
        with app.test_request_context():
            users.set_active(admin, user.id, False)
            users.set_active(admin, user.id, True)
        assert not self._signed_in(laptop)

    def test_staff_sign_a_user_out_everywhere_from_the_users_page(self, app, make):
        user, laptop, phone = self._two_devices(app, make)
        make.user(Role.ADMIN, email="admin@example.cn")
        admin = app.test_client()
        assert admin.post("/account/login", data={"email": "admin@example.cn", "password": PASSWORD}).status_code == 302
        page = admin.get("/admin/users?lang=en").get_data(as_text=True)
        assert f'action="/admin/users/{user.id}/sign-out"' in page
        done = admin.post(f"/admin/users/{user.id}/sign-out", follow_redirects=True).get_data(as_text=True)
        assert "has been signed out on every device" in done
        assert not self._signed_in(laptop) and not self._signed_in(phone)
        assert self._signed_in(admin)  # only that user's sessions end
        relogin = laptop.post("/account/login", data={"email": "s@example.cn", "password": PASSWORD})
        assert relogin.status_code == 302 and self._signed_in(laptop)  # the account itself still works
        outsider = app.test_client()  # a researcher cannot sign others out
        outsider.post("/account/login", data={"email": "s@example.cn", "password": PASSWORD})
        assert outsider.post(f"/admin/users/{user.id}/sign-out").status_code == 403
