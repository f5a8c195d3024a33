"""The day itself in a real browser (Debian's chromium, driven by Playwright): boarding and the
gate before a bus leaves, then, once it has left, the lead's answer through the alert's link and
the marshal's "will not come".

Run by Tests/SystemTests/MissingRiderSystemTests.swift against the real services; it drives the
pages and reports what it saw as JSON (--out); the Swift test judges it against the stores.

    missing_browser.py board --url URL --marshal NAME:PASSWORD --day DAY --bus BUS --lead REGISTRATION \
        --gate VENUE --gate-code CODE --out result.json
    missing_browser.py answer --url URL --marshal NAME:PASSWORD --day DAY --bus BUS --link ANSWER_URL --tick PERSON \
        --absent REGISTRATION PERSON --out result.json
"""

import argparse
import json
import sys
import time

from playwright.sync_api import sync_playwright

from console_browser import login


def wait_sent(page, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline and page.inner_text("#queued") != "0":
        time.sleep(0.5)
    return page.inner_text("#queued")


def board(browser, args):
    """The lead answers for the whole delegation at the bus door; at the venue's gate, one
    rider's code is kept and a code nobody there holds is refused at once."""
    page = browser.new_context(viewport={"width": 400, "height": 800}).new_page()
    login(page, args.url, args.marshal)
    page.goto(f"{args.url}/checkin?day={args.day}&bus={args.bus}")
    report = {"expected": page.inner_text("#expected")}
    page.click(f"button.lead[data-registration='{args.lead}']")
    report["queued"] = wait_sent(page, args.timeout)
    report["checked"] = page.inner_text("#checked")
    page.goto(f"{args.url}/checkin?day={args.day}&venue={args.gate}")

    def scan(value):
        page.fill("#scan-input", value)
        page.press("#scan-input", "Enter")
        return page.inner_text("#last")

    report["gateExpected"] = page.inner_text("#expected")
    report["gateKept"] = scan(args.gate_code)
    report["gateQueued"] = wait_sent(page, args.timeout)
    report["gateUnknown"] = scan("ZZZZ-ZZZZ")
    return report


def answer(browser, args):
    """The lead opens the alert's link (no account), ticks one delegate; the marshal, after the
    departure, says another will not come; the page counts them out."""
    lead = browser.new_context(viewport={"width": 400, "height": 800}, locale="vi-VN").new_page()
    lead.goto(args.link)
    report = {"title": lead.inner_text("h1"), "boxes": lead.locator("input[type=checkbox]").count()}
    lead.check(f"input[name='person-{args.tick}']")
    lead.click("form.answer button")
    lead.wait_for_selector("#answered")
    report["answered"] = lead.inner_text("#answered")
    report["boxesAfter"] = lead.locator("input[type=checkbox]").count()

    page = browser.new_context(viewport={"width": 400, "height": 800}).new_page()
    login(page, args.url, args.marshal)
    page.goto(f"{args.url}/checkin?day={args.day}&bus={args.bus}")
    registration, person = args.absent
    report["missingBefore"] = page.inner_text("#missing-count")
    shown = page.inner_text("#all")
    page.click(f"tr[data-registration='{registration}'][data-person='{person}'] button.absent")
    deadline = time.time() + args.timeout
    while time.time() < deadline and page.get_attribute(
            f"tr[data-registration='{registration}'][data-person='{person}']", "data-declined") != "1":
        time.sleep(0.2)
    report["missingAfter"] = page.inner_text("#missing-count")
    report["expectedAfter"] = page.inner_text("#expected")
    # Every marshal's figures, read from the console every 5 s: the next reading counts them out.
    deadline = time.time() + args.timeout
    while time.time() < deadline and page.inner_text("#all") in (shown, "–", ""):
        time.sleep(0.5)
    report["all"] = page.inner_text("#all")
    return report


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("phase", choices=["board", "answer"])
    parser.add_argument("--url", required=True)
    parser.add_argument("--marshal", required=True)
    parser.add_argument("--day", required=True)
    parser.add_argument("--bus", required=True)
    parser.add_argument("--lead")
    parser.add_argument("--gate")
    parser.add_argument("--gate-code")
    parser.add_argument("--link")
    parser.add_argument("--tick")
    parser.add_argument("--absent", nargs=2, metavar=("REGISTRATION", "PERSON"))
    parser.add_argument("--out", required=True)
    parser.add_argument("--timeout", type=float, default=60)
    args = parser.parse_args()
    args.url = args.url.rstrip("/")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        result = board(browser, args) if args.phase == "board" else answer(browser, args)
        browser.close()
    with open(args.out, "w", encoding="utf-8") as out:
        json.dump(result, out, ensure_ascii=False, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
