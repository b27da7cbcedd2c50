"""What the benchmarks that run the real stack share: a fresh PostgreSQL database, per-process memory
from /proc, and a server process to start and stop."""
from __future__ import annotations

import os
import signal
import subprocess
import uuid
from pathlib import Path

import sqlalchemy as sa

import models

PG_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def create_database(prefix: str = "mm_bench") -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def drop_database(url: str) -> None:
    models.db.dispose_all()
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))
    admin.dispose()


def memory_mb(pid: int) -> dict[str, float]:
    """Resident, proportional and private memory of one process (MB), from /proc/<pid>/smaps_rollup.

    `private` is what the process alone holds; `shared` what it shares with others (page cache of
    memory-mapped index files, pages inherited from a fork)."""
    fields: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            fields[name.strip()] = int(parts[0])
    private = fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0)
    shared = fields.get("Shared_Clean", 0) + fields.get("Shared_Dirty", 0)
    return {"rss": round(fields.get("Rss", 0) / 1024, 1), "pss": round(fields.get("Pss", 0) / 1024, 1),
            "private": round(private / 1024, 1), "shared": round(shared / 1024, 1)}


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def stop_group(process: subprocess.Popen[bytes] | None, timeout: float = 60) -> None:
    """SIGTERM a process started with start_new_session=True and its children; SIGKILL if it lingers."""
    if process is None or process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(30)
