"""The soak benchmark's helper (deploy/bench-soak runs it with Debian's python3).

  soak.py data --notifications N --out DIR   events (the seed programme under new ids, room for
                                             everyone, no deadline) and their registrations (the
                                             seed's 38 each), enough for at least N notifications;
                                             prints how many notifications that makes at least
  soak.py watch --pids NAME=PID... --store NOTIFICATIONS.sqlite --expect N --out SAMPLES.csv
                                             samples each process's resident memory every
                                             --every seconds until at least N notifications are
                                             sent, nothing is pending and the count holds, then
                                             --idle seconds more; prints one JSON line of figures
"""
import argparse, copy, json, os, sqlite3, sys, time

from measure import SAMPLE, cpu_seconds


def notifications_per_event(seed):
    """At least: each lead's acceptance and itinerary, each other delegate address's itinerary."""
    return sum(2 + len({d["email"].lower() for d in r["delegates"] if d.get("email")} - {r["leadContact"]["email"].lower()}) for r in seed)


def data(args):
    programme = json.load(open(os.path.join(SAMPLE, "programme.json")))
    programme.pop("registrationDeadline", None)
    programme["capacity"] = {"organisations": 1000, "delegates": 10_000}
    seed = json.load(open(os.path.join(SAMPLE, "registrations.json")))
    per_event = notifications_per_event(seed)
    events = max(1, -(-args.notifications // per_event))
    os.makedirs(os.path.join(args.out, "programmes"), exist_ok=True)
    with open(os.path.join(args.out, "registrations.ndjson"), "w", encoding="utf-8") as f:
        for index in range(events):
            event = f"{programme['eventID']}-soak{index}"
            copy_of = dict(programme, eventID=event)
            json.dump(copy_of, open(os.path.join(args.out, "programmes", f"{index:05d}.json"), "w", encoding="utf-8"), ensure_ascii=False)
            for submission in seed:
                record = copy.deepcopy(submission)
                record["eventID"] = event
                f.write(json.dumps(record, ensure_ascii=False) + "\n")
    print(events * per_event)


def rss_mb(pid):
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None


def counts(store):
    db = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    try:
        sent = db.execute("SELECT count(*) FROM notifications WHERE status = 'sent'").fetchone()[0]
        busy = db.execute("SELECT count(*) FROM notifications WHERE status IN ('pending', 'sending')").fetchone()[0]
        return sent, busy
    except sqlite3.Error:
        return 0, 1
    finally:
        db.close()


def watch(args):
    pids = dict((p.split("=")[0], int(p.split("=")[1])) for p in args.pids)
    names = sorted(pids)
    cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    started = time.time()
    samples = []
    done_at = None
    with open(args.out, "w") as out:
        out.write("seconds,sent," + ",".join(f"{n}_rss_mb" for n in names) + "\n")
        while True:
            now = time.time() - started
            sent, busy = counts(args.store)
            rss = {name: rss_mb(pid) for name, pid in pids.items()}
            samples.append((now, sent, rss))
            out.write(f"{now:.0f},{sent}," + ",".join(f"{rss[n]:.1f}" if rss[n] else "" for n in names) + "\n")
            out.flush()
            steady = len(samples) >= 2 and samples[-2][1] == sent
            if done_at is None and sent >= args.expect and busy == 0 and steady:
                done_at = now
                print(f"  {sent} notifications sent after {now:.0f} s; idle for {args.idle} s", file=sys.stderr)
            if done_at is not None and now - done_at >= args.idle:
                break
            if now > args.timeout:
                print(f"only {sent} of {args.expect} notifications sent after {now:.0f} s", file=sys.stderr)
                return 1
            if len(samples) % 6 == 0:
                print(f"  {now:.0f} s: {sent} sent, " + ", ".join(f"{n} {rss[n]:.0f} MB" for n in names if rss[n]), file=sys.stderr)
            time.sleep(args.every)

    def at_sent(fraction):
        """The first sample once `fraction` of the notifications were sent."""
        return next(s for s in samples if s[1] >= fraction * args.expect)

    tenth, half, end, last = at_sent(0.1), at_sent(0.5), at_sent(1.0), samples[-1]
    figures = {
        "notifications": end[1], "seconds": round(done_at), "per_second": round(end[1] / done_at),
        "rss_mb": {
            name: {
                "at_10_percent": round(tenth[2][name] or 0), "at_50_percent": round(half[2][name] or 0), "at_100_percent": round(end[2][name] or 0),
                "after_idle": round(last[2][name] or 0), "peak": round(max(s[2][name] or 0 for s in samples)),
                # MB per 10,000 notifications between the first tenth and the end: flat is ~0.
                "growth_per_10k": round(((end[2][name] or 0) - (tenth[2][name] or 0)) / max(1, end[1] - tenth[1]) * 10_000, 1),
            } for name in names
        },
        "cpu_seconds": {name: round((cpu_seconds(pid) or 0) - (cpu_before[name] or 0), 1) for name, pid in pids.items()},
    }
    print(json.dumps(figures))
    return 0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["data", "watch"])
    parser.add_argument("--notifications", type=int)
    parser.add_argument("--out")
    parser.add_argument("--pids", nargs="*", default=[], help="name=pid")
    parser.add_argument("--store")
    parser.add_argument("--expect", type=int)
    parser.add_argument("--every", type=float, default=5)
    parser.add_argument("--idle", type=float, default=30)
    parser.add_argument("--timeout", type=float, default=3600)
    args = parser.parse_args()
    return {"data": data, "watch": watch}[args.command](args) or 0


if __name__ == "__main__":
    sys.exit(main())
