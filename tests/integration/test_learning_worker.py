"""Learning from outcomes with a real Celery worker, Redis and PostgreSQL: publish, match, dismiss, judge,
refit in the worker (queued from the staff page), then roll back from the staff page."""
from __future__ import annotations

import numpy as np
import pytest
import sqlalchemy as sa

from matchmaker.matching import feedback, index, matches, outbox
from models import CalibrationVersion, Job, JobStatus, ModelStatus, OrgKind, Role, Session
from tests.integration.matching_worker import (  # noqa: F401  (worker_database_url: a fixture)
    ZHIBEI_NEEDS,
    wait_until,
    worker_database_url,
    zhibei_texts,
)
from tests.integration.test_matching_worker import (  # noqa: F401  (fixtures: a worker on its own database)
    app_config,
    index_dir,
    publish,
    worker,
)

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def _learning_settings(monkeypatch):
    """For the web process (this one) and the worker alike: few labels suffice, and a switch of the
    active model is seen at once (every process re-reads it on each use)."""
    monkeypatch.setenv("MATCHMAKER_MATCH_REFIT_MIN_LABELS", "20")
    monkeypatch.setenv("MATCHMAKER_MATCH_CALIBRATION_TTL", "0")


def _estimates(need, viewer) -> dict[int, float]:
    Session.rollback()
    return {item.listing.id: item.relevance for item in matches.matches_for_listing(need, viewer, k=20)}


def test_publish_match_dismiss_refit_and_roll_back(client, auth, make, worker, publish):  # noqa: F811
    firm = make.org(OrgKind.ENTERPRISE)
    owner, broker, staff = make.user(Role.ENTERPRISE, firm), make.user(Role.BROKER), make.user(Role.STAFF)
    needs = [publish("need", organization=firm, **fields) for fields in zhibei_texts(4, ZHIBEI_NEEDS)]
    results = [publish("result", **fields) for fields in zhibei_texts(8)]

    def indexed() -> bool:
        Session.rollback()
        return outbox.pending_count() == 0 and sorted(index.reader_index("result").ids().tolist()) == sorted(
            r.id for r in results)

    wait_until(indexed, 300)

    # Simulated outcomes that follow the title similarity: the owner takes the suggestion with the least
    # similar title off the list as not relevant, and a broker judges every other pair by it.
    need = needs[0]
    titles = matches.features_for(need, [r.id for r in results])
    worst = min(titles, key=lambda i: titles[i]["dense_title"])
    auth.login(owner)
    assert f'id="match-result-{worst}"' in client.get(f"/need/{need.id}").get_data(as_text=True)
    client.post("/matches/dismiss", data={"kind": "need", "listing_id": need.id, "other_id": worst,
                                          "reason": "not_relevant"})
    assert f'id="match-result-{worst}"' not in client.get(f"/need/{need.id}").get_data(as_text=True)
    pairs = [(n, r, matches.features_for(n, [r.id])[r.id]) for n in needs for r in results
             if (n.id, r.id) != (need.id, worst)]
    cut = float(np.median([f["dense_title"] for _n, _r, f in pairs]))
    for n, r, f in pairs:
        good = f["dense_title"] >= cut
        feedback.record(broker, feedback.FeedbackInput(n.id, r.id, "good" if good else "bad",
                                                       "" if good else "off_topic"))
    before = _estimates(need, owner)

    # Staff refit from the staff page; the worker does it.
    auth.login(staff)
    client.post("/admin/relevance-model/refit")
    job_id = Session.scalar(sa.select(Job.id).where(Job.kind == "matching.refit"))

    def finished() -> bool:
        Session.rollback()
        return Session.get(Job, job_id).status in (JobStatus.DONE, JobStatus.FAILED)

    wait_until(finished, 300)
    job = Session.get(Job, job_id)
    assert job.status == JobStatus.DONE, job.message
    refitted = Session.get(CalibrationVersion, job.result["version_id"])
    assert (refitted.status, refitted.created_by_id) == (ModelStatus.ACTIVE, staff.id), refitted.figures
    assert refitted.figures["labels"] == len(pairs) + 1 and refitted.figures["sources"]["dismissal"] == 1
    page = client.get("/admin/relevance-model", query_string={"lang": "en"}).get_data(as_text=True)
    assert f'id="version-{refitted.id}" class="active-version"' in page

    learned = _estimates(need, owner)
    assert learned != pytest.approx(before)

    # Roll back to the shipped model: the estimates are what they were.
    shipped_id = refitted.figures["compared_with"]
    client.post(f"/admin/relevance-model/{shipped_id}/restore")
    assert _estimates(need, owner) == pytest.approx(before)
    Session.rollback()
    assert Session.get(CalibrationVersion, refitted.id).status == ModelStatus.ROLLED_BACK
