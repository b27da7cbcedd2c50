"""The running base: home page in both languages, error pages, configuration rules."""
from __future__ import annotations

import pytest

from matchmaker import create_app
from matchmaker.config import ConfigError


def test_home_page_speaks_chinese_by_default(client):
    page = client.get("/").get_data(as_text=True)
    assert "最新科技成果" in page
    assert 'lang="zh-CN"' in page


def test_language_switch_to_english_sticks(client):
    page = client.get("/?lang=en").get_data(as_text=True)
    assert "Latest research results" in page
    # The choice is remembered for the next page without the parameter.
    assert "Latest research results" in client.get("/").get_data(as_text=True)


def test_unknown_page_is_a_friendly_404_in_html_and_json(client):
    html = client.get("/no/such/page")
    assert html.status_code == 404 and "不存在" in html.get_data(as_text=True)
    api = client.get("/api/no/such/thing")
    assert api.status_code == 404 and api.get_json()["status"] == 404


def test_production_refuses_to_start_without_secret_key(database_url):
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app({"ENV": "production", "SECRET_KEY": None, "DATABASE_URL": database_url})


def test_postgres_url_is_given_the_psycopg_driver(database_url):
    app = create_app({"DATABASE_URL": "postgres://u@localhost/db"})
    assert app.config["DATABASE_URL"] == "postgresql+psycopg://u@localhost/db"


def test_money_is_formatted_for_each_locale(app):
    from matchmaker.core.i18n import format_money

    assert format_money(1_250_000_00, "zh") == "¥125万元"
    assert format_money(3_000_000_000_00, "zh") == "¥30亿元"
    assert format_money(123_456, "en") == "¥1,234.56"
    assert format_money(None, "zh", "面议") == "面议"
