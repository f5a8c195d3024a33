"""A local fake of WeChat's Official Account API for the WeChat tests: POST /cgi-bin/stable_token
(JSON grant_type, appid, secret, force_refresh) answers an access token (a new one when
force_refresh), errcode 40125 for a wrong secret; POST /cgi-bin/message/template/send?access_token=
(JSON touser, template_id, url, client_msg_id, data) answers {"errcode": 0, "msgid"}, or in a 200:
40001 (token not the latest), 40003 (openid "unknown-openid"), 43004 (openid "not-following"),
40037 (template "bad-template"), 45011 for the first --busy sends. Records every call in DIR as
<n>.json. Prints "ready PORT" once listening."""
import argparse, json, threading
from urllib.parse import urlparse, parse_qs
import recording_server

parser = argparse.ArgumentParser()
parser.add_argument("--dir", required=True)
parser.add_argument("--app-id", required=True)
parser.add_argument("--app-secret", required=True)
parser.add_argument("--busy", type=int, default=0)
args = parser.parse_args()
calls = recording_server.Recorder(args.dir)
lock = threading.Lock()
state = {"sends": 0, "generation": 1}
REFUSED = {"unknown-openid": (40003, "invalid openid"), "not-following": (43004, "require subscribe")}


class Handler(recording_server.Handler):
    def do_POST(self):
        raw = self.body().decode("utf-8")
        url = urlparse(self.path)
        with lock:
            calls.record({"path": self.path, "headers": dict(self.headers), "body": raw})
            body = json.loads(raw or "{}")
            if url.path == "/cgi-bin/stable_token":
                if body.get("appid") != args.app_id or body.get("secret") != args.app_secret:
                    return self.answer(200, {"errcode": 40125, "errmsg": "invalid appsecret"})
                if body.get("force_refresh"):
                    state["generation"] += 1
                return self.answer(200, {"access_token": "token-%d" % state["generation"], "expires_in": 7200})
            if url.path != "/cgi-bin/message/template/send":
                return self.answer(200, {"errcode": 40066, "errmsg": "invalid url"})
            state["sends"] += 1
            if state["sends"] <= args.busy:
                return self.answer(200, {"errcode": 45011, "errmsg": "api minute-quota reach limit"})
            if parse_qs(url.query).get("access_token", [""])[0] != "token-%d" % state["generation"]:
                return self.answer(200, {"errcode": 40001, "errmsg": "invalid credential, access_token is invalid or not latest"})
            if body.get("touser") in REFUSED:
                code, message = REFUSED[body["touser"]]
                return self.answer(200, {"errcode": code, "errmsg": message})
            if body.get("template_id") == "bad-template":
                return self.answer(200, {"errcode": 40037, "errmsg": "invalid template_id"})
            return self.answer(200, {"errcode": 0, "errmsg": "ok", "msgid": 200228332 + state["sends"]})


recording_server.serve(Handler)
