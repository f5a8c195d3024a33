"""The organisers' console in a real browser (Debian's chromium, driven by Playwright).

Run by Tests/SystemTests/ConsoleBrowserTests.swift against the real services on the seed
scenario; it only drives the pages and reports what it saw as JSON (--out), the Swift test
judges it against the services' own stores. Screenshots of the main pages go to --screenshots.

    console_browser.py --url http://127.0.0.1:PORT --organiser NAME:PASSWORD --marshal NAME:PASSWORD \
        --personal-data NAME:PASSWORD --checkin BUS DAY CODE_HERE CODE_ELSEWHERE REGISTRATION \
        --day 2026-01-14 --at 14:00 --move REGISTRATION_ID BUS DAY --out result.json [--screenshots DIR]
"""

import argparse
import json
import os
import sys
import time

from playwright.sync_api import sync_playwright


def login(page, base, account):
    name, password = account.split(":", 1)
    page.goto(f"{base}/")
    assert page.url.endswith("/login"), f"not sent to the login page: {page.url}"
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", password)
    page.click("form.login button")
    page.wait_for_url(f"{base}/")


def shot(page, folder, name):
    if folder:
        page.screenshot(path=os.path.join(folder, f"console-{name}.png"), full_page=True)


def post_without_token(page, path):
    """A form sent by the page's own script without its CSRF token: the status."""
    return page.evaluate(
        """path => fetch(path, {method: "POST", headers: {"Content-Type": "application/x-www-form-urlencoded"},
                                body: "reason=forged"}).then(r => r.status)""",
        path,
    )


def post_with_token(page, path):
    """The page's own CSRF token sent with a form the page does not offer: the status."""
    return page.evaluate(
        """path => { const token = document.querySelector("input[name=_csrf]").value;
                      return fetch(path, {method: "POST", headers: {"Content-Type": "application/x-www-form-urlencoded"},
                                          body: "_csrf=" + encodeURIComponent(token) + "&reason=marshal"}).then(r => r.status); }""",
        path,
    )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--organiser", required=True)
    parser.add_argument("--marshal", required=True)
    parser.add_argument("--personal-data", required=True, help="NAME:PASSWORD of a marshal with the personal-data role")
    parser.add_argument("--checkin", nargs=5, required=True, metavar=("BUS", "DAY", "CODE_HERE", "CODE_ELSEWHERE", "REGISTRATION"),
                        help="a bus and day, the pass code of one of its riders, of a rider of another bus, and the first's registration")
    parser.add_argument("--day", required=True)
    parser.add_argument("--at", required=True)
    parser.add_argument("--move", nargs=3, metavar=("REGISTRATION", "BUS", "DAY"), required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--screenshots")
    parser.add_argument("--timeout", type=float, default=90)
    args = parser.parse_args()
    base = args.url.rstrip("/")
    result = {}
    if args.screenshots:
        os.makedirs(args.screenshots, exist_ok=True)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        organiser = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
        page = organiser.new_page()
        login(page, base, args.organiser)
        result["overview"] = {
            key: page.inner_text(f"#{key}") for key in ["accepted", "waitlisted", "delegates", "with-itinerary", "failed", "parked"]
        }
        shot(page, args.screenshots, "overview")

        # Who is on which bus at that time, and where: as the page says it.
        page.goto(f"{base}/plan?day={args.day}&at={args.at}")
        result["buses"] = {}
        for section in page.query_selector_all("section.bus"):
            bus = section.get_attribute("data-bus")
            where = section.query_selector(".where")
            result["buses"][bus] = {
                "where": where.inner_text() if where else "",
                "riders": [item.inner_text() for item in section.query_selector_all("ul.riders li a")],
            }
        result["timeline"] = page.locator("figure.timeline svg g.stop").count()
        shot(page, args.screenshots, "plan")

        page.goto(f"{base}/registrations")
        result["registrations"] = page.locator("table.registrations tbody tr").count()
        shot(page, args.screenshots, "registrations")

        # Every page in the three languages (the choice is kept in a cookie).
        result["languages"] = {}
        for code in ["vi", "zh-Hans", "en"]:
            page.goto(f"{base}/?lang={code}")
            result["languages"][code] = {
                "lang": page.get_attribute("html", "lang"),
                "nav": page.inner_text("header.top nav"),
            }
            if code != "en":
                shot(page, args.screenshots, f"overview-{code}")

        # A form sent without its CSRF token is refused.
        registration, bus, day = args.move
        page.goto(f"{base}/registrations/{registration}")
        result["withoutToken"] = post_without_token(page, f"/registrations/{registration}/cancel")

        # Move the delegation: put it on another bus for the day, and wait for the planner's
        # answer and the new itinerary on its page.
        before = [cell.inner_text() for cell in page.query_selector_all("table.itinerary tbody tr td:nth-child(5)")]
        page.select_option("#pin-form select[name=busID]", bus)
        page.select_option("#pin-form select[name=day]", day)
        page.fill("#pin-form input[name=reason]", "moved from the browser test")
        page.click("#pin-form button")
        page.wait_for_selector("p.action")
        result["actionShown"] = page.inner_text("p.action")
        deadline = time.time() + args.timeout
        buses = before
        while time.time() < deadline:
            page.goto(f"{base}/registrations/{registration}")
            buses = [cell.inner_text() for cell in page.query_selector_all("table.itinerary tbody tr td:nth-child(5)")]
            if bus in buses:
                break
            time.sleep(1)
        result["move"] = {"before": before, "after": buses}
        shot(page, args.screenshots, "registration")
        page.goto(f"{base}/plan?day={day}")
        overrides = page.query_selector_all("table tbody tr")
        result["overrides"] = [row.inner_text() for row in overrides if "pin" in row.inner_text()]
        page.goto(f"{base}/audit")
        result["audit"] = page.inner_text("table.audit tbody")
        shot(page, args.screenshots, "audit")

        # A marshal sees the pages but is refused an organiser's action.
        marshal = browser.new_context(viewport={"width": 1280, "height": 900})
        other = marshal.new_page()
        login(other, base, args.marshal)
        other.goto(f"{base}/registrations/{registration}")
        result["marshalOffered"] = other.locator("#cancel-form").count()
        result["marshalRefused"] = post_with_token(other, f"/registrations/{registration}/cancel")
        # Document numbers: not offered to that marshal, shown to one with the personal-data role.
        documents_page = f"{base}/manifests?day={args.day}&col=name&col=document-number"
        other.goto(documents_page)
        result["marshalDocumentColumn"] = other.locator("input[value=document-number]").count()
        result["marshalCells"] = [cell.inner_text() for cell in other.query_selector_all("table.manifest tbody td")]
        allowed = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        login(allowed, base, args.personal_data)
        allowed.goto(documents_page)
        result["documents"] = [
            [cell.inner_text() for cell in row.query_selector_all("td")][:2]
            for row in allowed.query_selector_all("table.manifest tbody tr")
        ]

        # Check-in on a phone that loses the network: a rider's code is kept offline, another
        # bus's rider is refused offline, a second scan is harmless; back online, the scan is sent.
        checkin_bus, checkin_day, code_here, code_elsewhere, lead_registration = args.checkin
        phone = browser.new_context(viewport={"width": 400, "height": 800})
        scanner = phone.new_page()
        login(scanner, base, args.marshal)
        scanner.goto(f"{base}/checkin?day={checkin_day}&bus={checkin_bus}")
        expected = scanner.inner_text("#expected")
        phone.set_offline(True)

        def scan(value):
            scanner.fill("#scan-input", value)
            scanner.press("#scan-input", "Enter")
            return scanner.inner_text("#last")

        report = {"expected": expected, "kept": scan(code_here), "queuedOffline": scanner.inner_text("#queued"),
                  "network": scanner.inner_text("#network"), "elsewhere": scan(code_elsewhere), "twice": scan(code_here)}
        shot(scanner, args.screenshots, "checkin")
        phone.set_offline(False)
        deadline = time.time() + args.timeout
        while time.time() < deadline and scanner.inner_text("#queued") != "0":
            time.sleep(0.5)
        report["queuedOnline"] = scanner.inner_text("#queued")
        report["checked"] = scanner.inner_text("#checked")
        scanner.reload()
        report["checkedAfterReload"] = scanner.inner_text("#checked")
        # The bus left long ago (the seed's January): who is not on board is missing. The lead
        # of the first rider's delegation answers for the rest of it.
        report["missingShown"] = "yes" if scanner.is_visible("#missing") else "no"
        report["missingBefore"] = scanner.inner_text("#missing-count")
        scanner.click(f"button.lead[data-registration='{lead_registration}']")
        deadline = time.time() + args.timeout
        while time.time() < deadline and scanner.inner_text("#queued") != "0":
            time.sleep(0.5)
        report["missingAfter"] = scanner.inner_text("#missing-count")
        report["checkedAfterLead"] = scanner.inner_text("#checked")
        result["checkin"] = report
        browser.close()

    with open(args.out, "w", encoding="utf-8") as out:
        json.dump(result, out, ensure_ascii=False, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
