"""The statistics' monthly summary: the contracts service keeps it equal to the contracts through
random creations and edits, a rollback takes its share back, and the rebuild command recounts it."""
from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from matchmaker import reference
from matchmaker.core.errors import Conflict
from matchmaker.deals import contracts
from matchmaker.stats import stats, summary
from matchmaker.stats.commands import rebuild_contract_stats
from models import Contract, Session

from .conftest import make_fair

SELLERS = [f"卖方{i}" for i in range(8)]
REGIONS = ["350500", "350502", "350100", "330100", "440300"]
ENTITIES = ["022", "021", "150", "400"]

# What each dashboard table sums by, worked out on the Contract objects (not the summary's keys).
KEYS: dict[str, Callable[[Contract, str], str]] = {
    "type": lambda c, home: c.contract_type,
    "field": lambda c, home: c.tech_field or "",
    "party": lambda c, home: reference.party_type(c.seller_entity_type),
    "flow": lambda c, home: reference.region_flow(c.buyer_region, c.seller_region, home),
    "institution": lambda c, home: c.seller_name,
    "fair": lambda c, home: str(c.fair_id or ""),
    "month": lambda c, home: c.signing_date.strftime("%Y-%m"),
    "quarter": lambda c, home: f"{c.signing_date.year}-Q{(c.signing_date.month + 2) // 3}",
    "year": lambda c, home: str(c.signing_date.year),
}


def random_input(rng: random.Random, fair_ids: list[int]) -> contracts.ContractInput:
    ctype = rng.choice(reference.CONTRACT_TYPES.codes)
    amount = rng.randint(1, 10_000_000)
    return contracts.ContractInput(
        contract_type=ctype, project_name=f"项目{rng.randrange(10**6)}",
        signing_date=date(2024, 12, 1) + timedelta(days=rng.randrange(450)), amount_fen=amount,
        tech_amount_fen=rng.randint(0, amount), tech_field=rng.choice([*reference.TECH_FIELDS.codes[:4], None]),
        seller_name=rng.choice(SELLERS), seller_entity_type=rng.choice(ENTITIES), seller_region=rng.choice(REGIONS),
        buyer_name="买方", buyer_entity_type="150", buyer_region=rng.choice(REGIONS),
        fair_id=rng.choice([None, None, *fair_ids]))


def random_edit(rng: random.Random, contract: Contract, fair_ids: list[int]) -> contracts.ContractInput:
    """The contract's current values with one to three of them replaced by random ones."""
    data = contracts.input_from(contract)
    other = random_input(rng, fair_ids)
    for name in rng.sample(["contract_type", "signing_date", "amount_fen", "tech_field", "seller_name",
                            "seller_entity_type", "seller_region", "buyer_region", "fair_id"], rng.randint(1, 3)):
        setattr(data, name, getattr(other, name))
        if name == "contract_type":
            data.contract_subtype = None
    data.tech_amount_fen = min(data.tech_amount_fen or 0, data.amount_fen or 0)
    return data


def hand_sums(scope: stats.Scope, group: str, home: str) -> dict[str, tuple[int, int, int]]:
    start, end = scope.bounds()
    sums: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for c in Session.scalars(sa.select(Contract)):
        if scope.fair_id and c.fair_id != scope.fair_id:
            continue
        if group != "year" and start is not None and not start <= c.signing_date < end:
            continue
        total = sums[KEYS[group](c, home)]
        total[0] += 1
        total[1] += c.amount_fen
        total[2] += c.tech_amount_fen
    return {key: (n, amount, tech) for key, (n, amount, tech) in sums.items()}


def assert_dashboard_equals_contracts(app: Any, scopes: list[stats.Scope]) -> None:
    home = app.config["HOME_REGION"]
    for scope in scopes:
        board = stats.dashboard(scope, "en")
        for group in KEYS:
            shown = {r.key: (r.count, r.amount_fen, r.tech_amount_fen) for r in board.tables[group] if r.count}
            assert shown == hand_sums(scope, group, home), (scope, group)
        by_type = hand_sums(scope, "type", home).values()
        assert (board.totals.count, board.totals.amount_fen, board.totals.tech_amount_fen) == tuple(
            sum(sums[i] for sums in by_type) for i in range(3)), scope


@pytest.mark.parametrize("seed", [1, 2])
def test_the_summary_follows_random_creations_and_edits(app, people, seed):
    rng = random.Random(seed)
    fair_ids = [make_fair("甲对接会").id, make_fair("乙对接会", date(2025, 9, 1)).id]
    staff = people["staff"]
    saved: list[int] = []
    with app.test_request_context("/?lang=en"):
        for step in range(40):
            if saved and rng.random() < 0.5:
                contract = Session.get(Contract, rng.choice(saved))
                contracts.update(staff, contract.id, random_edit(rng, contract, fair_ids), contract.version)
            else:
                saved.append(contracts.create(staff, random_input(rng, fair_ids)).id)
            if step % 10 == 9:
                assert summary.stored_summary() == summary.recount_summary()
        assert Session.scalar(sa.select(sa.func.max(Contract.version))) > 1
        scopes = [stats.Scope(period="year", year=2025), stats.Scope(period="quarter", year=2025, quarter=3),
                  stats.Scope(period="month", year=2026, month=1), stats.Scope(period="all"),
                  stats.Scope(period="year", year=2025, fair_id=fair_ids[0]),
                  stats.Scope(period="all", fair_id=fair_ids[1])]
        assert_dashboard_equals_contracts(app, scopes)


def test_a_removed_contract_takes_its_share_with_it(app, people):
    rng = random.Random(3)
    fair_ids = [make_fair().id]
    kept, removed = (contracts.create(people["staff"], random_input(rng, fair_ids)) for _ in range(2))
    summary.count_change(summary.counted(removed), None)
    Session.delete(removed)
    Session.commit()
    assert summary.stored_summary() == summary.recount_summary()
    with app.test_request_context("/?lang=en"):
        assert stats.totals(stats.Scope(period="all")).amount_fen == kept.amount_fen


def test_a_rolled_back_contract_leaves_no_trace_in_the_figures(app, people):
    rng = random.Random(4)
    contracts.create(people["staff"], random_input(rng, []))
    before = summary.stored_summary()
    contracts.add(contracts.validate(random_input(rng, [])), people["staff"].id)
    Session.rollback()
    assert summary.stored_summary() == before
    assert Session.scalar(sa.select(sa.func.count(Contract.id))) == 1


def test_an_edit_that_loses_the_race_moves_no_figures(app, people, monkeypatch):
    contract = contracts.create(people["staff"], random_input(random.Random(5), []))
    before = summary.stored_summary()
    validate = contracts.validate

    def validate_while_someone_saves(data: contracts.ContractInput, contract_id: int | None = None,
                                     today: date | None = None) -> dict[str, Any]:
        # Another user's save commits between our read and our UPDATE; the version column notices.
        table = Contract.__table__
        with Session.get_bind().connect() as other:
            other.execute(sa.update(table).where(table.c.id == contract_id).values(version=table.c.version + 1))
            other.commit()
        return validate(data, contract_id=contract_id, today=today)

    monkeypatch.setattr(contracts, "validate", validate_while_someone_saves)
    edit = contracts.input_from(contract)
    edit.amount_fen, edit.tech_amount_fen = contract.amount_fen + 100, 0
    with app.test_request_context("/?lang=en"), pytest.raises(Conflict):
        contracts.update(people["staff"], contract.id, edit, contract.version)
    assert summary.stored_summary() == before == summary.recount_summary()


def test_the_rebuild_command_counts_contracts_loaded_around_the_service(app, people):
    rng = random.Random(6)
    contracts.create(people["staff"], random_input(rng, []))
    # A bulk load (COPY, SQL) writes contracts without the service, so without the summary.
    bulk = [contracts.validate(random_input(rng, [])) for _ in range(5)]
    Session.execute(sa.insert(Contract), [{**values, "source": "import"} for values in bulk])
    Session.commit()
    runner = app.test_cli_runner()

    check = runner.invoke(rebuild_contract_stats, ["--check"])
    assert check.exit_code == 1 and '"differing_keys": 0' not in check.output
    rebuilt = runner.invoke(rebuild_contract_stats)
    assert rebuilt.exit_code == 0 and '"summary_rows"' in rebuilt.output
    assert runner.invoke(rebuild_contract_stats, ["--check"]).exit_code == 0
    with app.test_request_context("/?lang=en"):
        assert stats.totals(stats.Scope(period="all")).count == 6
        assert_dashboard_equals_contracts(app, [stats.Scope(period="all")])
