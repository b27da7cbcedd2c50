"""The fair participant import goes the way of the other imports: the request only keeps the sheet and
queues its reading; the page shows progress, then every row with its errors; staff import all rows, only
the valid ones, or discard the upload. Bad files are refused with a message and nothing is saved."""
from __future__ import annotations

import io
from datetime import timedelta

import pytest
import sqlalchemy as sa

from matchmaker.core import jobs, uploads
from matchmaker.fairs import participant_import
from models import FairParticipant, Job, JobStatus, Session, utcnow
from tests.imports.test_background_reading import queue  # noqa: F401  (jobs held until the test runs them)
from tests.imports.test_import_files import _xlsx_with_sheet

HEADER = ",".join(participant_import.TEMPLATE_HEADER)


def _sheet(world, *rows: list[str]) -> str:
    return "\n".join([HEADER, *(",".join(r) for r in rows)])


def _rows(world) -> list[list[str]]:
    uni, firm = world.researcher.organization.name, world.enterprise.organization.name
    return [["陈研究员", "chen@example.cn", "", "研究员", uni, "成果方", "", "", "上午"],
            ["赵总", "zhao@example.cn", "", "", firm, "需求方", "", "", ""],
            ["钱工", "qian@example.cn", "", "", firm, "enterprise", "", "", "2031-05-20"]]


def _upload(client, world, data: bytes | str, name: str = "participants.csv", validate: bool = False):
    body = data.encode("utf-8") if isinstance(data, str) else data
    form = {"file": (io.BytesIO(body), name)} | ({"validate_all": "y"} if validate else {})
    return client.post(f"/fairs/{world.fair.id}/import?lang=en", data=form, content_type="multipart/form-data")


def _participants() -> int:
    Session.expire_all()
    return Session.scalar(sa.select(sa.func.count()).select_from(FairParticipant))


def _reader() -> Job:
    Session.expire_all()
    return Session.scalar(sa.select(Job).where(Job.kind == participant_import.READ_JOB).order_by(Job.id.desc()))


def test_upload_returns_before_reading_then_progress_preview_confirm(client, auth, world, queue, monkeypatch):  # noqa: F811
    calls: list[str] = []
    real_read = participant_import.read_table

    def read_table(*args, **kwargs):
        calls.append(args[0])
        return real_read(*args, **kwargs)

    monkeypatch.setattr(participant_import, "read_table", read_table)
    auth.login(world.staff)
    response = _upload(client, world, _sheet(world, *_rows(world)), validate=True)
    assert response.status_code == 302
    location = response.headers["Location"]
    # The request kept the file and queued its reading; it parsed nothing.
    assert calls == []
    reader = _reader()
    assert reader.status == JobStatus.QUEUED and uploads.path(reader.params["file"]).exists()
    page = client.get(location + "?lang=en").get_data(as_text=True)
    assert "The file is waiting to be read." in page and '<meta http-equiv="refresh"' in page
    refused = client.post(location + "/confirm", follow_redirects=True).get_data(as_text=True)
    assert "still being read" in refused and _participants() == 2

    pages: list[str] = []
    real_report = jobs.report_progress

    def report(job_id, done, total=None, message=None):
        real_report(job_id, done, total, message)
        if (done, total) == (2, 3) and not pages:
            pages.append(client.get(location + "?lang=en").get_data(as_text=True))

    monkeypatch.setattr(jobs, "report_progress", report)
    monkeypatch.setattr(uploads, "PROGRESS_EVERY", 0)
    queue.run_all()
    assert calls == ["participants.csv"]
    assert "2 / 3 rows read" in pages[0] and '<meta http-equiv="refresh"' in pages[0]
    assert _reader().status == JobStatus.DONE and not uploads.path(reader.params["file"]).exists()

    page = client.get(location + "?lang=en").get_data(as_text=True)
    assert "3 rows: 3 valid, 0 with errors." in page and '<meta http-equiv="refresh"' not in page
    assert "陈研究员" in page and "qian@example.cn" in page and _participants() == 2
    done = client.post(location + "/confirm", follow_redirects=True).get_data(as_text=True)
    assert "3 participants imported." in done and _participants() == 5
    chen = Session.scalar(sa.select(FairParticipant).where(FairParticipant.email == "chen@example.cn"))
    assert chen.status == "validated" and [a.session.name for a in chen.availability] == ["上午"]
    again = client.post(location + "/confirm", follow_redirects=True).get_data(as_text=True)
    assert "already been imported" in again and _participants() == 5


def test_rows_with_errors_are_listed_and_only_the_valid_ones_imported_on_request(client, auth, world):
    auth.login(world.staff)
    client.get("/?lang=en")
    firm = world.enterprise.organization.name
    rows = [*_rows(world)[:2],
            ["吴工", "not-an-email", "", "", firm, "需求方", "", "", ""],
            ["林教授", world.researcher.email, "", "", world.researcher.organization.name, "成果方", "", "", ""],
            ["孙工", "chen@example.cn", "", "", firm, "需求方", "", "", ""],
            ["周工", "zhou@example.cn", "", "", "不存在的单位", "嘉宾", "", "", ""]]
    location = _upload(client, world, _sheet(world, *rows)).headers["Location"]
    page = client.get(location).get_data(as_text=True)
    assert "6 rows: 2 valid, 4 with errors." in page
    assert "Enter a valid email address." in page
    assert f"{world.researcher.email} is already registered for this fair." in page
    assert "The same email is also on row 2." in page
    assert "Unknown organization 不存在的单位." in page and "Unknown participant type 嘉宾." in page
    refused = client.post(location + "/confirm", follow_redirects=True).get_data(as_text=True)
    assert "Some rows have errors, so nothing was saved." in refused and _participants() == 2
    done = client.post(location + "/confirm", data={"valid_only": "y"}, follow_redirects=True)
    assert "2 participants imported." in done.get_data(as_text=True) and _participants() == 4


def test_a_row_taken_since_the_preview_saves_nothing_unless_valid_only(client, auth, world, make):
    auth.login(world.staff)
    client.get("/?lang=en")
    location = _upload(client, world, _sheet(world, *_rows(world))).headers["Location"]
    world.add_person(make, "enterprise", "enterprise", user=make.user("enterprise", email="zhao@example.cn"))
    refused = client.post(location + "/confirm", follow_redirects=True).get_data(as_text=True)
    assert "Row 3 is no longer valid" in refused and _participants() == 3
    client.post(location + "/confirm", data={"valid_only": "y"})
    assert _participants() == 5


@pytest.mark.parametrize(("make_file", "name", "message"), [
    (lambda: _xlsx_with_sheet(b'<row r="2"><c r="A2" t="inlineStr"><is><t>' + b"x" * 150_000_000
                              + b"</t></is></c></row>"), "bomb.xlsx", "unpacks to more than 100 MB"),
    (lambda: b"", "empty.csv", "The file is empty."),
    (lambda: b"name,email\nx,y\n", "notes.txt", ".txt"),
])
def test_files_refused_in_the_request_keep_nothing(client, auth, world, make_file, name, message):
    auth.login(world.staff)
    client.get("/?lang=en")
    response = _upload(client, world, make_file(), name)
    assert response.status_code == 400 and message in response.get_data(as_text=True)
    assert _reader() is None and _participants() == 2


@pytest.mark.parametrize(("make_file", "name", "message"), [
    (lambda world: _xlsx_with_sheet(b'<row r="1048576"><c r="A1048576" t="inlineStr"><is><t>x</t></is></c></row>'),
     "deep.xlsx", "more than 20000 rows"),
    (lambda world: "姓名,电话\n陈研究员,123\n", "columns.csv", "The sheet has no column 邮箱、单位、类型."),
    (lambda world: "姓名,邮箱,单位,类型\n", "header-only.csv", "The file has a header but no rows to import."),
])
def test_files_refused_by_the_reading_say_why_and_keep_nothing(client, auth, world, make_file, name, message):
    auth.login(world.staff)
    client.get("/?lang=en")
    response = _upload(client, world, make_file(world), name)
    assert response.status_code == 302
    reader = _reader()
    assert reader.status == JobStatus.FAILED and not uploads.path(reader.params["file"]).exists()
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert message in page
    client.post(response.headers["Location"] + "/confirm", data={"valid_only": "y"})
    assert _participants() == 2


def test_a_discarded_upload_cannot_be_imported(client, auth, world):
    auth.login(world.staff)
    client.get("/?lang=en")
    location = _upload(client, world, _sheet(world, *_rows(world))).headers["Location"]
    response = client.post(location + "/discard", follow_redirects=True)
    assert "The upload was discarded." in response.get_data(as_text=True)
    assert "This upload was discarded" in client.get(location).get_data(as_text=True)
    refused = client.post(location + "/confirm", follow_redirects=True).get_data(as_text=True)
    assert "This upload was discarded" in refused and _participants() == 2


def test_discarding_while_reading_stops_the_read(client, auth, world, queue):  # noqa: F811
    auth.login(world.staff)
    client.get("/?lang=en")
    location = _upload(client, world, _sheet(world, *_rows(world))).headers["Location"]
    client.post(location + "/discard")
    queue.run_all()
    reader = _reader()
    assert reader.status == JobStatus.FAILED and not uploads.path(reader.params["file"]).exists()
    assert "This upload was discarded" in client.get(location).get_data(as_text=True)
    client.post(location + "/confirm", data={"valid_only": "y"})
    assert _participants() == 2


def test_a_read_over_its_time_limit_or_lost_with_its_worker_is_failed(client, auth, world, app, monkeypatch):
    auth.login(world.staff)
    client.get("/?lang=en")
    monkeypatch.setitem(app.config, "IMPORT_READ_TIME_LIMIT", 0)
    slow = _upload(client, world, _sheet(world, *_rows(world))).headers["Location"]
    assert "took longer than 0 seconds" in client.get(slow).get_data(as_text=True)
    monkeypatch.setitem(app.config, "IMPORT_READ_TIME_LIMIT", 30)
    monkeypatch.setitem(app.config, "JOBS_SYNC", False)
    monkeypatch.setattr(jobs, "dispatch", lambda *args: None)  # no worker takes it up
    killed = _upload(client, world, _sheet(world, *_rows(world))).headers["Location"]
    reader = _reader()
    reader.status, reader.started_at = JobStatus.RUNNING, utcnow() - timedelta(hours=1)
    Session.commit()
    assert participant_import.fail_stale_reads() == 1
    assert "stopped without finishing" in client.get(killed).get_data(as_text=True)
    assert _participants() == 2


def test_another_fairs_preview_is_not_found(client, auth, world, make):
    from tests.fairs.conftest import build_fair

    _staff, other = build_fair(make)
    auth.login(world.staff)
    location = _upload(client, world, _sheet(world, *_rows(world))).headers["Location"]
    job_id = location.rstrip("/").rsplit("/", 1)[1]
    assert client.get(f"/fairs/{other.id}/import/{job_id}").status_code == 404
    assert client.post(f"/fairs/{other.id}/import/{job_id}/confirm").status_code == 404
    assert _participants() == 2
