"""Uploading tables of results and needs: what is read, what is refused, and that refusals save nothing."""
from __future__ import annotations

import io
import json
import re

import pytest
import sqlalchemy as sa
from openpyxl import Workbook

from models import ImportBatch, ImportStatus, ListingStatus, ResearchResult, Role, Session, TechNeed

RESULT_CSV = (
    "标题,简介,详细描述,行业,技术领域,成熟度,知识产权,合作方式,价格（万元）,地区,关键词\n"
    "振动监测预测性维护系统,设备坏了才修太被动：提前预警,基于振动信号的故障预测,制造业——通用设备制造业,"
    "先进制造,通过中试,发明专利（已授权）,技术转让、技术许可,80,泉州市,振动监测；预测性维护\n"
    "石墨烯导热膜,高导热柔性膜,,制造业——计算机、通信和其他电子设备制造业,新材料及其应用,已有样品,,合作开发,面议,,\n"
    ",没有标题的一行,说明,,,,,,,,\n"
)


def _count(model) -> int:
    return Session.scalar(sa.select(sa.func.count()).select_from(model))


def upload(client, data: bytes, filename: str, org=None, kind="result", status="published"):
    form = {"kind": kind, "listing_status": status, "organization_id": str(org.id) if org else "",
            "file": (io.BytesIO(data), filename)}
    return client.post("/admin/imports/", data=form, content_type="multipart/form-data")


def upload_and_preview(client, data: bytes, filename: str, org=None, kind="result", status="published"):
    response = upload(client, data, filename, org, kind, status)
    assert response.status_code == 302, response.get_data(as_text=True)[-2000:]
    batch_id = int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    return Session.get(ImportBatch, batch_id), client.get(response.headers["Location"]).get_data(as_text=True)


def refused_in_request(client, data: bytes, filename: str, org=None, kind="result") -> str:
    """Refused while the uploader waits (checks that cost nothing): the upload form again, nothing kept."""
    response = upload(client, data, filename, org, kind)
    assert response.status_code == 200
    assert _count(ImportBatch) == 0 and _count(ResearchResult) == 0
    return response.get_data(as_text=True)


def refused_by_reading(client, data: bytes, filename: str, org=None, kind="result") -> str:
    """Refused by the job that reads the file: its page tells why; no row kept, no listing, no file left."""
    from matchmaker.imports import importer

    response = upload(client, data, filename, org, kind)
    assert response.status_code == 302
    batch = Session.scalar(sa.select(ImportBatch))
    assert (batch.status, batch.rows, batch.total_rows) == (ImportStatus.READ_FAILED, [], 0)
    assert _count(ResearchResult) == 0 and not importer.upload_path(batch).exists()
    return client.get(response.headers["Location"]).get_data(as_text=True)


def confirm(client, batch, valid_only=False):
    data = {"valid_only": "y"} if valid_only else {}
    return client.post(f"/admin/imports/{batch.id}/confirm", data=data, follow_redirects=True)


def test_preview_shows_counts_rows_and_per_row_errors_and_saves_no_listing(client, staff, university):
    batch, page = upload_and_preview(client, RESULT_CSV.encode(), "fair.csv", university)
    assert (batch.total_rows, batch.valid_rows, batch.invalid_rows) == (3, 2, 1)
    assert "振动监测预测性维护系统" in page and "石墨烯导热膜" in page
    assert [(e["row"], e["column"]) for e in batch.row_errors] == [(4, "标题")]
    assert 'class="row-errors"' in page
    assert _count(ResearchResult) == 0


def test_csv_values_are_mapped_onto_listing_fields(client, staff, university):
    batch, _page = upload_and_preview(client, RESULT_CSV.encode(), "fair.csv", university)
    confirm(client, batch, valid_only=True)
    first = Session.scalar(sa.select(ResearchResult).where(ResearchResult.title == "振动监测预测性维护系统"))
    assert (first.industry_section, first.industry_division) == ("C", "34")
    assert (first.tech_field, first.maturity, first.trl, first.ip_status) == (
        "advanced_manufacturing", "pilot", 7, "invention_granted")
    assert first.transfer_modes == ["transfer", "license"]
    assert first.price_fen == 80 * 10_000 * 100  # the header says 万元
    assert first.region == "350500" and first.keywords == ["振动监测", "预测性维护"]
    assert first.status == ListingStatus.PUBLISHED and first.organization_id == university.id
    second = Session.scalar(sa.select(ResearchResult).where(ResearchResult.title == "石墨烯导热膜"))
    assert second.price_fen is None  # 面议
    assert second.summary == "高导热柔性膜"


def test_a_file_with_errors_imports_nothing_unless_valid_only_is_ticked(client, staff, university):
    client.get("/?lang=en")
    batch, _page = upload_and_preview(client, RESULT_CSV.encode(), "fair.csv", university)
    refused = confirm(client, batch).get_data(as_text=True)
    assert "1 rows have errors, so nothing was imported" in refused
    assert _count(ResearchResult) == 0
    done = confirm(client, batch, valid_only=True).get_data(as_text=True)
    assert _count(ResearchResult) == 2
    assert Session.get(ImportBatch, batch.id).imported_count == 2
    assert 'id="count-imported">2<' in done


def test_reimporting_the_same_file_skips_duplicates(client, staff, university):
    batch, _ = upload_and_preview(client, RESULT_CSV.encode(), "fair.csv", university)
    confirm(client, batch, valid_only=True)
    again, page = upload_and_preview(client, RESULT_CSV.encode(), "fair.csv", university)
    assert 'id="count-duplicates">2<' in page
    confirm(client, again, valid_only=True)
    again = Session.get(ImportBatch, again.id)
    assert (again.imported_count, again.duplicate_count) == (0, 2)
    assert _count(ResearchResult) == 2


def test_drafts_and_gb18030_csv_and_organization_column(client, staff, enterprise, changed_listings):
    text = ("需求名称,需求描述,需求单位,预算,截止日期\n"
            "注塑件缺陷自动检测,想用机器视觉替代人工目检,海峡智能装备有限公司,50-80万元,2099-12-31\n")
    batch, _ = upload_and_preview(client, text.encode("gb18030"), "needs.csv", None, kind="need", status="draft")
    assert batch.invalid_rows == 0
    confirm(client, batch)
    need = Session.scalar(sa.select(TechNeed))
    assert need.title == "注塑件缺陷自动检测" and need.organization_id == enterprise.id
    assert (need.budget_min_fen, need.budget_max_fen) == (50_000_000, 80_000_000)
    assert need.status == ListingStatus.DRAFT and need.published_at is None
    assert changed_listings == []  # drafts are not matched until they are published
    assert str(need.deadline) == "2099-12-31"


def test_unknown_organization_in_the_file_is_a_row_error(client, staff, enterprise):
    text = "title,description,organization\nA need,Some text,No Such Company Ltd\n"
    batch, page = upload_and_preview(client, text.encode(), "needs.csv", None, kind="need")
    assert batch.invalid_rows == 1
    assert "No Such Company Ltd" in page


def test_xlsx_with_english_headers(client, staff, university):
    book = Workbook()
    sheet = book.active
    sheet.append(["Title", "Summary", "Industry", "Maturity", "TRL", "Price (yuan)"])
    sheet.append(["Solid-state battery electrolyte", "Sulfide electrolyte with high conductivity", "C38",
                  "Pilot-scale trial passed", 6, 1500000])
    buffer = io.BytesIO()
    book.save(buffer)
    batch, _ = upload_and_preview(client, buffer.getvalue(), "results.xlsx", university)
    assert batch.invalid_rows == 0, batch.row_errors
    confirm(client, batch)
    result = Session.scalar(sa.select(ResearchResult))
    assert (result.industry_section, result.industry_division) == ("C", "38")
    assert (result.maturity, result.trl, result.price_fen, result.language) == ("pilot", 6, 150_000_000, "en")


def _xlsx_with_sheet(sheet_rows: bytes, extra: dict[str, bytes] | None = None) -> bytes:
    """A real workbook whose first sheet's XML is replaced: how hostile files are made."""
    import zipfile

    source = zipfile.ZipFile(io.BytesIO(_xlsx_bytes([["title", "summary"], ["A", "B"]])))
    sheet = (b'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/'
             b'spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>title</t></is></c>'
             b'<c r="B1" t="inlineStr"><is><t>summary</t></is></c></row>' + sheet_rows + b"</sheetData></worksheet>")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for entry in source.infolist():
            archive.writestr(entry.filename, sheet if entry.filename == "xl/worksheets/sheet1.xml"
                             else source.read(entry.filename))
        for name, content in (extra or {}).items():
            archive.writestr(name, content)
    return out.getvalue()


def _xlsx_bytes(rows) -> bytes:
    book = Workbook()
    for row in rows:
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


HOSTILE_XLSX = {
    # ~300 KB that unpacks to 150 MB: refused from the zip directory, before any XML is parsed, in the request.
    "unpacks to gigabytes": (lambda: _xlsx_with_sheet(b'<row r="2"><c r="A2" t="inlineStr"><is><t>'
                                                        + b"x" * 150_000_000 + b"</t></is></c></row>"),
                             "unpacks to more than 100 MB", "request"),
    # One cell at the last row: openpyxl would hand back a million blank rows one by one.
    "a cell at row 1,048,576": (lambda: _xlsx_with_sheet(b'<row r="1048576"><c r="A1048576" t="inlineStr">'
                                                         b"<is><t>x</t></is></c></row>"), "more than 20000 rows",
                                "reading"),
    # A value in column XFD: every row would be padded to 16,384 cells.
    "a value 16,384 columns out": (lambda: _xlsx_bytes([["title", "summary"], ["A", "B"] + [None] * 16381 + ["x"]]),
                                   "16384 columns wide", "reading"),
}


@pytest.mark.parametrize("case", HOSTILE_XLSX, ids=list(HOSTILE_XLSX))
def test_hostile_workbooks_are_refused_with_a_message_and_nothing_saved(client, staff, university, case):
    make_file, message, where = HOSTILE_XLSX[case]
    client.get("/?lang=en")
    refused = refused_in_request if where == "request" else refused_by_reading
    assert message in refused(client, make_file(), "results.xlsx", university)


def test_excel_unicode_text_and_utf16_csv_exports_are_read(client, staff, university):
    # Excel's "Unicode Text" export: UTF-16 with a byte-order mark, tab-separated.
    text = "标题\t简介\n振动监测预测性维护系统\t设备坏了才修太被动\n"
    for encoding, name in (("utf-16", "results.csv"), ("utf-16-be", "results.csv")):
        data = text.encode(encoding) if encoding == "utf-16" else b"\xfe\xff" + text.encode(encoding)
        batch, page = upload_and_preview(client, data, name, university)
        assert batch.total_rows == 1 and batch.invalid_rows == 0, batch.row_errors
        assert "振动监测预测性维护系统" in page


def test_a_sheet_that_declares_no_range_is_read_no_wider_than_the_cap(client, staff, university):
    # 3,000 rows each with a blank cell in column XFD and no <dimension>: read 200 cells wide, not 16,384.
    rows = b"".join(b'<row r="%d"><c r="A%d" t="inlineStr"><is><t>Title %d</t></is></c><c r="B%d" t="inlineStr">'
                    b'<is><t>Summary %d</t></is></c><c r="XFD%d"/></row>' % (n, n, n, n, n, n) for n in range(2, 3002))
    batch, _page = upload_and_preview(client, _xlsx_with_sheet(rows), "results.xlsx", university)
    assert batch.total_rows == 3000 and batch.invalid_rows == 0


BROKEN_FILES = {
    # Refused in the request: the extension, an empty file, a zip that is no workbook.
    "wrong extension": (b"title,summary\nA,B\n", "results.txt", "cannot be imported"),
    "old excel format": (b"\xd0\xcf\x11\xe0 not really", "results.xls", "cannot be imported"),
    "empty": (b"", "results.csv", "The file is empty."),
    "only blank lines": (b"\n\n  \n", "results.jsonl", "The file is empty."),
    "not really xlsx": (b"PK\x03\x04 garbage", "results.xlsx", "not a readable Excel"),
    # Refused by the job that reads the file.
    "header only": (b"title,summary\n", "results.csv", "no rows to import"),
    "malformed csv": (b'title,summary\n"A"B,C\n', "results.csv", "malformed"),
    "malformed jsonl": (b'{"name": "A"}\n{"name": "C", \n', "results.jsonl", "Line 2 is not valid JSON"),
    "jsonl of lists": (b'["A", "B"]\n', "results.jsonl", "Line 1 is not a JSON object"),
    "utf-16 without a byte-order mark": ("title,summary\n标题,简介\n".encode("utf-16-le"), "results.csv",
                                         "encoding"),
    "missing columns": ("名称,联系人\nA,B\n".encode(), "results.csv", "no column for"),
    "missing title column": (_xlsx_bytes([["summary"], ["text"]]), "results.xlsx", "no column for"),
}
REFUSED_IN_REQUEST = ("wrong extension", "old excel format", "empty", "only blank lines", "not really xlsx")


@pytest.mark.parametrize("case", BROKEN_FILES, ids=list(BROKEN_FILES))
def test_broken_files_are_refused_with_a_message_and_nothing_saved(client, staff, university, case):
    data, filename, message = BROKEN_FILES[case]
    client.get("/?lang=en")
    refused = refused_in_request if case in REFUSED_IN_REQUEST else refused_by_reading
    assert message in refused(client, data, filename, university)


class TestLimits:
    @pytest.fixture
    def app_config(self, app_config):
        return {**app_config, "IMPORT_MAX_ROWS": 5, "MAX_CONTENT_LENGTH": 4096}

    def test_too_many_rows(self, client, staff, university):
        client.get("/?lang=en")
        text = "title,summary\n" + "".join(f"成果{i},简介{i}\n" for i in range(6))
        assert "more than 5 rows" in refused_by_reading(client, text.encode(), "results.csv", university)

    def test_huge_file_gets_a_friendly_413(self, client, staff, university):
        client.get("/?lang=en")
        data = b"title,summary\n" + b"x,y\n" * 3000
        response = upload(client, data, "results.csv", university)
        assert response.status_code == 413
        page = response.get_data(as_text=True)
        assert "larger than" in page and "<form" in page
        assert _count(ImportBatch) == 0


def test_organization_must_fit_the_kind_of_listing(client, staff, enterprise):
    client.get("/?lang=en")
    assert "is not a university or institute" in refused_in_request(client, RESULT_CSV.encode(), "fair.csv",
                                                                    enterprise)


def test_file_without_organization_column_needs_one_chosen(client, staff, university):
    client.get("/?lang=en")
    assert "Choose the organization" in refused_by_reading(client, RESULT_CSV.encode(), "fair.csv", None)


@pytest.mark.parametrize("role", [Role.RESEARCHER, Role.ENTERPRISE, Role.BROKER])
def test_only_staff_may_import(client, make, auth, role, university):
    auth.login(make.user(role))
    assert client.get("/admin/imports/").status_code == 403
    assert upload(client, RESULT_CSV.encode(), "fair.csv", university).status_code == 403
    assert _count(ImportBatch) == 0


def test_command_line_import(runner, university, tmp_path):
    path = tmp_path / "results.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in [
        {"name": "久坐卫士", "context": "利用光来监测坐姿与呼吸率。", "classification": "制造业", "id": "ach-x"},
        {"name": "空白成果", "context": "", "id": "ach-y"},
    ]), encoding="utf-8")
    args = ["import-listings", "--kind", "result", "--organization", university.name, str(path)]
    refused = runner.invoke(args=args)
    assert refused.exit_code == 1 and json.loads(refused.output.splitlines()[0])["imported"] == 0
    result = runner.invoke(args=[*args, "--valid-only"])
    report = json.loads(result.output)
    assert (report["imported"], report["invalid"]) == (1, 1)
    assert Session.scalar(sa.select(ResearchResult.external_ref)) == "zhibei:ach-x"


ROUND_TRIP_FIELDS = {
    "result": ("title", "summary", "description", "keywords", "industry_section", "industry_division", "tech_field",
               "transfer_modes", "region", "maturity", "trl", "ip_status", "patent_numbers", "price_fen", "inventors",
               "contact_name", "contact_phone", "contact_email", "valid_until", "organization_id"),
    "need": ("title", "summary", "description", "industry_section", "industry_division", "transfer_modes",
             "budget_min_fen", "budget_max_fen", "min_maturity", "deadline", "organization_id"),
}


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("kind", ["result", "need"])
def test_our_own_export_imports_back_in_either_language(client, staff, university, enterprise, make, kind, lang):
    from datetime import date

    from matchmaker.listings import exports
    from matchmaker.listings.lifecycle import view_for

    owner = make.user(Role.RESEARCHER if kind == "result" else Role.ENTERPRISE,
                      organization=university if kind == "result" else enterprise)
    common = {"title": "振动监测预测性维护", "summary": "提前预警设备故障", "description": "基于振动信号。",
              "keywords": ["振动", "PHM"], "industry_section": "C", "industry_division": "34",
              "transfer_modes": ["license", "co_develop"], "region": "350500", "contact_name": "林老师",
              "contact_phone": "0595-22190000", "contact_email": "lin@example.cn", "valid_until": date(2099, 1, 1)}
    if kind == "result":
        original = make.result(owner, **common, tech_field="advanced_manufacturing", maturity="pilot", trl=7,
                               ip_status="invention_granted", patent_numbers=["ZL201720001285.X"],
                               price_fen=80_000_000, inventors="林一、陈二")
    else:
        original = make.need(owner, **{**common, "tech_field": None}, budget_min_fen=50_000_000,
                             budget_max_fen=80_000_000, min_maturity="pilot_small", deadline=date(2099, 6, 30))
    with client.application.test_request_context(f"/?lang={lang}"):
        cols = exports.columns(kind)
        headers = [str(header) for header, _getter in cols]
        row = [getter(view_for(original, staff), lang) for _header, getter in cols]
    client.get(f"/?lang={lang}")
    batch, _page = upload_and_preview(client, exports.to_csv(headers, [row]), f"export-{lang}.csv", None, kind=kind)
    assert batch.invalid_rows == 0, batch.row_errors
    confirm(client, batch)
    model = ResearchResult if kind == "result" else TechNeed
    copy = Session.scalar(sa.select(model).where(model.id != original.id))
    for field in ROUND_TRIP_FIELDS[kind]:
        assert getattr(copy, field) == getattr(original, field), field


def test_with_rows_in_error_the_import_button_waits_for_the_valid_rows_box(client, staff, university):
    batch, page = upload_and_preview(client, RESULT_CSV.encode(), "fair.csv", university)
    button = re.search(r'<button type="submit"[^>]*>[^<]*</button>', page[page.index("confirm-import"):]).group(0)
    box = re.search(r'<input[^>]*name="valid_only"[^>]*>', page).group(0)
    box_id = re.search(r'id="([^"]+)"', box).group(1)
    # static/js/site.js keeps it disabled until that box is ticked; without JavaScript the server explains.
    assert f'data-needs-check="{box_id}"' in button and " disabled" not in button
    assert 'id="import-needs-check"' in page
