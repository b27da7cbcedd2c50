"""The monthly contract summary (contract_month_stats): kept by the contracts service in the same
transaction as each contract, recounted and rebuilt by `flask stats` when in doubt."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from models import (
    Contract,
    Session,
)
from models.deals import ContractMonthStat

# --- the monthly summary: upkeep ----------------------------------------------------------------

# The breakdowns ContractMonthStat keeps, each with a contract's key under it ("" when not given).
# Flows keep the two regions and are bucketed when read, so a new HOME_REGION needs no recount.
_DIMENSIONS: dict[str, Callable[[Any], str]] = {
    "month": lambda c: "",
    "type": lambda c: c.contract_type,
    "field": lambda c: c.tech_field or "",
    "party": lambda c: c.seller_party_type,
    "flow": lambda c: f"{c.seller_region}>{c.buyer_region}",
    "institution": lambda c: c.seller_name,
    "fair": lambda c: str(c.fair_id) if c.fair_id else "",
}
_COUNTED_FIELDS = ("signing_date", "fair_id", "contract_type", "tech_field", "seller_party_type", "seller_region",
                   "buyer_region", "seller_name", "amount_fen", "tech_amount_fen")
_MEASURE_COLUMNS = ("contracts", "amount_fen", "tech_amount_fen")
# Any constant: every writer of the summary takes this PostgreSQL transaction lock first.
_SUMMARY_LOCK = 0x6D6D_7374

SummaryKey = tuple[int, date, str, str]  # fair_key, month, dimension, key


@dataclass(frozen=True)
class Counted:
    """What one contract contributes to the summary: its keys and its two amounts."""

    keys: tuple[SummaryKey, ...]
    amount_fen: int
    tech_amount_fen: int


def counted(contract: Any) -> Counted:
    """The summary keys of a Contract (or of a row with its column names) as it stands now."""
    month = contract.signing_date.replace(day=1)
    fair_keys = (0, contract.fair_id) if contract.fair_id else (0,)
    keys = tuple((fair_key, month, dimension, key_of(contract))
                 for fair_key in fair_keys for dimension, key_of in _DIMENSIONS.items())
    return Counted(keys, int(contract.amount_fen), int(contract.tech_amount_fen))


def count_change(before: Counted | None, after: Counted | None) -> None:
    """Move a contract's figures in the summary from what it was (None: new) to what it is (None:
    deleted), in the caller's transaction. Services call it for every contract they write."""
    deltas: dict[SummaryKey, list[int]] = {}
    if before is not None:
        _accumulate(deltas, before, -1)
    if after is not None:
        _accumulate(deltas, after, 1)
    changed = {key: delta for key, delta in deltas.items() if any(delta)}
    if changed:
        _lock_summary()
        _upsert(changed)


def _accumulate(sums: dict[SummaryKey, list[int]], entry: Counted, sign: int) -> None:
    for key in entry.keys:
        total = sums.setdefault(key, [0, 0, 0])
        total[0] += sign
        total[1] += sign * entry.amount_fen
        total[2] += sign * entry.tech_amount_fen


def _dialect() -> str:
    return Session.get_bind().dialect.name


def _lock_summary() -> None:
    # Two transactions adding contracts of several months would lock the same summary rows in
    # different orders and deadlock; one writer at a time costs little at contract-registry rates.
    if _dialect() == "postgresql":
        Session.execute(sa.select(sa.func.pg_advisory_xact_lock(_SUMMARY_LOCK)))


def _summary_row(key: SummaryKey, measures: list[int] | tuple[int, ...]) -> dict[str, Any]:
    return {"fair_key": key[0], "month": key[1], "dimension": key[2], "key": key[3],
            **dict(zip(_MEASURE_COLUMNS, measures, strict=True))}


def _upsert(deltas: dict[SummaryKey, list[int]]) -> None:
    table = ContractMonthStat.__table__
    insert = postgresql.insert if _dialect() == "postgresql" else sqlite.insert
    stmt = insert(table)
    stmt = stmt.on_conflict_do_update(index_elements=list(table.primary_key.columns),
                                      set_={name: table.c[name] + stmt.excluded[name] for name in _MEASURE_COLUMNS})
    Session.execute(stmt, [_summary_row(key, delta) for key, delta in sorted(deltas.items())])


def recount_summary() -> dict[SummaryKey, tuple[int, int, int]]:
    """The summary worked out afresh from every contract."""
    sums: dict[SummaryKey, list[int]] = {}
    stmt = sa.select(*(getattr(Contract, name) for name in _COUNTED_FIELDS)).execution_options(yield_per=5000)
    for row in Session.execute(stmt):
        _accumulate(sums, counted(row), 1)
    return {key: (n, amount, tech) for key, (n, amount, tech) in sums.items()}


def stored_summary() -> dict[SummaryKey, tuple[int, int, int]]:
    """The summary as stored, without the keys whose contracts all moved away."""
    table = ContractMonthStat
    stmt = sa.select(table.fair_key, table.month, table.dimension, table.key,
                     *(getattr(table, name) for name in _MEASURE_COLUMNS)).where(table.contracts != 0)
    return {(r.fair_key, r.month, r.dimension, r.key): (r.contracts, r.amount_fen, r.tech_amount_fen)
            for r in Session.execute(stmt)}


def summary_differences() -> list[SummaryKey]:
    """Keys whose stored sums differ from a recount: empty unless contracts were written around
    the contracts service."""
    stored, fresh = stored_summary(), recount_summary()
    return sorted(key for key in stored.keys() | fresh.keys() if stored.get(key) != fresh.get(key))


def rebuild_summary(batch: int = 5000) -> int:
    """Replace the summary by a recount of the contracts (after contracts were written around the
    contracts service, e.g. loaded with COPY); commits and returns the number of summary rows."""
    _lock_summary()
    rows = [_summary_row(key, sums) for key, sums in sorted(recount_summary().items())]
    Session.execute(sa.delete(ContractMonthStat))
    for start in range(0, len(rows), batch):
        Session.execute(sa.insert(ContractMonthStat.__table__), rows[start:start + batch])
    Session.commit()
    return len(rows)


