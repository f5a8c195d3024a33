"""Reads the spans a local OTLP/HTTP (JSON) receiver recorded (deploy/demo with DEMO_TRACES=1:
Tests/TestSupport/Servers/webhook_server.py writes each export request to DIR as <n>.json) and
prints how many traces there are, and one registration's trace as a tree: service, span,
start offset and duration.

    python3 deploy/lib/traces.py DIR [--trace TRACE_ID]
"""
import argparse, base64, collections, glob, json, os


def hex_id(value):
    if not value:
        return ""
    if len(value) % 2 == 0 and all(c in "0123456789abcdefABCDEF" for c in value):
        return value.lower()
    return base64.b64decode(value).hex()


def spans(directory):
    for path in sorted(glob.glob(os.path.join(directory, "*.json"))):
        with open(path, encoding="utf-8") as f:
            request = json.loads(json.load(f)["body"] or "{}")
        for resource in request.get("resourceSpans", []):
            attributes = resource.get("resource", {}).get("attributes", [])
            service = next((a["value"].get("stringValue") for a in attributes if a["key"] == "service.name"), "?")
            for scope in resource.get("scopeSpans", []):
                for span in scope.get("spans", []):
                    yield {
                        "service": service, "name": span.get("name", "?"), "trace": hex_id(span.get("traceId")),
                        "id": hex_id(span.get("spanId")), "parent": hex_id(span.get("parentSpanId")),
                        "start": int(span.get("startTimeUnixNano", 0)), "end": int(span.get("endTimeUnixNano", 0)),
                        "error": span.get("status", {}).get("code") in (2, "STATUS_CODE_ERROR"),
                    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("directory")
    parser.add_argument("--trace", help="the trace to print (default: the longest one that sent an e-mail)")
    args = parser.parse_args()
    traces = collections.defaultdict(list)
    for span in spans(args.directory):
        traces[span["trace"]].append(span)
    if not traces:
        print("no spans recorded")
        return
    print(f"{sum(len(s) for s in traces.values())} spans in {len(traces)} traces")
    def length(trace):
        return max(s["end"] for s in trace) - min(s["start"] for s in trace)
    mailed = {t: s for t, s in traces.items() if any(x["name"] == "send email" for x in s)}
    chosen = args.trace or max(mailed or traces, key=lambda t: length(traces[t]))
    trace = traces.get(chosen, [])
    if not trace:
        print(f"no trace {chosen}")
        return
    begin = min(s["start"] for s in trace)
    children = collections.defaultdict(list)
    ids = {s["id"] for s in trace}
    for span in sorted(trace, key=lambda s: s["start"]):
        children[span["parent"] if span["parent"] in ids else None].append(span)
    print(f"trace {chosen}: {len(trace)} spans over {length(trace) / 1e6:.1f} ms")
    def show(span, depth):
        mark = "  ✗" if span["error"] else ""
        offset, took = (span["start"] - begin) / 1e6, (span["end"] - span["start"]) / 1e6
        print(f"  {'  ' * depth}{span['service']}: {span['name']}  +{offset:.1f} ms, {took:.1f} ms{mark}")
        for child in children[span["id"]]:
            show(child, depth + 1)
    for root in children[None]:
        show(root, 0)


if __name__ == "__main__":
    main()
