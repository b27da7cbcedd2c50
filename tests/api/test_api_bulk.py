"""POST /api/v1/contracts/bulk: a historical import through the API with the sheet import's row checks;
any bad row saves nothing unless valid_only=true, and every bad row's errors are named."""
from __future__ import annotations

import sqlalchemy as sa

from models import Contract, Role, Session
from tests.api.test_api import CONTRACT, _bearer, _token


def _count() -> int:
    return Session.scalar(sa.select(sa.func.count()).select_from(Contract))


def _rows() -> list[dict]:
    return [{**CONTRACT, "project_name": "热泵干燥技术转让", "registration_number": "2025350500A0000001"},
            {**CONTRACT, "project_name": "轴承故障预测技术开发", "contract_type": "development",
             "registration_number": "2025350500A0000002", "signing_date": "2025-11-02"},
            {**CONTRACT, "project_name": "合同三"}]


def test_a_clean_batch_is_saved_and_counted_in_the_statistics(client, people):
    clerk = _bearer(_token(people["staff"], ("read", "write")))
    done = client.post("/api/v1/contracts/bulk", headers=clerk, json={"rows": _rows()})
    assert done.status_code == 200, done.json
    assert done.json["saved"] == 3 and done.json["skipped"] == 0 and done.json["rejected"] == []
    assert [c["project_name"] for c in done.json["items"]] == ["热泵干燥技术转让", "轴承故障预测技术开发", "合同三"]
    assert _count() == 3 and {c.source for c in Session.scalars(sa.select(Contract))} == {"import"}
    stats = client.get("/api/v1/stats?period=all", headers=clerk).json
    assert stats["totals"]["count"] == 3 and stats["totals"]["amount"]["fen"] == 3 * CONTRACT["amount_fen"]


def test_one_bad_row_saves_nothing_and_every_bad_row_is_named(client, people):
    clerk = _bearer(_token(people["staff"], ("read", "write")))
    rows = _rows()
    rows[0]["amount_fen"] = "很多"                                     # not a number
    rows[1]["tech_amount_fen"] = rows[1]["amount_fen"] + 1             # more than the contract amount
    rows[2]["registration_number"] = rows[1]["registration_number"]   # twice in the batch
    rows.append({**CONTRACT, "colour": "red"})                          # unknown field
    rows.append({**CONTRACT, "seller_region": "999999"})               # no such region
    refused = client.post("/api/v1/contracts/bulk", headers=clerk, json={"rows": rows})
    assert refused.status_code == 422 and refused.mimetype == "application/problem+json"
    by_row = refused.json["errors"]["rows"]
    assert set(by_row) == {"1", "2", "3", "4", "5"}
    assert "amount_fen" in by_row["1"] and "tech_amount_fen" in by_row["2"]
    assert "registration_number" in by_row["3"] and "colour" in by_row["4"] and "seller_region" in by_row["5"]
    assert "nothing was saved" in refused.json["detail"] and _count() == 0
    rows.append({**CONTRACT, "project_name": "好的一行"})
    partial = client.post("/api/v1/contracts/bulk?valid_only=true", headers=clerk, json={"rows": rows})
    assert partial.status_code == 200 and partial.json["saved"] == 1 and partial.json["skipped"] == 5
    assert [r["row"] for r in partial.json["rejected"]] == [1, 2, 3, 4, 5]
    assert partial.json["items"][0]["project_name"] == "好的一行" and _count() == 1


def test_only_staff_import_and_malformed_batches_are_refused(client, people, make):
    for who in (people["enterprise"], make.user(Role.BROKER)):
        answer = client.post("/api/v1/contracts/bulk", headers=_bearer(_token(who, ("read", "write"))),
                             json={"rows": _rows()})
        assert answer.status_code == 403
    assert client.post("/api/v1/contracts/bulk", json={"rows": _rows()}).status_code in (400, 401)
    clerk = _bearer(_token(people["staff"], ("read", "write")))
    assert client.post("/api/v1/contracts/bulk", headers=_bearer(_token(people["staff"])),
                       json={"rows": _rows()}).status_code == 403  # a read token
    for body in ({"rows": []}, {"rows": ["x"]}, {"rows": [CONTRACT] * 1001}, {}, {"rows": _rows(), "extra": 1}):
        assert client.post("/api/v1/contracts/bulk", headers=clerk, json=body).status_code == 422
    assert client.post("/api/v1/contracts/bulk", headers={**clerk, "Content-Type": "application/json"},
                       data="{not json").status_code in (400, 422)
    assert _count() == 0
