"""Hostile numbers in forms get a clear answer, never a server error, and save nothing."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from matchmaker.core.form_fields import form_id, form_number
from models import Deal, Introduction, MatchFeedback, Role, Session

HOSTILE = ["abc", "-1", "0", "99999999999999999999", "1e309", " ", "1.5", "NaN", "\x00"]


@pytest.mark.parametrize("text", HOSTILE)
def test_form_id_accepts_only_ids_a_table_can_hold(text):
    assert form_id(text) is None
    assert form_id("42") == 42 and form_id(str(2**31 - 1)) == 2**31 - 1 and form_id(str(2**31)) is None


def test_form_number_refuses_infinite_and_non_numbers():
    assert [form_number(t) for t in ("0.75", "1e309", "nan", "inf", "x", "", None)] == [0.75, None, None, None, None,
                                                                                       None, None]


def _count(model):
    return Session.scalar(sa.select(sa.func.count()).select_from(model))


@pytest.mark.parametrize("value", ["abc", "99999999999999999999", "-5"])
def test_hostile_ids_in_forms_never_cause_a_server_error(client, auth, make, value):
    auth.login(make.user(Role.BROKER))
    answers = [
        client.post("/matches/feedback", data={"need_id": value, "result_id": value, "verdict": "good"}),
        client.post("/deals/new", data={"result_id": value, "need_id": value, "origin": "offline",
                                        "stage": "introduced"}),
    ]
    auth.login(make.user(Role.ENTERPRISE))
    answers.append(client.post("/introductions/request", data={"kind": "result", "listing_id": value,
                                                               "message": "想了解"}))
    assert all(r.status_code < 500 for r in answers), [r.status_code for r in answers]
    assert _count(MatchFeedback) == _count(Deal) == _count(Introduction) == 0
