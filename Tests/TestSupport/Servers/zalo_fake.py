"""A local fake of Zalo's ZNS template message call and its OAuth v4 token refresh, for the
Zalo tests. POST /message/template (header access_token; JSON phone, template_id,
template_data, tracking_id): HTTP 200 with {"error": 0, "data": {"msg_id", "sent_time"}}, or
a negative error in a 200: -124 (access token invalid), -108 (phone number invalid: 84000000108),
-118 (no Zalo account: 84000000118), -117 (template not approved: template "unapproved");
HTTP 429 for the first --busy sends. POST /v4/oa/access_token (header secret_key; form
refresh_token, app_id, grant_type=refresh_token): new tokens, the refresh token good once.
Records every call in DIR as <n>.json. Prints "ready PORT" once listening."""
import argparse, json, threading
from urllib.parse import parse_qs
import recording_server

parser = argparse.ArgumentParser()
parser.add_argument("--dir", required=True)
parser.add_argument("--app-id", required=True)
parser.add_argument("--secret-key", required=True)
parser.add_argument("--busy", type=int, default=0)
args = parser.parse_args()
calls = recording_server.Recorder(args.dir)
lock = threading.Lock()
state = {"sends": 0, "generation": 0}
ERRORS = {"84000000108": (-108, "Phone number is invalid"), "84000000118": (-118, "Zalo account not existed")}


def tokens():
    return "access-%d" % state["generation"], "refresh-%d" % state["generation"]


class Handler(recording_server.Handler):
    def do_POST(self):
        raw = self.body().decode("utf-8")
        with lock:
            record = {"path": self.path, "headers": dict(self.headers)}
            if self.path == "/v4/oa/access_token":
                record["form"] = {k: v[0] for k, v in parse_qs(raw).items()}
            else:
                record["body"] = raw
            calls.record(record)
            if self.path == "/v4/oa/access_token":
                form = record["form"]
                if self.headers.get("secret_key") != args.secret_key or form.get("app_id") != args.app_id:
                    return self.answer(200, {"error": -14002, "error_description": "app_id or secret_key is invalid"})
                if form.get("grant_type") != "refresh_token" or form.get("refresh_token") != tokens()[1]:
                    return self.answer(200, {"error": -14014, "error_description": "Invalid refresh token"})
                state["generation"] += 1
                access, refresh = tokens()
                return self.answer(200, {"access_token": access, "refresh_token": refresh, "expires_in": "90000"})
            if self.path != "/message/template":
                return self.answer(404, {"error": -106, "message": "Method unsupported"})
            state["sends"] += 1
            if state["sends"] <= args.busy:
                return self.answer(429, {"error": -32, "message": "Exceed rate limit"})
            if self.headers.get("access_token") != tokens()[0]:
                return self.answer(200, {"error": -124, "message": "Access token is invalid"})
            body = json.loads(raw)
            if body.get("phone") in ERRORS:
                code, message = ERRORS[body["phone"]]
                return self.answer(200, {"error": code, "message": message})
            if body.get("template_id") == "unapproved":
                return self.answer(200, {"error": -117, "message": "OA or App does not have permission to access this template"})
            return self.answer(200, {"error": 0, "message": "Success", "data": {
                "msg_id": "msg-%d" % state["sends"], "sent_time": "1768355100000", "sending_mode": "1",
                "quota": {"dailyQuota": "500", "remainingQuota": "499"}}})


recording_server.serve(Handler)
