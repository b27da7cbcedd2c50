"""Every main page, as bureau staff on a phone-sized Chromium, in Chinese and in English: it answers 200,
has a heading, shows no error text, no untranslated interface strings and no sideways scrolling."""
from __future__ import annotations

import time
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from matchmaker.demo import seed
from models import Contract, Deal, Fair, ResearchResult, Session, TechNeed, User

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}

# Interface strings that must never show untranslated on a Chinese page (nav, footer, pager, money).
ENGLISH_UI = ("Log out", "Research results", "Technical needs", "Administration", "Statistics", "Matchmaker —",
              "Negotiable", "Next ›")
# And their Chinese counterparts, which must not leak onto an English page.
CHINESE_UI = ("退出", "管理后台", "统计分析", "技术对接平台", "下一页")


def _paths() -> list[str]:
    """The pages a bureau user visits, with ids taken from the demo data."""
    def first_id(model, *where) -> int:
        return Session.scalar(sa.select(model.id).where(*where).order_by(model.id).limit(1))

    result = first_id(ResearchResult, ResearchResult.status == "published", ResearchResult.confidential.is_(False))
    secret = first_id(ResearchResult, ResearchResult.status == "published", ResearchResult.confidential.is_(True))
    need = first_id(TechNeed, TechNeed.status == "published")
    contract = first_id(Contract)
    deal = first_id(Deal)
    fairs = list(Session.scalars(sa.select(Fair.id).order_by(Fair.id)))
    paths = [
        "/", "/results", "/results?q=" + quote("预测性维护"), "/needs?industry_section=C", f"/result/{result}",
        f"/result/{secret}", f"/need/{need}", "/need/new", "/my/listings", "/admin/", "/admin/review",
        "/admin/users", "/admin/organizations", "/admin/imports/", "/introductions/", "/deals/board", "/deals/",
        f"/deals/{deal}", "/contracts/", "/contracts/new", f"/contracts/{contract}", "/stats/", "/stats/matching",
        "/stats/public",
        "/fairs/", "/notifications/", "/account/profile", "/account/tokens/", "/account/webhooks/", "/api/v1/docs",
    ]
    for fair in fairs:
        paths += [f"/fairs/{fair}", f"/fairs/{fair}/participants", f"/fairs/{fair}/schedule", f"/fairs/{fair}/report"]
    paths += [f"/fairs/{fairs[-1]}/print/schedules", f"/fairs/{fairs[-1]}/print/tables"]
    return paths


@pytest.fixture
def staff_page(live_server, browser):
    with live_server.app.app_context():
        seed.load()
        staff = Session.scalars(sa.select(User).where(User.email == "staff@demo.cn")).one()
        paths = _paths()
        cookie = live_server.session_cookie(staff)
        Session.remove()
    context = browser.new_context(viewport=PHONE, locale="zh-CN")
    context.add_cookies([cookie])
    yield context.new_page(), paths
    context.close()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_main_pages_render_translated_and_fit_a_phone(live_server, staff_page, lang):
    page, paths = staff_page
    unexpected = CHINESE_UI if lang == "en" else ENGLISH_UI
    problems: list[str] = []
    # Anything the Content-Security-Policy blocks, and any script error, is a problem on that page.
    blocked: list[str] = []
    page.on("console", lambda msg: blocked.append(msg.text) if "Content Security Policy" in msg.text else None)
    page.on("pageerror", lambda error: blocked.append(f"script error: {error}"))
    started = time.monotonic()
    for path in paths:
        blocked.clear()
        url = live_server.url(path + ("&" if "?" in path else "?") + f"lang={lang}")
        response = page.goto(url, wait_until="load")
        if response is None or response.status != 200:
            problems.append(f"{path}: HTTP {response.status if response else 'no response'}")
            continue
        # The API reference renders the OpenAPI document, which is written in English like the code.
        text = page.evaluate("(() => { const body = document.body.cloneNode(true); "
                             "body.querySelectorAll('#api-reference').forEach(e => e.remove()); "
                             "return body.textContent; })()")
        if not page.locator("h1").count():
            problems.append(f"{path}: no <h1>")
        problems += [f"{path}: error text {word!r}" for word in ("Traceback", "jinja2") if word in text]
        problems += [f"{path}: untranslated {word!r}" for word in unexpected if word in text]
        problems += [f"{path}: {message[:160]}" for message in blocked]
        if path == "/api/v1/docs":
            try:  # the vendored Swagger UI draws one block per operation of the site's OpenAPI document
                page.wait_for_selector("#api-reference .opblock", timeout=15000)
            except Exception:
                problems.append(f"{path}: the API reference did not render")
        if path == "/stats/" and page.evaluate("window.Chart ? Object.keys(Chart.instances).length : 0") < 1:
            problems.append(f"{path}: the charts were not drawn")
        scroll_width, inner_width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        if scroll_width > inner_width + 1:
            problems.append(f"{path}: {scroll_width}px wide on a {inner_width}px phone")
    print(f"{len(paths)} pages in {lang} in {time.monotonic() - started:.1f}s")
    assert not problems, "\n".join(problems)
