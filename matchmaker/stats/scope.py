"""What a statistics page asks for (Scope: period, fair) and the shapes it gets back (Row, FunnelStep,
Dashboard)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

PERIODS = ("year", "quarter", "month", "all")
GROUPS = ("month", "quarter", "year", "type", "field", "party", "flow", "institution", "fair")


def _within(text: Any, low: int, high: int) -> int | None:
    try:
        value = int(text)
    except (TypeError, ValueError):
        return None
    return value if low <= value <= high else None


@dataclass(frozen=True)
class Scope:
    """Which contracts count: a calendar period (or all) and optionally one fair."""

    period: str = "year"
    year: int | None = None
    quarter: int | None = None
    month: int | None = None
    fair_id: int | None = None

    @classmethod
    def parse(cls, args: Any, today: date | None = None) -> Scope:
        """From query arguments; anything malformed falls back to the current year.

        `period` is year, quarter, month or all, with `quarter` / `month` naming which one (the
        API's form), or one picker value naming both: q1..q4, m1..m12 (the dashboard's form, so a
        single choice shows that quarter or month)."""
        today = today or date.today()

        def number(name: str, low: int, high: int) -> int | None:
            return _within(args.get(name), low, high)

        period = str(args.get("period") or "")
        quarter, month = number("quarter", 1, 4), number("month", 1, 12)
        picked = re.fullmatch(r"([qm])(\d{1,2})", period.lower())
        if picked:
            kind, value = picked.groups()
            period = "quarter" if kind == "q" else "month"
            quarter = _within(value, 1, 4) if kind == "q" else None
            month = _within(value, 1, 12) if kind == "m" else None
        if period not in PERIODS or (picked and not (quarter or month)):
            period = "year"
        year = number("year", 1987, 2200) or today.year
        return cls(period=period, year=None if period == "all" else year,
                   quarter=(quarter or (today.month + 2) // 3) if period == "quarter" else None,
                   month=(month or today.month) if period == "month" else None,
                   fair_id=number("fair", 1, 2**31 - 1))

    @property
    def picker(self) -> str:
        """The dashboard's period picker value for this scope (see parse)."""
        if self.period == "quarter" and self.quarter:
            return f"q{self.quarter}"
        if self.period == "month" and self.month:
            return f"m{self.month}"
        return self.period

    def bounds(self) -> tuple[date | None, date | None]:
        """[start, end) dates of the period; (None, None) for all time."""
        if self.period == "all" or self.year is None:
            return None, None
        if self.period == "month" and self.month:
            start = date(self.year, self.month, 1)
            end = date(self.year + self.month // 12, self.month % 12 + 1, 1)
        elif self.period == "quarter" and self.quarter:
            start = date(self.year, 3 * self.quarter - 2, 1)
            end = date(self.year + self.quarter // 4, (3 * self.quarter) % 12 + 1, 1)
        else:
            start, end = date(self.year, 1, 1), date(self.year + 1, 1, 1)
        return start, end

    def as_args(self) -> dict[str, Any]:
        args: dict[str, Any] = {"period": self.period}
        for name in ("year", "quarter", "month"):
            if getattr(self, name) is not None:
                args[name] = getattr(self, name)
        if self.fair_id:
            args["fair"] = self.fair_id
        return args


@dataclass
class Row:
    key: str
    label: str
    count: int = 0
    amount_fen: int = 0
    tech_amount_fen: int = 0

    def add(self, other: Row) -> None:
        self.count += other.count
        self.amount_fen += other.amount_fen
        self.tech_amount_fen += other.tech_amount_fen


@dataclass
class FunnelStep:
    key: str
    label: str
    count: int
    rate: float | None = None           # share of the previous step
    rate_from_top: float | None = None  # share of the first thread step (contacts requested)
    comparable: bool = True             # False: not a subset of the previous step, so no rate ("n/a")
    contracts: int | None = None        # last step: the contracts linked to its threads' deals
    amount_fen: int | None = None       # and their 成交额


@dataclass
class Dashboard:
    scope: Scope
    totals: Row
    tables: dict[str, list[Row]] = field(default_factory=dict)
    funnel: list[FunnelStep] = field(default_factory=list)
    funnel_by_fair: list[dict[str, Any]] = field(default_factory=list)


