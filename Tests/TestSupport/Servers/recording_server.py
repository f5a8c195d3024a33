"""What the tests' local HTTP servers share (the webhook server and the fakes of the providers'
APIs): every call recorded in a folder as <n>.json, written whole and then renamed (a reader
never sees half a call); JSON answers; "ready PORT" printed once listening on 127.0.0.1."""
import json, os, signal, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# The test process starts its servers from threads that block most signals, and a child keeps
# its parent's mask: unblocked, SIGTERM ends the server at once instead of the SIGKILL 2 s later.
signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})


class Recorder:
    def __init__(self, directory):
        os.makedirs(directory, exist_ok=True)
        self.directory = directory
        self.lock = threading.Lock()
        self.count = 0

    def record(self, call):
        """Writes `call` (a dict, or a function of n giving one) as the next <n>.json and returns
        n, how many came before it."""
        with self.lock:
            n = self.count
            self.count += 1
            call = call(n) if callable(call) else call
            path = os.path.join(self.directory, "%05d.json" % (n + 1))
            with open(path + ".tmp", "w") as f:
                json.dump(call, f, ensure_ascii=False)
            os.rename(path + ".tmp", path)
            return n


class Handler(BaseHTTPRequestHandler):
    def body(self):
        return self.rfile.read(int(self.headers.get("Content-Length", "0")))

    def answer(self, status, body):
        """`body` as JSON; None for an empty answer."""
        data = b"" if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        if data:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *a):
        pass


def serve(handler):
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    print("ready %d" % server.server_address[1], flush=True)
    server.serve_forever()
