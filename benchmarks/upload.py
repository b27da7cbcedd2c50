"""Time the listings-import upload POST for the largest workbook the caps accept, and print one JSON line.

Builds an .xlsx of IMPORT_MAX_ROWS (20,000) rows of real Zhibei research results in the market's own
columns (long Chinese descriptions, cycled, each row with its own id), checks it is within the upload
caps (MAX_CONTENT_LENGTH, XLSX_MAX_UNPACKED), then posts it to /admin/imports/ as a staff user on a
throw-away PostgreSQL database with background jobs in a thread of this process (as under `make run`).
Reports the request's own time (`request_seconds`) and the time until the preview is ready
(`preview_seconds`, the same as the request when the file is parsed in the request).
Run from the repository root: python benchmarks/upload.py [--rows 20000] [--runs 3]
"""
from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import time
import uuid
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_env import create_database, drop_database  # noqa: E402

import models  # noqa: E402
from matchmaker import create_app  # noqa: E402
from models import ImportBatch, ImportStatus, Organization, OrgKind, Role, Session, User  # noqa: E402
from models.base import Base  # noqa: E402

ZHIBEI = ROOT.parent / "shared" / "data" / "zhibei" / "achievements.jsonl"
COLUMNS = ("id", "name", "context", "classification", "zlxx", "maturity", "cooperationMethod", "price",
           "industry", "postTime")
WAITING = {"uploaded", "reading", "queued_read"}  # states before the preview, whatever this version calls them


def workbook(rows: int) -> bytes:
    from openpyxl import Workbook

    records = [json.loads(line) for line in ZHIBEI.open(encoding="utf-8")]
    records = [r for r in records if r.get("name") and r.get("context")]
    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(list(COLUMNS))
    for n in range(rows):
        record = records[n % len(records)]
        sheet.append([f"bench-{n}", f"{record['name']}（{n}）"] + [str(record.get(c) or "") for c in COLUMNS[2:]])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def run(rows: int, runs: int) -> dict[str, object]:
    from matchmaker.imports import formats

    data = workbook(rows)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        unpacked = sum(entry.file_size for entry in archive.infolist())
    url = create_database()
    upload_dir = Path(os.environ.get("TMPDIR", "/tmp")) / f"mm-bench-uploads-{uuid.uuid4().hex[:6]}"
    try:
        Base.metadata.create_all(models.db.get_engine(url))
        app = create_app({"DATABASE_URL": url, "REDIS_URL": None, "WTF_CSRF_ENABLED": False,
                          "RATELIMIT_ENABLED": False, "SECRET_KEY": "bench", "IMPORT_UPLOAD_DIR": str(upload_dir)})
        assert len(data) <= app.config["MAX_CONTENT_LENGTH"] and unpacked <= formats.XLSX_MAX_UNPACKED
        assert rows <= app.config["IMPORT_MAX_ROWS"]
        request_times, preview_times = [], []
        with app.app_context():
            org = Organization(name="基准测试大学", kind=OrgKind.UNIVERSITY, entity_type="022", region="350500",
                               verified=True)
            bureau = Organization(name="基准测试科技局", kind=OrgKind.BUREAU, entity_type="150", region="350500",
                                  verified=True)
            staff = User(email="bench-staff@example.cn", name="基准", role=Role.STAFF, organization=bureau,
                         password_hash="x")
            Session.add_all([org, bureau, staff])
            Session.commit()
            org_id, staff_id = org.id, staff.get_id()
            client = app.test_client()
            with client.session_transaction() as sess:
                sess["_user_id"], sess["_fresh"] = staff_id, True
            for _ in range(runs):
                form = {"kind": "result", "listing_status": "published", "organization_id": str(org_id),
                        "file": (io.BytesIO(data), "largest.xlsx")}
                started = time.perf_counter()
                response = client.post("/admin/imports/", data=form, content_type="multipart/form-data")
                request_times.append(time.perf_counter() - started)
                assert response.status_code == 302, response.get_data(as_text=True)[-1000:]
                batch_id = int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])
                while True:
                    Session.rollback()
                    status = Session.get(ImportBatch, batch_id).status
                    if status not in WAITING:
                        break
                    time.sleep(0.25)  # the reading thread shares this process
                preview_times.append(time.perf_counter() - started)
                batch = Session.get(ImportBatch, batch_id)
                assert status == ImportStatus.PREVIEW and batch.total_rows == rows, (status, batch.message)
        return {"name": "upload", "rows": rows, "file_bytes": len(data), "unpacked_bytes": unpacked, "runs": runs,
                "request_seconds": round(statistics.median(request_times), 3),
                "request_seconds_all": [round(t, 3) for t in request_times],
                "preview_seconds": round(statistics.median(preview_times), 2),
                "load_1min": round(os.getloadavg()[0], 2)}
    finally:
        drop_database(url)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    print(json.dumps(run(args.rows, args.runs)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
