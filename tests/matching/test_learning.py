"""The platform learns from its own outcomes: outcomes become labelled pairs with the site's own features,
a refit that follows a real signal replaces the model in use, a refit on noise is refused, staff roll back."""
from __future__ import annotations

from collections.abc import Callable
from datetime import date

import numpy as np
import pytest
import sqlalchemy as sa

from matchmaker.core import jobs
from matchmaker.deals import deals
from matchmaker.listings import lifecycle
from matchmaker.matching import dismissals, feedback, learning, matches
from models import (
    AuditLog,
    CalibrationVersion,
    CloseReason,
    Contract,
    DealStage,
    DeclineReason,
    DismissReason,
    Introduction,
    IntroductionStatus,
    Job,
    ModelStatus,
    OrgKind,
    Role,
    Session,
)
from tests.integration.matching_worker import ZHIBEI_NEEDS, zhibei_texts

MIN_LABELS = 20


@pytest.fixture
def app_config(app_config):
    return {**app_config, "MATCH_REFIT_MIN_LABELS": MIN_LABELS}


@pytest.fixture
def broker(make):
    return make.user(Role.BROKER)


@pytest.fixture
def market(publish, make):
    """Three real Zhibei needs, each owned by its enterprise, and eight real research results."""
    firm = make.org(OrgKind.ENTERPRISE)
    owner = make.user(Role.ENTERPRISE, firm)
    needs = [publish("need", organization=firm, owner=owner, **fields) for fields in zhibei_texts(3, ZHIBEI_NEEDS)]
    results = [publish("result", **fields) for fields in zhibei_texts(8)]
    return needs, results, owner


def _pairs(needs, results) -> list[tuple[object, object, dict[str, float]]]:
    """Every need-result pair with the features the site computes for it now."""
    rows = []
    for need in needs:
        features = matches.features_for(need, [r.id for r in results])
        rows += [(need, result, features[result.id]) for result in results]
    return rows


def _judge(broker, pairs, label: Callable[[dict[str, float]], bool]) -> None:
    """Simulated outcomes: the broker calls a pair good exactly when `label` says so."""
    for need, result, features in pairs:
        good = label(features)
        feedback.record(broker, feedback.FeedbackInput(need.id, result.id, "good" if good else "bad",
                                                       "" if good else "off_topic"))


def _estimate(need, result, viewer) -> float:
    shown = {item.listing.id: item.relevance for item in matches.matches_for_listing(need, viewer, k=20)}
    return shown[result.id]


def test_features_of_a_labelled_pair_are_those_the_site_computed_for_it(market):
    needs, results, owner = market
    need = needs[0]
    site = {m.id: dict(m.features) for m in matches.rank(
        "result", *matches.owner_query(need)[:1], matches.owner_query(need)[1], 20)}
    recomputed = matches.features_for(need, [r.id for r in results])
    assert set(recomputed) == {r.id for r in results}
    for result_id, features in recomputed.items():
        assert features == pytest.approx(site[result_id])


def test_a_refit_on_outcomes_that_follow_the_title_similarity_learns_it_and_is_used(market, broker, staff):
    needs, results, owner = market
    pairs = _pairs(needs, results)
    titles = np.array([f["dense_title"] for _n, _r, f in pairs])
    cut = float(np.median(titles))
    _judge(broker, pairs, lambda f: f["dense_title"] >= cut)
    high = max(pairs, key=lambda p: p[2]["dense_title"])
    low = min(pairs, key=lambda p: p[2]["dense_title"])
    before_high, before_low = _estimate(high[0], high[1], owner), _estimate(low[0], low[1], owner)

    result = learning.refit()

    version = Session.get(CalibrationVersion, result["version_id"])
    assert (version.status, version.reason) == (ModelStatus.ACTIVE, "better")
    model = learning.model_of(version)
    shipped = matches.shipped_calibration()
    # The refit leans on the signal the outcomes follow: the title similarity weighs more against the
    # whole-text cosine than in the shipped model, and the title's rank within the query now counts.
    weight = dict(zip(model.features, model.coefficients, strict=True))
    old = dict(zip(shipped.features, shipped.coefficients, strict=True))
    assert weight["dense_title"] - weight["dense"] > old["dense_title"] - old["dense"]
    assert weight["title_rel"] > max(old["title_rel"], 0)
    assert version.figures["new"]["auc"] > 0.8 and version.figures["labels"] == len(pairs)
    # The site uses it at once: the pair with the most similar title now looks likelier than the one with
    # the least, by far more than before.
    after_high, after_low = _estimate(high[0], high[1], owner), _estimate(low[0], low[1], owner)
    assert after_high > 0.5 > after_low
    assert (after_high, after_low) != pytest.approx((before_high, before_low))
    shipped_row = Session.get(CalibrationVersion, version.figures["compared_with"])
    assert (shipped_row.origin, shipped_row.status) == ("shipped", ModelStatus.RETIRED)


def test_a_refit_on_random_outcomes_is_refused_and_nothing_changes(market, broker):
    needs, results, owner = market
    pairs = _pairs(needs, results)
    coin = iter(np.random.default_rng(7).random(len(pairs)) < 0.5)
    _judge(broker, pairs, lambda f: bool(next(coin)))
    before = _estimate(pairs[0][0], pairs[0][1], owner)

    result = learning.refit()

    version = Session.get(CalibrationVersion, result["version_id"])
    assert version.status == ModelStatus.REJECTED and version.reason in ("no_signal", "worse")
    assert learning.active_model()[1] == matches.shipped_calibration()
    assert _estimate(pairs[0][0], pairs[0][1], owner) == pytest.approx(before)


def test_too_few_labels_are_refused_with_the_count(market, broker):
    needs, results, _owner = market
    _judge(broker, _pairs(needs[:1], results[:4]), lambda f: f["dense_title"] > 0.85)
    version = Session.get(CalibrationVersion, learning.refit()["version_id"])
    assert (version.status, version.reason, version.figures["labels"]) == (ModelStatus.REJECTED, "too_few_labels", 4)
    assert version.model is None


def test_a_labelled_pair_whose_listing_closed_keeps_teaching_with_the_features_it_had(market, broker, staff):
    needs, results, _owner = market
    pairs = _pairs(needs[:1], results[:4])
    _judge(broker, pairs, lambda f: f["dense_title"] > 0.85)
    learning.refit()
    lifecycle.close_listing(staff, results[0], CloseReason.TRANSFERRED)  # leaves the indexes
    rows, from_snapshot = learning.labelled_features(learning.outcome_labels())
    assert from_snapshot == 1 and len(rows) == 4
    assert dict(rows)[next(o for o, _f in rows if o.candidate_id == results[0].id)] == pytest.approx(pairs[0][2])
    version = Session.get(CalibrationVersion, learning.refit()["version_id"])
    assert (version.figures["labels"], version.figures["from_snapshot"]) == (4, 1)


def test_rolling_back_restores_the_previous_model_and_the_site_estimate(market, broker, staff):
    needs, results, owner = market
    pairs = _pairs(needs, results)
    cut = float(np.median([f["dense_title"] for _n, _r, f in pairs]))
    _judge(broker, pairs, lambda f: f["dense_title"] >= cut)
    need, result = pairs[0][0], pairs[0][1]
    original = _estimate(need, result, owner)
    refitted = Session.get(CalibrationVersion, learning.refit()["version_id"])
    learned = _estimate(need, result, owner)
    assert refitted.status == ModelStatus.ACTIVE and learned != pytest.approx(original)

    shipped = learning.roll_back(staff, refitted.figures["compared_with"])

    assert shipped.status == ModelStatus.ACTIVE
    assert Session.get(CalibrationVersion, refitted.id).status == ModelStatus.ROLLED_BACK
    assert _estimate(need, result, owner) == pytest.approx(original)
    logged = Session.scalars(sa.select(AuditLog.action).where(AuditLog.entity_type == "calibration_versions"))
    assert {"calibration.refit", "calibration.roll_back"} <= set(logged)
    # And forward again: the refitted version can be brought back.
    learning.roll_back(staff, refitted.id)
    assert _estimate(need, result, owner) == pytest.approx(learned)
    assert learning.active_model()[0] == refitted.id


def test_outcomes_become_labels_and_the_strongest_evidence_decides(app, make, broker):
    uni, firm = make.org(OrgKind.UNIVERSITY), make.org(OrgKind.ENTERPRISE)
    researcher, enterprise = make.user(Role.RESEARCHER, uni), make.user(Role.ENTERPRISE, firm)
    need, other_need = make.need(owner=enterprise), make.need(owner=enterprise)
    r = [make.result(owner=researcher) for _ in range(6)]
    # An owner's "not relevant" is a 0; "we know them already" says nothing about relevance.
    dismissals.dismiss(enterprise, "need", need.id, r[0].id, DismissReason.NOT_RELEVANT)
    dismissals.dismiss(enterprise, "need", need.id, r[1].id, DismissReason.ALREADY_KNOWN)
    # A broker's verdicts; a contract for the same pair outweighs the bad one.
    feedback.record(broker, feedback.FeedbackInput(need.id, r[2].id, "good"))
    feedback.record(broker, feedback.FeedbackInput(need.id, r[3].id, "bad", "off_topic"))
    # Introductions asked from the counterpart's own listing: accepted 1, declined as not a fit 0,
    # declined for lack of capacity: nothing.
    for result, status, reason in ((r[4], IntroductionStatus.ACCEPTED, None),
                                   (r[5], IntroductionStatus.DECLINED, DeclineReason.NOT_A_FIT)):
        Session.add(Introduction(result_id=result.id, owner_org_id=uni.id, counterpart_org_id=firm.id,
                                 counterpart_need_id=other_need.id, status=status, decline_reason=reason))
    Session.add(Introduction(result_id=r[0].id, owner_org_id=uni.id, counterpart_org_id=firm.id,
                             counterpart_need_id=other_need.id, status=IntroductionStatus.DECLINED,
                             decline_reason=DeclineReason.NO_CAPACITY))
    deals.open_deal(r[1].id, other_need.id, uni.id, firm.id, broker.id, "match", stage=DealStage.INTRODUCED,
                    actor_id=broker.id)
    Session.add(Contract(contract_type="transfer", project_name="合同", signing_date=date(2026, 11, 1),
                         amount_fen=100, tech_amount_fen=100, seller_name="甲", seller_entity_type="022",
                         seller_region="350500", seller_party_type="university", buyer_name="乙",
                         buyer_entity_type="150", buyer_region="350500",
                         need_id=need.id, result_id=r[3].id))
    Session.commit()

    labels = {(o.pair, o.source): o.label for o in learning.outcome_labels()}

    assert labels == {
        ((need.id, r[0].id), "dismissal"): 0,
        ((need.id, r[2].id), "feedback"): 1,
        ((need.id, r[3].id), "contract"): 1,
        ((other_need.id, r[4].id), "introduction"): 1,
        ((other_need.id, r[5].id), "introduction"): 0,
        ((other_need.id, r[1].id), "deal"): 1,
    }


def test_an_owner_dismisses_a_suggestion_as_not_relevant(client, auth, market, make):
    needs, results, owner = market
    need = needs[0]
    shown = [item.listing for item in matches.matches_for_listing(need, owner, k=20)]
    gone = shown[0]
    auth.login(owner)
    page = client.get(f"/need/{need.id}", query_string={"lang": "en"}).get_data(as_text=True)
    assert "Remove this suggestion" in page
    response = client.post("/matches/dismiss", data={"kind": "need", "listing_id": need.id, "other_id": gone.id,
                                                     "reason": "not_relevant", "next": f"/need/{need.id}"})
    assert response.status_code == 302
    page = client.get(f"/need/{need.id}", query_string={"lang": "en"}).get_data(as_text=True)
    assert f'id="match-result-{gone.id}"' not in page and f'id="match-result-{shown[1].id}"' in page
    assert [(o.pair, o.label) for o in learning.outcome_labels()] == [((need.id, gone.id), 0)]
    # The owner changes their mind: the suggestion is back, and so is nothing in the labels.
    assert f'id="removed-result-{gone.id}"' in page and "Suggestions you removed (1)" in page
    client.post("/matches/restore", data={"kind": "need", "listing_id": need.id, "other_id": gone.id})
    page = client.get(f"/need/{need.id}", query_string={"lang": "en"}).get_data(as_text=True)
    assert f'id="match-result-{gone.id}"' in page and "Suggestions you removed" not in page
    assert learning.outcome_labels() == []
    # Someone else's listing: refused, and the button is not offered.
    outsider = make.user(Role.ENTERPRISE)
    auth.login(outsider)
    assert "Remove this suggestion" not in client.get(f"/need/{need.id}").get_data(as_text=True)
    assert client.post("/matches/dismiss", data={"kind": "need", "listing_id": need.id, "other_id": shown[1].id,
                                                 "reason": "not_relevant"}).status_code == 403


def test_staff_see_the_versions_refit_now_and_roll_back(client, auth, market, broker, staff, make):
    needs, results, owner = market
    pairs = _pairs(needs, results)
    cut = float(np.median([f["dense_title"] for _n, _r, f in pairs]))
    _judge(broker, pairs, lambda f: f["dense_title"] >= cut)
    auth.login(staff)
    page = client.get("/admin/relevance-model", query_string={"lang": "en"}).get_data(as_text=True)
    assert "No refit has run yet" in page and "Refit now" in page
    assert "Relevance model" in client.get("/admin/", query_string={"lang": "en"}).get_data(as_text=True)

    client.post("/admin/relevance-model/refit")  # jobs run inline in tests

    page = client.get("/admin/relevance-model", query_string={"lang": "en"}).get_data(as_text=True)
    rows = Session.scalars(sa.select(CalibrationVersion).order_by(CalibrationVersion.id)).all()
    shipped, refitted = rows
    assert refitted.created_by_id == staff.id and refitted.status == ModelStatus.ACTIVE
    table = page[page.index('id="model-versions"'):]
    assert f'id="version-{refitted.id}" class="active-version"' in table and "In use" in table
    assert "Not worse than the model in use on held-out labels" in table
    model = learning.model_of(refitted)
    title = model.coefficients[model.features.index("dense_title")]
    assert f'<td>Title similarity</td><td class="num">{title:.2f}</td>' in table  # the weights are shown
    assert f"/admin/relevance-model/{shipped.id}/restore" in table
    assert f"/admin/relevance-model/{refitted.id}/restore" not in table  # the active one has no button

    client.post(f"/admin/relevance-model/{shipped.id}/restore")

    page = client.get("/admin/relevance-model", query_string={"lang": "zh"}).get_data(as_text=True)
    assert f'id="version-{shipped.id}" class="active-version"' in page and "已回滚" in page
    assert learning.active_model()[0] == shipped.id
    for visitor in (owner, broker):
        auth.login(visitor)
        assert client.get("/admin/relevance-model").status_code == 403
        assert client.post("/admin/relevance-model/refit").status_code == 403


def test_a_candidate_that_is_not_searchable_gets_no_features(market, staff):
    needs, results, _owner = market
    lifecycle.close_listing(staff, results[0], CloseReason.TRANSFERRED)
    assert set(matches.features_for(needs[0], [r.id for r in results])) == {r.id for r in results[1:]}


def test_a_running_refit_shows_its_progress_on_the_staff_page(client, auth, staff):
    job = jobs.create_job(learning.JOB, user_id=staff.id)
    jobs.report_progress(job.id, 2, 5)
    auth.login(staff)
    page = client.get("/admin/relevance-model", query_string={"lang": "en"}).get_data(as_text=True)
    assert "Refit in progress" in page and f'data-job-url="/jobs/{job.id}"' in page
    assert '<progress max="5" value="2">' in page and "js/progress.js" in page
    # Pressing "refit now" again while it runs queues nothing more, and says so.
    page = client.post("/admin/relevance-model/refit", query_string={"lang": "en"}, follow_redirects=True)
    assert "A refit is already queued or running" in page.get_data(as_text=True)
    assert Session.scalar(sa.select(sa.func.count()).select_from(Job)) == 1
    # One that never started (queued while Redis was down) stops showing as running after an hour.
    job.created_at = job.created_at - learning.STALE_AFTER
    Session.commit()
    page = client.get("/admin/relevance-model", query_string={"lang": "en"}).get_data(as_text=True)
    assert "Refit in progress" not in page
    client.post("/admin/relevance-model/refit")
    assert Session.scalar(sa.select(sa.func.count()).select_from(Job)) == 2
    page = client.get("/admin/relevance-model", query_string={"lang": "en"}).get_data(as_text=True)
    assert "Refit in progress" not in page and "Refit now" in page
