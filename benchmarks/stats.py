"""Benchmark the statistics dashboard on PostgreSQL with 100,000 contracts and print one JSON line.

Creates a throw-away database, loads the contracts with COPY and recounts the monthly summary (as
after any bulk load around the contracts service), checks the dashboard against sums over the
contracts, runs the dashboard's service functions (every table and the funnel, for one year) N
times, then times contracts saved through the service (which keeps the summary), and drops the
database. Needs PostgreSQL at TEST_POSTGRES_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/postgres).
Run from the repository root: python benchmarks/stats.py [--contracts 100000] [--runs 30] [--writes 50]
The machine is shared: the JSON line carries the 1-minute load average before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa  # noqa: E402

ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
FIRST_DAY = date(2025, 1, 1)
DAYS = 730  # two years: the dashboard's year holds about half the rows
REGIONS = ["350500", "350502", "350100", "350200", "330100", "320500", "440300", "110108"]
ENTITY_TYPES = ["022", "021", "150", "160", "170", "400"]
COLUMNS = ("version", "contract_type", "contract_subtype", "project_name", "registration_number", "signing_date",
           "valid_from", "valid_until", "amount_fen", "tech_amount_fen", "payment_mode", "ip_type", "tech_field",
           "seller_name", "seller_entity_type", "seller_region", "seller_party_type", "buyer_name",
           "buyer_entity_type", "buyer_region", "fair_id", "source", "created_at", "updated_at")


def rows(n: int, fair_ids: list[int], seed: int = 7):
    from matchmaker import reference

    rng = random.Random(seed)
    types = reference.CONTRACT_TYPES.codes
    fields = reference.TECH_FIELDS.codes
    sellers = [f"机构{i}" for i in range(400)]
    now = "2026-11-01 00:00:00+00"
    for i in range(n):
        ctype = rng.choice(types)
        signed = FIRST_DAY + timedelta(days=rng.randrange(DAYS))
        amount = rng.randint(10_000, 5_000_000) * 100
        entity = rng.choice(ENTITY_TYPES)
        yield (1, ctype, rng.choice(reference.subtypes_of(ctype)), f"项目{i}",
               f"{signed.year}350500A{i:07d}" if rng.random() < 0.8 else None, signed, signed,
               signed + timedelta(days=365), amount, int(amount * rng.uniform(0.6, 1.0)),
               rng.choice(reference.PAYMENT_MODES.codes), "patent", rng.choice(fields), rng.choice(sellers), entity,
               rng.choice(REGIONS), reference.party_type(entity), f"企业{rng.randrange(2000)}", "150",
               rng.choice(REGIONS), rng.choice(fair_ids) if rng.random() < 0.2 else None, "import", now, now)


def load(url: str, n: int) -> None:
    import models
    from models.base import Base

    engine = models.db.get_engine(url)
    Base.metadata.create_all(engine)
    with engine.begin() as conn:
        fair_ids = [conn.execute(sa.text(
            "INSERT INTO fairs (name, venue, description, start_date, end_date, meeting_minutes, "
            "request_expiry_hours, participant_types, status, created_at, updated_at) VALUES "
            "(:name, '', '', :day, :day, 20, 72, '[]', 'finished', now(), now()) RETURNING id"),
            {"name": f"对接会{k}", "day": FIRST_DAY + timedelta(days=60 * k)}).scalar_one() for k in range(12)]
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        with cur.copy(f"COPY contracts ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for row in rows(n, fair_ids):
                copy.write_row(row)
        raw.commit()
    finally:
        raw.close()
    # A live database is vacuumed by autovacuum; without it no index-only scan is possible.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE contracts"))


def check(board, scope) -> None:
    """The timed dashboard must show the contracts' own sums: compare the year's total and the
    table by contract type with a GROUP BY over the contracts."""
    from models import Contract, Session

    start, end = scope.bounds()
    stmt = (sa.select(Contract.contract_type, sa.func.count(), sa.func.sum(Contract.amount_fen),
                      sa.func.sum(Contract.tech_amount_fen))
            .where(Contract.signing_date >= start, Contract.signing_date < end).group_by(Contract.contract_type))
    raw = {k: (int(n), int(a), int(t)) for k, n, a, t in Session.execute(stmt)}
    shown = {r.key: (r.count, r.amount_fen, r.tech_amount_fen) for r in board.tables["type"]}
    total = tuple(map(sum, zip(*raw.values(), strict=True)))
    if shown != raw or (board.totals.count, board.totals.amount_fen, board.totals.tech_amount_fen) != total:
        raise SystemExit(f"dashboard differs from the contracts: {shown} != {raw}")


def time_writes(n: int) -> list[float]:
    """Contracts saved through the service, each in its own transaction with the summary upkeep."""
    from matchmaker.deals import contracts
    from models import Session

    timings = []
    for i in range(n):
        data = contracts.ContractInput(
            contract_type="transfer", project_name=f"写入{i}", signing_date=FIRST_DAY + timedelta(days=37 * i % DAYS),
            amount_fen=1_000_000, tech_amount_fen=800_000, tech_field="new_materials", seller_name=f"机构{i % 400}",
            seller_entity_type="022", seller_region="350500", buyer_name="企业1", buyer_entity_type="150",
            buyer_region="330100")
        start = time.perf_counter()
        contracts.add(contracts.validate(data), None, source="import")
        Session.commit()
        timings.append((time.perf_counter() - start) * 1000)
    return timings


def run(url: str, runs: int, writes: int) -> dict[str, object]:
    from matchmaker import create_app
    from matchmaker.stats import stats, summary

    app = create_app({"DATABASE_URL": url, "TESTING": True})
    timings = []
    with app.test_request_context("/?lang=zh"):
        start = time.perf_counter()
        summary.rebuild_summary()
        rebuild_s = time.perf_counter() - start
        scope = stats.Scope(period="year", year=2026)
        check(stats.dashboard(scope), scope)  # also warms the connection pool and the plan cache
        for _ in range(runs):
            start = time.perf_counter()
            stats.dashboard(scope)
            timings.append((time.perf_counter() - start) * 1000)
        write_timings = time_writes(writes)
    return {"median_ms": round(statistics.median(timings), 1), "p95_ms": round(p95(timings), 1),
            "rebuild_s": round(rebuild_s, 2),
            "write_p95_ms": round(p95(write_timings), 1) if write_timings else None}


def p95(timings: list[float]) -> float:
    return statistics.quantiles(timings, n=20)[-1] if len(timings) >= 2 else timings[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contracts", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--writes", type=int, default=50)
    args = parser.parse_args()
    name = f"mm_bench_stats_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    load_before = os.getloadavg()[0]
    try:
        load(url, args.contracts)
        figures = run(url, args.runs, args.writes)
    finally:
        import models

        models.db.dispose_all()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    print(json.dumps({"name": "stats", "contracts": args.contracts, "runs": args.runs, **figures,
                      "load_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)]}))


if __name__ == "__main__":
    main()
