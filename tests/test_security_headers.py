"""Headers every page carries, NUL characters refused with a clear message, per-install secret keys."""
from __future__ import annotations

import sqlalchemy as sa

from matchmaker import config as settings
from models import ResearchResult, Role, Session


def test_every_page_refuses_framing_and_sniffing(client):
    response = client.get("/")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert "Strict-Transport-Security" not in response.headers  # only in production, behind HTTPS
    # Scripts only from the site's own files: an injected <script> or onerror= does not run.
    script_src = next(d for d in response.headers["Content-Security-Policy"].split(";") if "script-src" in d)
    assert script_src.split() == ["script-src", "'self'"]


def test_a_nul_character_in_a_form_is_refused_with_a_clear_message_and_nothing_is_saved(client, auth, make):
    auth.login(make.user(Role.RESEARCHER))
    before = Session.scalar(sa.select(sa.func.count()).select_from(ResearchResult))
    response = client.post("/result/new?lang=en", data={"title": "轴承\x00故障", "summary": "x"})
    assert response.status_code == 400
    assert "invalid character (NUL)" in response.get_data(as_text=True)
    assert Session.scalar(sa.select(sa.func.count()).select_from(ResearchResult)) == before


def test_development_without_a_secret_key_gets_a_random_one_per_install(tmp_path, monkeypatch):
    monkeypatch.setattr(settings, "VAR_DIR", tmp_path)
    first = settings._install_secret()
    assert len(first) == 64 and first == settings._install_secret()  # made once, then reused
    monkeypatch.setattr(settings, "VAR_DIR", tmp_path / "other")
    assert settings._install_secret() != first
