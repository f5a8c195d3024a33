"""A real HTTP server for the webhook tests (and the OTLP receiver of the tracing test). Records
every POST in DIR as <n>.json (headers and body) and answers with the statuses given by
--statuses (one per request, the last repeats), with --answer as a JSON body if given.
Prints "ready PORT" once listening."""
import argparse, json, os, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

parser = argparse.ArgumentParser()
parser.add_argument("--dir", required=True)
parser.add_argument("--statuses", default="200")
parser.add_argument("--answer")
args = parser.parse_args()
os.makedirs(args.dir, exist_ok=True)
statuses = [int(s) for s in args.statuses.split(",")]
lock = threading.Lock()
count = [0]


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with lock:
            n = count[0]
            count[0] += 1
            status = statuses[min(n, len(statuses) - 1)]
            path = os.path.join(args.dir, "%05d.json" % (n + 1))
            with open(path + ".tmp", "w") as f:  # renamed when whole: a reader never sees half a call
                json.dump({"headers": dict(self.headers), "body": body.decode("utf-8"), "status": status}, f, ensure_ascii=False)
            os.rename(path + ".tmp", path)
        answer = (args.answer or "").encode("utf-8")
        self.send_response(status)
        if answer:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *a):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print("ready %d" % server.server_address[1], flush=True)
server.serve_forever()
