"""The staff console and the parent's status page in headless Chromium, against the whole stack: sign in as network
staff, enter an inquiry taken by phone, see it arrive in the queue without a reload, acknowledge it, add a note,
resolve it; the parent reads the resolution in Spanish; another network's staff cannot open it; a form without its
CSRF token is refused; every page passes axe-core with no serious or critical violation. Screenshots go to
docs/screenshots/."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, BrowserContext, Page, expect

from tests.browser.conftest import SCREENSHOTS, account

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]
EDISON = "609794"  # Thomas A Edison Regional Gifted Center ES, served by Network 1
_axe = Axe()


async def accessible(page: Page) -> None:
    """axe-core in the page: no serious or critical violation."""
    results = await _axe.run(page)
    bad = [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v.get("impact") in ("serious", "critical")
    ]
    assert not bad, f"{page.url}: {bad}"


async def parent_mail(staff: BrowserContext, stack: dict[str, Any], address: str) -> str:
    """The text of the first email the mail catcher caught for ``address`` (notify's acknowledgment)."""
    api = stack["urls"]["mail_catcher_api"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        listed = (await (await staff.request.get(api)).json())["messages"]
        mine = [m for m in listed if any(to["Address"] == address for to in m["To"])]
        if mine:
            first = min(mine, key=lambda m: m["Created"])
            message = await staff.request.get(api.removesuffix("messages") + f"message/{first['ID']}")
            text: str = (await message.json())["Text"]
            return text
        await asyncio.sleep(0.5)
    raise AssertionError(f"no email to the parent within 30 s: {len(listed)} caught")


def status_link(text: str, reference: str) -> str:
    found = re.search(r"https?://\S+/status/" + re.escape(reference) + r"\?token=[A-Za-z0-9_-]+", text)
    assert found, "the acknowledgment carries no link to the status page"
    return found.group(0)


async def seed_open_inquiries(context: BrowserContext, stack: dict[str, Any]) -> int:
    """A few open inquiries in several networks and languages (a district system's API key), for the dashboard."""
    intake = stack["urls"]["intake_api"]
    key = {"X-API-Key": stack["demo_api_keys"][0]["key"]}
    listed = await context.request.get(
        stack["urls"]["catalog_api"].removesuffix("/resources") + "/locations?kind=school&per_page=100"
    )
    locations = (await listed.json())["contents"]
    schools = list({school["network"]: int(school["school_id"]) for school in locations if school["network"]}.values())
    languages = ["en", "es", "pl", "zh", "ar"]
    for n, school_id in enumerate(schools[:8]):
        answer = await context.request.post(
            intake,
            headers=key,
            data={
                "parent": {
                    "name": f"Parent {n}",
                    "email": f"parent{n}@example.org",
                    "preferred_language": languages[n % 5],
                },
                "student": {"school_id": school_id, "grade": "5"},
                "category": ["attendance", "transportation", "special_education"][n % 3],
                "description": "A concern for the dashboard.",
                "channel": "web",
            },
        )
        assert answer.status == 201, await answer.text()
    return min(len(schools), 8)


async def sign_in(page: Page, base: str, who: dict[str, str]) -> None:
    await page.goto(f"{base}/console/")
    await expect(page).to_have_url(re.compile(r"/console/sign-in$"))
    await page.get_by_label("Username").fill(who["username"])
    await page.get_by_label("Password").fill(who["password"])
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="Open inquiries")).to_be_visible()


async def test_a_phone_inquiry_from_entry_to_the_parents_page(stack: dict[str, Any], browser: Browser) -> None:
    base = stack["urls"]["console"].removesuffix("/console/")
    staff = await browser.new_context(viewport={"width": 1360, "height": 900})
    page = await staff.new_page()
    await page.goto(f"{base}/console/sign-in")
    await accessible(page)
    await sign_in(page, base, account(stack, role="network_staff", network_id="network-1"))
    queue_url = page.url
    await accessible(page)

    # A colleague's queue is open in another tab: it never reloads.
    watcher = await staff.new_page()
    await watcher.goto(queue_url)

    # A parent calls: staff enter the inquiry, the school picked from the directory.
    await page.get_by_role("link", name="New inquiry").click()
    await expect(page.get_by_role("heading", name=re.compile("Enter an inquiry"))).to_be_visible()
    await accessible(page)
    await page.get_by_label("Came in by").select_option("phone")
    await page.get_by_label("Parent's name").fill("Rosa Delgado")
    await page.get_by_label("Mobile phone").fill("+1 312 555 0148")
    await page.get_by_label("Email").fill("rosa.delgado@example.org")
    await page.get_by_label("Parent's language").select_option("es")
    await page.get_by_label("The parent agrees to text messages").check()
    await page.get_by_label("School (type its name)").fill(EDISON)
    await page.get_by_label("Grade").select_option("4")
    await page.get_by_label("Category").select_option("attendance")
    await page.get_by_label("The concern, in the parent's words").fill("Mi hija tiene ausencias marcadas por error.")
    await page.get_by_role("button", name="Record the inquiry").click()
    await expect(page.locator("#created")).to_contain_text("recorded")
    reference = await page.locator("#created a").inner_text()
    assert re.fullmatch(r"PSC-\d{2}-\d{6}", reference), reference
    inquiry_url = f"{base}/console/inquiries/{reference}"

    # The queue shows it once routing has assigned it, without a reload (the page polls for new rows).
    await expect(watcher.locator("#queue-rows tr", has_text=reference)).to_be_visible(timeout=45_000)
    await watcher.close()
    row = page.locator("#queue-rows tr", has_text=reference)
    await expect(row).to_be_visible(timeout=45_000)
    await expect(row).to_contain_text("Network 1")
    await expect(row).to_contain_text("Thomas A Edison")

    # Search by parent name: POSTed, so the name is in no URL.
    await page.get_by_label("Parent name").fill("Delgado")
    await page.get_by_role("button", name="Search").click()
    await expect(page.locator("#queue-rows tr", has_text=reference)).to_be_visible()
    assert "Delgado" not in page.url
    await page.get_by_label("Parent name").fill("Nobody Here")
    await page.get_by_role("button", name="Search").click()
    await expect(page.locator("#queue-rows")).to_contain_text("No open inquiries.")
    await page.goto(queue_url)
    await accessible(page)
    await page.screenshot(path=str(SCREENSHOTS / "queue.png"), full_page=True)

    # Acknowledge, add a note the parent sees, resolve.
    await row.get_by_role("link", name=reference).click()
    await expect(page.locator("#h-routing + p")).to_contain_text("Network 1")
    await accessible(page)
    await page.get_by_role("button", name="Acknowledge").click()
    await expect(page.get_by_text("Done: Acknowledge.")).to_be_visible()
    # Give it to a colleague of the same network and tier: routing reassigns, and its event reaches the history.
    options = await page.locator("#staff_id option").evaluate_all("options => options.map(o => o.value)")
    colleagues = [value for value in options if value.startswith("network-1-staff") and value != "network-1-staff-1"]
    assert colleagues, "routing lists no colleague to reassign to"
    await page.get_by_label("Reassign to").select_option(colleagues[0])
    await page.get_by_role("button", name="Reassign").click()
    await expect(page.get_by_text("Done: Reassign.")).to_be_visible()
    for _ in range(40):
        if "inquiry.reassigned" in await page.locator("#h-history ~ table").first.inner_text():
            break
        await page.wait_for_timeout(250)
        await page.reload()
    await expect(page.locator("#h-routing + p")).to_contain_text(colleagues[0])
    await page.get_by_label("Note", exact=True).fill("Hablamos con la escuela; revisan la asistencia.")
    await page.get_by_label("Visible to the parent").check()
    await page.get_by_role("button", name="Add note").click()
    await expect(page.get_by_text("Done: Add note.")).to_be_visible()
    await page.get_by_label("Resolution (written to the parent)").fill("La escuela corrigió las ausencias.")
    await page.get_by_role("button", name="Resolve").click()
    await expect(page.get_by_text("Done: Resolve.")).to_be_visible()
    await expect(page.locator("h1 .status")).to_have_text("resolved")
    await expect(page.locator("#h-history ~ table").first).to_contain_text("inquiry.resolved")
    await page.screenshot(path=str(SCREENSHOTS / "inquiry.png"), full_page=True)

    # A form without its CSRF token is refused, and nothing changes.
    refused = await staff.request.post(f"{inquiry_url}/notes", form={"text": "no token"})
    assert refused.status == 403
    refused = await staff.request.post(f"{inquiry_url}/notes", form={"text": "wrong", "csrf_token": "0" * 64})
    assert refused.status == 403
    await page.reload()
    await expect(page.get_by_text("no token")).to_have_count(0)

    # The parent follows the link in the acknowledgment (notify's email, caught by the stack's mail catcher): the page
    # is in the inquiry's language, Spanish, and shows the resolution.
    link = status_link(await parent_mail(staff, stack, "rosa.delgado@example.org"), reference)
    parent = await (await browser.new_context(viewport={"width": 1000, "height": 800})).new_page()
    await parent.goto(link)
    await expect(parent.locator("html")).to_have_attribute("lang", "es")
    await expect(parent.locator("#parent-status")).to_have_text("Resuelta")
    await expect(parent.get_by_text("La escuela corrigió las ausencias.")).to_be_visible()

    # Or by reference and the phone's last four digits, in the form (POSTed: no digits in the URL).
    await parent.goto(stack["urls"]["status_page"])
    await accessible(parent)
    await parent.get_by_label("Reference number").fill(reference)
    await parent.get_by_label("Last four digits of your mobile phone").fill("0148")
    await parent.get_by_role("button", name="Show my inquiry").click()
    await expect(parent.locator("html")).to_have_attribute("lang", "es")
    await expect(parent.locator("#parent-status")).to_have_text("Resuelta")
    await expect(parent.get_by_text("Hablamos con la escuela; revisan la asistencia.")).to_be_visible()
    assert "0148" not in parent.url
    await accessible(parent)
    await parent.screenshot(path=str(SCREENSHOTS / "status-page.png"), full_page=True)
    # Right to left in Arabic, by the language switcher.
    await parent.get_by_role("button", name="العربية").click()
    await expect(parent.locator("html")).to_have_attribute("dir", "rtl")
    await expect(parent.locator("#parent-status")).to_have_text("تم الحل")
    await accessible(parent)
    # A wrong factor shows nothing of the inquiry.
    await parent.goto(f"{stack['urls']['status_page']}?lang=es")
    await parent.get_by_label("Número de referencia").fill(reference)
    await parent.get_by_label("Últimos cuatro dígitos de su teléfono móvil").fill("9999")
    await parent.get_by_role("button", name="Ver mi consulta").click()
    await expect(parent.get_by_role("alert")).to_contain_text("No encontramos")

    # The parent's form without its CSRF token is refused too (in the parent's language).
    refused = await parent.context.request.post(
        stack["urls"]["status_page"], form={"reference": reference, "phone_last4": "0148", "lang": "es"}
    )
    assert refused.status == 403 and "Este formulario caducó" in await refused.text()

    # Another network's staff cannot open it.
    other = await (await browser.new_context()).new_page()
    await sign_in(other, base, account(stack, role="network_staff", network_id="network-2"))
    await other.goto(inquiry_url)
    await expect(other.get_by_role("heading", name="No such inquiry")).to_be_visible()
    await expect(other.get_by_text("Rosa Delgado")).to_have_count(0)

    # Central staff: every network's queue, the dashboard with the equity view, and its CSV.
    central = await (await browser.new_context(viewport={"width": 1360, "height": 1000})).new_page()
    await sign_in(central, base, account(stack, role="central_staff", network_id="central"))
    await expect(central.get_by_label("Network")).to_be_visible()
    seeded = await seed_open_inquiries(central.context, stack)
    await central.get_by_role("link", name="Dashboard").click()
    await expect(central.get_by_role("heading", name="Dashboard")).to_be_visible()
    for _ in range(40):  # routing assigns them in a moment
        if "Not routed yet" not in await central.locator("section[aria-labelledby=h-load] table").inner_text():
            break
        await central.wait_for_timeout(250)
        await central.reload()
    assert int(await central.locator(".tiles li").first.locator(".n").inner_text()) >= seeded
    await expect(central.locator("svg.chart rect.bar-open").first).to_be_visible()
    await expect(central.locator("table.equity")).to_contain_text("District")
    await accessible(central)
    await central.screenshot(path=str(SCREENSHOTS / "dashboard.png"), full_page=True)
    csv = await central.context.request.get(f"{base}/console/dashboard.csv?by=language")
    assert csv.status == 200
    table = (await csv.text()).splitlines()
    assert table[0].startswith("dimension,group,cases")
    assert any(line.startswith("language,Spanish,") for line in table)
    await central.get_by_label("By", exact=True).select_option("language")
    await central.get_by_role("button", name="Show").click()
    await expect(central.locator("table.equity")).to_contain_text("Spanish")

    # Signing out ends the session.
    await page.get_by_role("button", name="Sign out").click()
    await page.goto(queue_url)
    await expect(page).to_have_url(re.compile(r"/console/sign-in$"))
