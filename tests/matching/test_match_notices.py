"""Notifications people can live with: a per-user setting (instant, daily, weekly, off), digests that
wait for the user's cadence and group matches by listing, and a one-click unsubscribe link in mail."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from matchmaker.core import notifications
from models import Notification, Session, User
from tests.matching.test_matching import BEARING, NEED

SECOND = {**BEARING, "title": "电机轴承振动在线监测装置", "summary": "在线监测电机轴承振动，提前预警故障"}


@pytest.fixture
def mails(app):
    app.config["MAIL_SERVER"] = "smtp.example.cn"  # mail.enabled(); sending goes to the test outbox
    return app.extensions["mail_outbox"]


def _to(mails, user):
    return [m for m in mails if m["To"] == user.email]


def test_one_daily_digest_groups_a_listings_matches_and_later_ones_wait_a_day(publish, mails):
    need = publish("need", **NEED)
    publish("result", **BEARING)
    publish("result", **SECOND)  # two new matches for the same need, as from an import
    assert notifications.send_digest() >= 1
    [mail] = _to(mails, need.owner)
    body = mail.get_content()
    assert body.count(NEED["title"]) == 1  # grouped under the listing once
    assert BEARING["title"] in body and SECOND["title"] in body
    publish("result", **{**BEARING, "title": "旋转设备故障诊断软件"})
    notifications.send_digest()
    assert len(_to(mails, need.owner)) == 1  # the day is not over: the new match waits
    owner = Session.get(User, need.owner_id)
    owner.digest_sent_at -= timedelta(hours=24)
    Session.commit()
    notifications.send_digest()
    assert len(_to(mails, need.owner)) == 2 and "旋转设备故障诊断软件" in _to(mails, need.owner)[1].get_content()


def test_instant_users_are_mailed_at_every_run_weekly_users_once_a_week(publish, mails):
    need = publish("need", **NEED)
    owner = Session.get(User, need.owner_id)
    owner.match_notices = "weekly"
    Session.commit()
    publish("result", **BEARING)
    notifications.send_digest()
    publish("result", **SECOND)
    owner.digest_sent_at -= timedelta(days=3)
    Session.commit()
    notifications.send_digest()
    assert len(_to(mails, owner)) == 1
    owner.match_notices = "instant"
    Session.commit()
    notifications.send_digest()
    assert len(_to(mails, owner)) == 2


def test_the_unsubscribe_link_in_the_mail_turns_notices_off_without_logging_in(client, publish, mails):
    need = publish("need", **NEED)
    publish("result", **BEARING)
    notifications.send_digest()
    link = re.search(r"http://127\.0\.0\.1:5000(/notifications/off/\S+)", _to(mails, need.owner)[0].get_content())
    assert link
    page = client.get(link.group(1) + "?lang=en")
    assert page.status_code == 200 and "will get no more notifications" in page.get_data(as_text=True)
    assert Session.get(User, need.owner_id).match_notices == "off"
    assert client.get("/notifications/off/forged-token").status_code == 404
    publish("result", **SECOND)  # no bell entry and no mail any more
    assert Session.scalar(sa.select(sa.func.count()).select_from(Notification).where(
        Notification.user_id == need.owner_id, Notification.params["other_title"].as_string() == SECOND["title"])) == 0


def test_the_setting_is_on_the_profile_page(client, auth, make):
    user = make.user()
    auth.login(user)
    assert 'name="match_notices"' in client.get("/account/profile").get_data(as_text=True)
    client.post("/account/profile", data={"name": user.name, "locale": "", "match_notices": "weekly"})
    assert Session.get(User, user.id).match_notices == "weekly"
    page = client.post("/account/profile?lang=en", data={"name": user.name, "locale": "", "match_notices": "hourly"})
    assert page.status_code == 200 and Session.get(User, user.id).match_notices == "weekly"
