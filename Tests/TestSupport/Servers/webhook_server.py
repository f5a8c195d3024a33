"""A real HTTP server for the webhook tests (and the OTLP receiver of the tracing test). Records
every POST in DIR as <n>.json (headers and body) and answers with the statuses given by
--statuses (one per request, the last repeats), with --answer as a JSON body if given.
Prints "ready PORT" once listening."""
import argparse, json
import recording_server

parser = argparse.ArgumentParser()
parser.add_argument("--dir", required=True)
parser.add_argument("--statuses", default="200")
parser.add_argument("--answer")
args = parser.parse_args()
statuses = [int(s) for s in args.statuses.split(",")]
status = lambda n: statuses[min(n, len(statuses) - 1)]  # one per request, the last repeats
answer = json.loads(args.answer) if args.answer else None
calls = recording_server.Recorder(args.dir)


class Handler(recording_server.Handler):
    def do_POST(self):
        body = self.body().decode("utf-8")
        n = calls.record(lambda n: {"headers": dict(self.headers), "body": body, "status": status(n)})
        self.answer(status(n), answer)


recording_server.serve(Handler)
