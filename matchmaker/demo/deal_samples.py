"""Demo introductions, deals at several stages and about a year of technology contracts (written by
us, deterministic), so the pipeline and the statistics dashboard are alive after `make run`."""
from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa

from matchmaker import reference
from matchmaker.deals import contracts, deals, introductions
from models import (
    Deal,
    DealOrigin,
    DealStage,
    Fair,
    Introduction,
    IntroductionStatus,
    ListingStatus,
    ResearchResult,
    Session,
    TechNeed,
    utcnow,
)

CONTRACT_COUNT = 96
SEED = 20260101

# Parties that are not platform members: (name, legal-entity type, region).
OUTSIDE_SELLERS = [
    ("厦门海湾大学", "022", "350200"),
    ("福州工程技术研究院", "021", "350100"),
    ("浙江东海大学", "022", "330100"),
    ("深圳前沿智能科技有限公司", "150", "440300"),
    ("苏州纳微新材料有限公司", "160", "320500"),
    ("南京江北生物医药研究所", "021", "320100"),
]
OUTSIDE_BUYERS = [
    ("晋江鞋服智造有限公司", "170", "350500"),
    ("南安石材机械有限公司", "150", "350500"),
    ("德化陶瓷新材料股份有限公司", "160", "350500"),
    ("杭州云帆机器人有限公司", "150", "330100"),
    ("广州康源生物医药股份有限公司", "160", "440100"),
    ("漳州绿田农业科技有限公司", "170", "350600"),
]
PROJECTS = {
    "development": ["智能产线视觉检测系统开发", "鞋材发泡工艺优化", "石材切割机器人控制软件开发",
                    "茶叶加工装备智能化改造"],
    "transfer": ["高性能陶瓷粉体制备专利转让", "锂电池正极材料回收技术转让", "纺织印染废水处理技术转让"],
    "license": ["电机永磁同步控制专利实施许可", "益生菌发酵工艺技术秘密许可", "可降解包装膜专利许可"],
    "consulting": ["企业数字化转型技术咨询", "新材料产业园技术路线咨询"],
    "service": ["设备预测性维护技术服务", "检测方法验证技术服务", "食品安全快检技术培训"],
}
FIELDS_BY_TYPE = {
    "development": ["advanced_manufacturing", "electronic_information", "new_materials"],
    "transfer": ["new_materials", "new_energy", "environment"],
    "license": ["advanced_manufacturing", "biomedicine", "new_materials"],
    "consulting": ["electronic_information", "urban_social"],
    "service": ["advanced_manufacturing", "biomedicine", "agriculture", "electronic_information"],
}


def load(orgs: list[Any], users: dict[str, Any]) -> None:
    rng = random.Random(SEED)
    broker = users.get("broker@demo.cn")
    staff = users.get("staff@demo.cn")
    pipeline = _deals(orgs, users, broker.id if broker else None)
    _contracts(rng, orgs, pipeline, staff.id if staff else None)
    Session.flush()


def _published(model: Any) -> list[Any]:
    Session.flush()
    return list(Session.scalars(sa.select(model).where(model.status == ListingStatus.PUBLISHED)
                                .order_by(model.id).limit(20)))


def _deals(orgs: list[Any], users: dict[str, Any], broker_id: int | None) -> list[Any]:
    """Two introductions (one pending, one accepted) and one deal per stage, when the listings demo
    has published some results."""
    results, needs = _published(ResearchResult), _published(TechNeed)
    buyers = [o for o in orgs if o.kind == "enterprise"]
    if not results or not buyers:
        return []
    enterprise = users.get("enterprise@demo.cn")
    intro_pending = Introduction(
        result_id=results[0].id, owner_org_id=results[0].organization_id, counterpart_org_id=buyers[0].id,
        requested_by_id=enterprise.id if enterprise else None, origin=DealOrigin.MATCH,
        message="我们在做设备预测性维护，想了解这项成果能否用于我们的产线。", status=IntroductionStatus.PENDING)
    Session.add(intro_pending)
    _accepted_introduction(users, needs)
    stages = [DealStage.INTRODUCED, DealStage.MEETING_HELD, DealStage.NEGOTIATING, DealStage.INTENTION_SIGNED,
              DealStage.CONTRACT_SIGNED, DealStage.LOST]
    # One origin per stage above; the search and offline deals stay out of the matchmaking funnel.
    origins = [DealOrigin.MATCH, DealOrigin.FAIR, DealOrigin.SEARCH, DealOrigin.MATCH, DealOrigin.MATCH,
               DealOrigin.OFFLINE]
    actions = ["电话确认双方会面时间", "发送技术资料与报价", "安排企业到实验室考察", "起草合作意向书",
               "协助办理合同登记", ""]
    made = []
    today = date.today()
    for i, stage in enumerate(stages):
        result = results[i % len(results)]
        buyer = next((b for b in buyers[i % len(buyers):] + buyers if b.id != result.organization_id), None)
        if buyer is None:
            continue
        need = next((n for n in needs if n.organization_id == buyer.id), None)
        deal = deals.open_deal(result.id, need.id if need else None, result.organization_id, buyer.id, broker_id,
                               origins[i], stage=stage if stage != DealStage.LOST else "introduced",
                               actor_id=broker_id, commit=False)
        if stage == DealStage.LOST:
            deals.set_stage(deal, DealStage.LOST, broker_id, None)
            deal.lost_reason, deal.lost_note = "price", "企业预算不足，报价差距较大。"
        elif actions[i]:
            # One next action already overdue, so the reminder and the board's red card show.
            deal.next_action, deal.next_action_date = actions[i], today + timedelta(days=(-3 if i == 1 else 2 + i * 3))
        deal.notes.append(_note(broker_id, "首次沟通：双方对技术指标基本认可，需进一步确认价格与交付周期。"))
        made.append(deal)
    return made


def _accepted_introduction(users: dict[str, Any], needs: list[Any]) -> None:
    """The enterprise asks to meet the owner of a confidential result and the researcher accepts,
    through the services: the enterprise now sees the result's details and contact, and the deal
    that opened with the introduction starts the pipeline."""
    enterprise, researcher = users.get("enterprise@demo.cn"), users.get("researcher@demo.cn")
    if enterprise is None or researcher is None:
        return
    Session.flush()
    secret = Session.scalar(sa.select(ResearchResult).where(
        ResearchResult.status == ListingStatus.PUBLISHED, ResearchResult.confidential.is_(True),
        ResearchResult.organization_id == researcher.organization_id).order_by(ResearchResult.id).limit(1))
    if secret is None:
        return
    own_need = next((n for n in needs if n.organization_id == enterprise.organization_id), None)
    intro = introductions.request(enterprise, introductions.RequestInput(
        "result", secret.id, "我们的电机下线检验还靠老师傅听声音，想详细了解这套系统的检测精度和部署方式。",
        origin=DealOrigin.MATCH, counterpart_listing_id=own_need.id if own_need else None))
    introductions.accept(researcher, intro.id, "欢迎来实验室看演示，联系方式已开放。")


def _note(author_id: int | None, body: str) -> Any:
    from models import DealNote

    return DealNote(author_id=author_id, body=body, created_at=utcnow())


def _contracts(rng: random.Random, orgs: list[Any], pipeline: list[Any], actor_id: int | None) -> None:
    """About a year of registered contracts. Most are historical, with no deal and no fair, as a
    bureau's register is; the first closes the signed deal, the second the deal opened by an
    intention at the finished fair, and two more were signed after that fair by parties who met
    there and are linked to it by hand."""
    sellers = [(o.name, o.entity_type, o.region, o.id) for o in orgs if o.kind in ("university", "institute")]
    sellers += [(*party, None) for party in OUTSIDE_SELLERS]
    buyers = [(o.name, o.entity_type, o.region, o.id) for o in orgs if o.kind == "enterprise"]
    buyers += [(*party, None) for party in OUTSIDE_BUYERS]
    today = date.today()
    signed_deal = next((d for d in pipeline if d.stage == DealStage.CONTRACT_SIGNED), None)
    past_fair = Session.scalar(sa.select(Fair).where(Fair.end_date < today - timedelta(days=30))
                               .order_by(Fair.start_date.desc()).limit(1))
    fair_deal = Session.scalar(sa.select(Deal).where(
        Deal.fair_id == past_fair.id, Deal.fair_meeting_id.is_not(None),
        Deal.stage == DealStage.INTENTION_SIGNED).order_by(Deal.id).limit(1)) if past_fair is not None else None
    for i in range(CONTRACT_COUNT):
        ctype = rng.choice(list(PROJECTS))
        signing = today - timedelta(days=rng.randint(0, 364))
        if past_fair is not None and i in (1, 2, 3):
            signing = min(today, past_fair.end_date + timedelta(days=12 * i))
        seller, buyer = rng.choice(sellers), rng.choice(buyers)
        amount_yuan = round(10 ** rng.uniform(4.5, 6.8), -2)  # about ¥3万 to ¥630万
        tech_share = 1.0 if ctype in ("consulting", "service") else rng.uniform(0.6, 1.0)
        data = contracts.ContractInput(
            contract_type=ctype, contract_subtype=rng.choice(reference.subtypes_of(ctype)),
            project_name=f"{rng.choice(PROJECTS[ctype])}（{i + 1:03d}）",
            registration_number=(f"{signing.year}350500A{i + 1:07d}" if rng.random() < 0.85 else None),
            signing_date=signing, valid_from=signing, valid_until=signing + timedelta(days=365 * rng.randint(1, 3)),
            amount_fen=int(amount_yuan * 100), tech_amount_fen=int(round(amount_yuan * tech_share) * 100),
            payment_mode=rng.choice(reference.PAYMENT_MODES.codes),
            ip_type=rng.choice(["patent", "know_how", "software_copyright", "none"]),
            tech_field=rng.choice(FIELDS_BY_TYPE[ctype]),
            seller_org_id=seller[3], seller_name=seller[0], seller_entity_type=seller[1], seller_region=seller[2],
            buyer_org_id=buyer[3], buyer_name=buyer[0], buyer_entity_type=buyer[1], buyer_region=buyer[2],
        )
        if i == 0 and signed_deal is not None:
            _link_to_deal(data, signed_deal)
        elif i == 1 and fair_deal is not None:
            _link_to_deal(data, fair_deal)
        elif i in (2, 3) and past_fair is not None:
            data.fair_id = past_fair.id
        contracts.add(contracts.validate(data), actor_id, source="demo")


def _link_to_deal(data: contracts.ContractInput, deal: Any) -> None:
    linked = contracts.prefill_from_deal(deal.id)
    for name in ("deal_id", "result_id", "need_id", "fair_id", "seller_org_id", "seller_name",
                 "seller_entity_type", "seller_region", "buyer_org_id", "buyer_name", "buyer_entity_type",
                 "buyer_region", "project_name", "tech_field"):
        value = getattr(linked, name)
        if value not in (None, ""):
            setattr(data, name, value)
    if data.tech_field not in reference.TECH_FIELDS:
        data.tech_field = None
