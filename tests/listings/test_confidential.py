"""A confidential listing never shows its description, contact, patents or owner to outsiders:
not on the detail page, in browse lists, in search results, nor in CSV or XLSX exports."""
from __future__ import annotations

import io

import openpyxl
import pytest

from models import Role

SECRETS = ("绝密工艺参数说明", "13912345678", "secret.contact@corp.cn", "ZL201720001285.X", "张保密")


@pytest.fixture
def secret(make):
    owner = make.user(Role.RESEARCHER)
    listing = make.result(
        owner=owner, title="高导热石墨烯复合散热膜", summary="面向手机散热的复合膜，导热系数高",
        description="绝密工艺参数说明：烧结温度与配比", confidential=True, contact_name="李联系",
        contact_phone="13912345678", contact_email="secret.contact@corp.cn",
        patent_numbers=["ZL201720001285.X"], inventors="张保密", keywords=["石墨烯", "散热"])
    return owner, listing


def _outsiders(make):
    return [None, make.user(Role.ENTERPRISE), make.user(Role.BROKER), make.user(Role.RESEARCHER)]


def _no_secret(text: str) -> None:
    for secret_text in SECRETS:
        assert secret_text not in text


def _pages(client, listing):
    return {
        "detail": client.get(f"/result/{listing.id}").get_data(as_text=True),
        "browse": client.get("/results").get_data(as_text=True),
        "search by title word": client.get("/results?q=石墨烯").get_data(as_text=True),
        "search by secret word": client.get("/results?q=烧结温度").get_data(as_text=True),
    }


def test_outsiders_see_the_teaser_only(client, make, login, secret):
    owner, listing = secret
    for viewer in _outsiders(make):
        login(viewer)
        pages = _pages(client, listing)
        assert listing.title in pages["detail"] and "面向手机散热" in pages["detail"]
        assert "teaser-lock" in pages["detail"]
        assert listing.title in pages["browse"] and listing.title in pages["search by title word"]
        # Searching a word that appears only in the confidential description must not find it.
        assert listing.title not in pages["search by secret word"]
        assert owner.organization.name not in pages["detail"]
        for page in pages.values():
            _no_secret(page)


def test_owner_and_staff_see_everything(client, make, login, secret):
    owner, listing = secret
    for viewer in (owner, make.user(Role.STAFF)):
        login(viewer)
        page = client.get(f"/result/{listing.id}").get_data(as_text=True)
        for secret_text in SECRETS:
            assert secret_text in page


def test_owner_preview_shows_what_outsiders_see(client, login, secret):
    owner, listing = secret
    login(owner)
    page = client.get(f"/result/{listing.id}/preview").get_data(as_text=True)
    assert "teaser-lock" in page
    _no_secret(page)


def _csv(client) -> str:
    response = client.get("/export/result?format=csv")
    assert response.status_code == 200
    assert response.data.startswith(b"\xef\xbb\xbf")  # BOM: Excel then reads UTF-8 Chinese correctly
    return response.data.decode("utf-8-sig")


def _xlsx(client, **args) -> list[list]:
    response = client.get("/export/result", query_string={"format": "xlsx", **args})
    assert response.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(response.data)).active
    return [[cell.value for cell in row] for row in sheet.iter_rows()]


def _xlsx_text(rows: list[list]) -> str:
    return "\n".join("\t".join("" if v is None else str(v) for v in row) for row in rows)


def test_exports_blank_confidential_fields_for_outsiders(client, make, login, secret):
    _owner, listing = secret
    make.result(title="公开成果", description="公开的详细描述", contact_phone="0595-22334455")
    login(make.user(Role.ENTERPRISE))
    csv_text = _csv(client)
    rows = _xlsx(client)
    for text in (csv_text, _xlsx_text(rows)):
        assert listing.title in text and "公开的详细描述" in text and "0595-22334455" in text
        _no_secret(text)
    assert len(rows) == 3  # header + two published results


def test_exports_keep_details_for_the_owner(client, login, secret):
    owner, _listing = secret
    login(owner)
    for text in (_csv(client), _xlsx_text(_xlsx(client))):
        for secret_text in SECRETS:
            assert secret_text in text


def test_export_follows_the_filters_and_localizes_headers(client, make, login, english):
    make.result(title="石墨烯散热膜", keywords=["石墨烯"])
    make.result(title="番茄采摘机器人", industry_section="A", industry_division="01")
    login(make.user(Role.ENTERPRISE))
    rows = _xlsx(client, q="石墨烯")
    assert [r[1] for r in rows[1:]] == ["石墨烯散热膜"]
    assert rows[0][:2] == ["ID", "Title"]


def test_export_headers_are_chinese_by_default(client, make, login):
    make.result(title="石墨烯散热膜")
    login(make.user(Role.ENTERPRISE))
    assert _csv(client).splitlines()[0].startswith("编号,标题,公开简介")
