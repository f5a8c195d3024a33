"""Helpers of deploy/demo: wait for the services, wait for the scenario to settle, print the report.

  demo_report.py ready  --ports R I N [C] --timeout S
  demo_report.py wait   --event E --ports R I N --registrations FILE --timeout S
  demo_report.py report --event E --ports R I N --registrations FILE --demo DIR --elapsed S

R, I, N, C: the HTTP ports of registrations, itineraries, notifications and the console (127.0.0.1).
Only the standard library; reads the services' HTTP APIs and the notifications store.
"""
import argparse, collections, json, os, sqlite3, sys, time, urllib.error, urllib.parse, urllib.request
from datetime import datetime, timedelta, timezone


def get(port, path, raw=False):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
        data = response.read()
        return data if raw else json.loads(data)


def try_get(port, path):
    try:
        return get(port, path)
    except (urllib.error.URLError, OSError, ValueError):
        return None


def ready(args):
    deadline = time.time() + args.timeout
    for port in args.ports:
        while True:
            try:
                get(port, "/health/ready")
                break
            except (urllib.error.URLError, OSError, ValueError):
                if time.time() > deadline:
                    print(f"nothing ready on 127.0.0.1:{port}", file=sys.stderr)
                    return 1
                time.sleep(0.2)
    return 0


def expected_references(path):
    return {(r["eventID"], r["reference"]) for r in json.load(open(path))}


def progress(args):
    """What is settled so far: (decided, expected, planned, accepted, notification counts)."""
    r, i, n = args.ports[:3]
    expected = len([e for e in expected_references(args.registrations) if e[0] == args.event])
    listing = try_get(r, f"/events/{urllib.parse.quote(args.event)}/registrations") or {"counts": {}, "registrations": []}
    counts = listing["counts"]
    decided = sum(counts.get(k, 0) for k in ("accepted", "waitlisted", "rejected", "cancelled"))
    accepted = {s["registrationID"] for s in listing["registrations"] if s["status"] == "accepted"}
    plan = try_get(i, f"/events/{urllib.parse.quote(args.event)}/plan")
    planned = set(plan["plan"].get("delegations", [])) if plan else set()
    notifications = try_get(n, "/notifications/counts") or {}
    return decided, expected, len(accepted & planned), len(accepted), notifications


def wait(args):
    deadline = time.time() + args.timeout
    settled_since, last = None, None
    while time.time() < deadline:
        decided, expected, planned, accepted, notifications = progress(args)
        busy = notifications.get("pending", 0) + notifications.get("sending", 0)
        done = decided >= expected and accepted > 0 and planned == accepted and busy == 0 and notifications.get("sent", 0) > 0
        state = (decided, planned, json.dumps(notifications, sort_keys=True))
        if done and state == last:
            settled_since = settled_since or time.time()
            if time.time() - settled_since >= 3:
                return 0
        else:
            settled_since = None
        last = state
        print(f"  decided {decided}/{expected}, planned {planned}/{accepted}, notifications {notifications}", file=sys.stderr)
        time.sleep(1)
    print("the scenario did not settle in time; see .run/demo/logs/", file=sys.stderr)
    return 1


def report(args):
    r, i, n = args.ports[:3]
    event = urllib.parse.quote(args.event)
    programme = json.load(open(os.path.join(os.path.dirname(args.registrations), "programme.json")))
    zone = timezone(timedelta(hours=7))  # Asia/Ho_Chi_Minh has no daylight saving
    venues = {v["id"]: v["name"].get("en") or v["id"] for v in programme["venues"]}
    submissions = {s["reference"]: s for s in json.load(open(args.registrations))}
    listing = get(r, f"/events/{event}/registrations")
    counts = listing["counts"]
    by_id = {s["registrationID"]: s for s in listing["registrations"]}

    def clock(text):
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(zone).strftime("%H:%M")

    print("\n=== Delegation demo: " + (programme["name"].get("en") or args.event) + " ===")
    print(f"Registrations: {counts.get('accepted', 0)} accepted ({counts.get('delegatesAccepted', 0)} delegates), "
          f"{counts.get('waitlisted', 0)} waitlisted, {counts.get('rejected', 0)} rejected")
    roles = collections.Counter(s["role"] for s in listing["registrations"] if s["status"] == "accepted")
    print("  accepted by role: " + ", ".join(f"{k} {v}" for k, v in sorted(roles.items())))

    view = get(i, f"/events/{event}/plan")
    plan = view["plan"]
    score = view.get("score") or {}
    print(f"\nPlan version {view['version']}: score {score.get('total')}, {score.get('preferredGranted')}/{score.get('preferredAsked')} preferred visits granted, "
          f"{score.get('interpreterCovered')}/{score.get('interpreterNeeded')} interpreter needs covered, {len(view.get('violations', []))} constraint violations")
    for tour in sorted(plan["tours"], key=lambda t: (t["day"], t["busID"])):
        people = sum(by_id.get(p, {}).get("delegates", 0) for p in tour["passengers"])
        stops = ", ".join(f"{venues.get(s['venueID'], s['venueID'])} {clock(s['arrival'])}-{clock(s['departure'])}" for s in tour["stops"])
        print(f"  {tour['day']} {tour['busID']}: leaves {clock(tour['departure'])}, {len(tour['passengers'])} delegations / {people} people: {stops}")
    meetings = plan["meetings"]
    print(f"Meetings: {len(meetings)} scheduled ({sum(1 for m in meetings if m['mutual'])} of mutual interest) "
          f"in {len({m['slotID'] for m in meetings})} slots")
    unmet = sum(len(v) for v in plan.get("unmet", {}).values())
    print(f"Wishes not granted: {unmet} (each with its reason in the delegation's itinerary)")

    db = sqlite3.connect(os.path.join(args.demo, "notifications.sqlite"))
    rows = db.execute("SELECT json_extract(recipient, '$.language'), coalesce(sent_channel, '-'), status, count(*) "
                      "FROM notifications GROUP BY 1, 2, 3 ORDER BY 1, 2, 3").fetchall()
    kinds = db.execute("SELECT kind, count(*) FROM notifications GROUP BY 1 ORDER BY 1").fetchall()
    print("\nNotifications by language and channel:")
    for language, channel, status, count in rows:
        print(f"  {language:8} {channel:8} {status:10} {count}")
    print("  by kind: " + ", ".join(f"{k} {c}" for k, c in kinds))

    ics_dir = os.path.join(args.demo, "ics")
    written = 0
    for summary in listing["registrations"]:
        if summary["status"] != "accepted":
            continue
        language = submissions.get(summary["reference"], {}).get("leadContact", {}).get("language", "en")
        try:
            data = get(i, f"/events/{event}/delegations/{summary['registrationID']}/itinerary.ics?lang={language}", raw=True)
        except urllib.error.HTTPError:
            continue
        with open(os.path.join(ics_dir, f"{summary['reference']}.ics"), "wb") as f:
            f.write(data)
        written += 1
    mails = len([f for f in os.listdir(os.path.join(args.demo, "mail")) if f.endswith(".eml")])
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    rel = os.path.relpath(args.demo, root)
    print(f"\nFiles: {mails} e-mails in {rel}/mail/ (raw .eml), {written} itineraries in {rel}/ics/, logs in {rel}/logs/")
    print(f"Elapsed from the first publish to settled: {args.elapsed} s")
    return 0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["ready", "wait", "report"])
    # ready: every service's port (the console's too); wait and report: registrations, itineraries, notifications
    parser.add_argument("--ports", type=int, nargs="+", required=True)
    parser.add_argument("--event")
    parser.add_argument("--registrations")
    parser.add_argument("--demo")
    parser.add_argument("--timeout", type=float, default=240)
    parser.add_argument("--elapsed", default="?")
    args = parser.parse_args()
    if args.command == "ready":
        return ready(args)
    if args.command == "wait":
        return wait(args)
    return report(args)


if __name__ == "__main__":
    sys.exit(main())
