"""Importing the real Zhibei market files (2,797 results, 1,725 needs) through the upload page."""
from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from matchmaker.reference import INDUSTRY_SECTIONS, division_section
from models import ImportBatch, Job, ListingStatus, ResearchResult, Role, Session, TechNeed
from tests import shared_data
from tests.imports.test_import_files import confirm, upload_and_preview

ZHIBEI = shared_data.DATA / "zhibei"


@pytest.fixture(autouse=True)
def _zhibei_present() -> None:
    shared_data.require(ZHIBEI)


def _records(name: str) -> list[dict]:
    with (ZHIBEI / name).open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _without_text(records: list[dict]) -> int:
    return sum(1 for r in records if not (r.get("name") or "").strip() or not (r.get("context") or "").strip())


def test_real_achievements_import_with_counts_and_mapped_fields(client, staff, university, changed_listings):
    records = _records("achievements.jsonl")
    batch, page = upload_and_preview(client, (ZHIBEI / "achievements.jsonl").read_bytes(), "achievements.jsonl",
                                     university)
    empty = _without_text(records)
    assert (batch.total_rows, batch.invalid_rows) == (len(records), empty)
    assert empty > 0  # rows with no text are expected, and refused
    confirm(client, batch, valid_only=True)
    batch = Session.get(ImportBatch, batch.id)
    assert (batch.status, batch.imported_count, batch.duplicate_count) == ("done", len(records) - empty, 0)
    assert Session.scalar(sa.select(sa.func.count()).select_from(ResearchResult)) == len(records) - empty
    # Each published listing is announced once, so matching embeds and indexes it.
    assert len(changed_listings) == len(set(changed_listings)) == len(records) - empty
    assert {kind for kind, _id in changed_listings} == {"result"}

    first = Session.scalar(sa.select(ResearchResult).where(ResearchResult.external_ref == "zhibei:ach-1-0"))
    assert first.title == "久坐卫士" and first.status == ListingStatus.PUBLISHED
    assert (first.industry_section, first.industry_division) == ("C", "39")  # 计算机、通信和其他电子设备制造
    assert (first.tech_field, first.maturity, first.ip_status) == ("electronic_information", "sample", "know_how")
    assert str(first.published_at.date()) == "2020-03-20"
    assert first.valid_until is not None and first.summary  # a teaser cut from the description
    # Every imported row with a classification got a GB/T 4754 section, and divisions agree with it.
    rows = Session.execute(sa.select(ResearchResult.external_ref, ResearchResult.industry_section,
                                     ResearchResult.industry_division)).all()
    classified = {f"zhibei:{r['id']}" for r in records if r["classification"].strip()}
    assert all(section in INDUSTRY_SECTIONS for ref, section, _ in rows if ref in classified)
    assert all(division_section(division) == section for _, section, division in rows if division)
    assert sum(1 for row in rows if row.industry_division) > len(rows) // 2


def test_real_requirements_import_in_the_background_with_progress_and_no_duplicates(client, staff, enterprise,
                                                                                    make, auth):
    records = _records("requirements.jsonl")
    data = (ZHIBEI / "requirements.jsonl").read_bytes()
    batch, _page = upload_and_preview(client, data, "requirements.jsonl", enterprise, kind="need")
    empty = _without_text(records)
    assert (batch.total_rows, batch.invalid_rows) == (len(records), empty)
    confirm(client, batch, valid_only=True)
    batch = Session.get(ImportBatch, batch.id)
    assert batch.job_id is not None  # more than a couple of hundred rows: a background job
    progress = client.get(f"/jobs/{batch.job_id}").get_json()
    valid = len(records) - empty
    assert (progress["status"], progress["done"], progress["total"], progress["percent"]) == ("done", valid, valid, 100)
    assert progress["result"]["imported"] == valid
    assert Session.scalar(sa.select(sa.func.count()).select_from(TechNeed)) == valid
    need = Session.scalar(sa.select(TechNeed).where(TechNeed.external_ref == "zhibei:req-0"))
    assert need.title == "LED手电筒红外开关改进" and need.industry_section == "C"
    assert need.transfer_modes == ["transfer", "license", "commissioned"]

    again, page = upload_and_preview(client, data, "requirements.jsonl", enterprise, kind="need")
    assert f'id="count-duplicates">{valid}<' in page
    confirm(client, again, valid_only=True)
    again = Session.get(ImportBatch, again.id)
    assert (again.imported_count, again.duplicate_count) == (0, valid)
    assert Session.scalar(sa.select(sa.func.count()).select_from(TechNeed)) == valid

    # The progress is the uploader's and staff's business only.
    auth.login(make.user(Role.ENTERPRISE))
    assert client.get(f"/jobs/{batch.job_id}").status_code == 404
    auth.logout()
    assert client.get(f"/jobs/{batch.job_id}").status_code == 401
    assert Session.get(Job, batch.job_id).created_by_id == staff.id
