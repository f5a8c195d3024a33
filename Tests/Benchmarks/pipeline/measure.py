"""The whole-pipeline benchmark's helper (deploy/bench-pipeline runs it with Debian's python3).

  measure.py data --count N --out DIR        a programme with room for everyone and N submissions
  measure.py sink --maildir DIR              an SMTP server that accepts everything (prints "ready PORT")
  measure.py pace --rate R --file F.ndjson --out PUBLISHED.json -- OPS...
                                              publishes F with `OPS publish registrations` R a second,
                                              writing when each registration was published
  measure.py wait --count N --ports R I N --store NOTIFICATIONS.sqlite --pids P... --started T
        [--published PUBLISHED.json]          waits until all N are decided, planned and notified;
                                              prints one JSON line of figures (latency from each
                                              registration's own publish with --published)

The submissions are the seed scenario's 38 (deploy/sample-data), repeated with new references.
"""
import argparse, asyncio, copy, hashlib, json, os, sqlite3, subprocess, sys, tempfile, time, urllib.error, urllib.parse, urllib.request
from datetime import datetime

SAMPLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "deploy", "sample-data")


def data(args):
    programme = json.load(open(os.path.join(SAMPLE, "programme.json")))
    programme["capacity"] = {"organisations": 1_000_000, "delegates": 10_000_000}
    # The scenario's deadline (January 2026) is judged on when a submission arrives: lift it.
    programme.pop("registrationDeadline", None)
    seed = json.load(open(os.path.join(SAMPLE, "registrations.json")))
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "programme.json"), "w") as f:
        json.dump(programme, f)
    with open(os.path.join(args.out, "registrations.ndjson"), "w") as f:
        for index in range(args.count):
            submission = copy.deepcopy(seed[index % len(seed)])
            submission["reference"] = f"{submission['reference']}-b{index}"
            f.write(json.dumps(submission, ensure_ascii=False) + "\n")
    print(programme["eventID"])


def registration_id(event, reference):
    """As the services name a registration (Shared/Messages/Partitioning.swift)."""
    return "reg-" + hashlib.sha256(f"{event}|{reference}".encode()).hexdigest()[:20]


def pace(args):
    """`rate` registrations a second in `batches` evenly spaced batches (one a second unless
    told), each through delegation-ops (with confirms)."""
    lines = open(args.file, encoding="utf-8").read().splitlines()
    published = {}
    start = time.time()
    size = max(1, args.rate // args.batches)
    with tempfile.TemporaryDirectory() as folder:
        for index, first in enumerate(range(0, len(lines), size)):
            batch = lines[first:first + size]
            second = index * size / args.rate
            time.sleep(max(0, start + second - time.time()))
            at = time.time()
            path = os.path.join(folder, f"batch-{index}.ndjson")
            with open(path, "w", encoding="utf-8") as f:
                f.write("\n".join(batch) + "\n")
            subprocess.run(args.ops + ["publish", "registrations", path], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for line in batch:
                record = json.loads(line)
                published[registration_id(record["eventID"], record["reference"])] = at
            late = time.time() - (start + second + size / args.rate)
            if late > 0.5:
                print(f"  batch {index} was {late:.1f} s late: the rate is above what publishing keeps up with", file=sys.stderr)
    json.dump(published, open(args.out, "w"))


class Sink(asyncio.Protocol):
    """Just enough SMTP: every command answered 250, DATA until the lone dot, counted."""

    received = 0

    def connection_made(self, transport):
        self.transport, self.buffer, self.data = transport, b"", False
        transport.write(b"220 sink ESMTP\r\n")

    def data_received(self, chunk):
        self.buffer += chunk
        while True:
            if self.data:
                end = self.buffer.find(b"\r\n.\r\n")
                if end < 0:
                    return
                self.buffer, self.data = self.buffer[end + 5:], False
                Sink.received += 1
                self.transport.write(b"250 2.0.0 queued\r\n")
                continue
            line_end = self.buffer.find(b"\r\n")
            if line_end < 0:
                return
            line, self.buffer = self.buffer[:line_end].upper(), self.buffer[line_end + 2:]
            if line.startswith(b"EHLO"):
                self.transport.write(b"250-sink\r\n250-PIPELINING\r\n250 8BITMIME\r\n")
            elif line.startswith(b"DATA"):
                self.data = True
                self.buffer = b"\r\n" + self.buffer  # the end marker may follow at once
                self.transport.write(b"354 go ahead\r\n")
            elif line.startswith(b"QUIT"):
                self.transport.write(b"221 bye\r\n")
                self.transport.close()
                return
            else:
                self.transport.write(b"250 ok\r\n")


def sink(args):
    async def serve():
        server = await asyncio.get_running_loop().create_server(Sink, "127.0.0.1", 0)
        print(f"ready {server.sockets[0].getsockname()[1]}", flush=True)
        await server.serve_forever()
    asyncio.run(serve())


def get(port, path):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError):
        return None


def peak_rss_mb(pid):
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024)
    except OSError:
        return None


def cpu_seconds(pid):
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def parse_time(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def wait(args):
    registrations, itineraries, notifications = args.ports
    deadline = time.time() + args.timeout
    event = urllib.parse.quote(args.event)
    cpu_before = {name: cpu_seconds(pid) for name, pid in args.pids.items()}
    stable = 0
    while time.time() < deadline:
        # (the counts only: the listing reads every registration, in the service being measured)
        counts = get(registrations, f"/events/{event}/counts") or {}
        decided = sum(counts.get(k, 0) for k in ("accepted", "waitlisted", "rejected"))
        db = sqlite3.connect(f"file:{args.store}?mode=ro", uri=True)
        accepted = {row[0] for row in db.execute("SELECT DISTINCT registration_id FROM notifications WHERE kind = 'accepted'")}
        notified = {row[0] for row in db.execute(
            "SELECT DISTINCT registration_id FROM notifications WHERE kind = 'itinerary-planned' AND status = 'sent'")}
        busy = db.execute("SELECT count(*) FROM notifications WHERE status IN ('pending', 'sending')").fetchone()[0]
        db.close()
        done = decided >= args.count and len(accepted) >= counts.get("accepted", 0) > 0 and accepted <= notified and busy == 0
        stable = stable + 1 if done else 0
        print(f"  decided {decided}/{args.count}, itineraries notified {len(notified & accepted)}/{len(accepted)}, sending {busy}", file=sys.stderr)
        if stable >= 2:
            break
        time.sleep(1)
    else:
        print("the pipeline did not settle in time", file=sys.stderr)
        return 1
    db = sqlite3.connect(f"file:{args.store}?mode=ro", uri=True)
    finished = {}
    for registration, at in db.execute(
            "SELECT n.registration_id, max(a.finished_at) FROM notifications n JOIN attempts a ON a.notification_id = n.id "
            "WHERE n.kind = 'itinerary-planned' AND a.outcome = 'sent' AND json_extract(n.recipient, '$.email') = "
            "(SELECT json_extract(n2.recipient, '$.email') FROM notifications n2 WHERE n2.registration_id = n.registration_id AND n2.kind = 'accepted') "
            "GROUP BY n.registration_id"):
        finished[registration] = parse_time(at)
    emails = db.execute("SELECT count(*) FROM notifications WHERE status = 'sent'").fetchone()[0]
    db.close()
    published = json.load(open(args.published)) if args.published else {}
    latencies = sorted(at - published.get(registration, args.started) for registration, at in finished.items())
    last = max(finished.values()) - args.started

    def pct(p):
        return round(1000 * latencies[min(len(latencies) - 1, int(p * len(latencies)))])

    print(json.dumps({
        "registrations": args.count, "accepted": len(accepted), "emails": emails, "seconds": round(last, 2),
        "registrations_per_second": round(args.count / last, 1),
        "latency_ms": {"p50": pct(0.50), "p99": pct(0.99), "max": round(1000 * latencies[-1])},
        "peak_rss_mb": {name: peak_rss_mb(pid) for name, pid in args.pids.items()},
        "cpu_seconds": {name: round((cpu_seconds(pid) or 0) - (cpu_before[name] or 0), 1) for name, pid in args.pids.items()},
    }))
    return 0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["data", "sink", "wait", "pace"])
    parser.add_argument("--rate", type=int)
    parser.add_argument("--batches", type=int, default=1, help="pace: batches a second")
    parser.add_argument("--file")
    parser.add_argument("--published")

    parser.add_argument("--count", type=int)
    parser.add_argument("--out")
    parser.add_argument("--maildir")
    parser.add_argument("--event")
    parser.add_argument("--ports", type=int, nargs=3)
    parser.add_argument("--store")
    parser.add_argument("--pids", nargs="*", default=[], help="name=pid")
    parser.add_argument("--started", type=float)
    parser.add_argument("--timeout", type=float, default=900)
    argv = sys.argv[1:]
    ops = argv[argv.index("--") + 1:] if "--" in argv else []
    args = parser.parse_args(argv[:len(argv) - len(ops) - (1 if ops else 0)])
    args.ops = ops  # pace: the delegation-ops command line, after --
    args.pids = dict((p.split("=")[0], int(p.split("=")[1])) for p in args.pids)
    return {"data": data, "sink": sink, "wait": wait, "pace": pace}[args.command](args) or 0


if __name__ == "__main__":
    sys.exit(main())
