"""A local fake of Twilio's Programmable Messaging "create a Message" call, for the SMS tests:
POST /2010-04-01/Accounts/{sid}/Messages.json, HTTP Basic (--sid, --token), form fields To,
From or MessagingServiceSid, Body. Answers 201 with a message resource; the documented errors
as {code, message, more_info, status}: 20003 (credentials, 401), 20429 (too many requests, 429;
the first --busy calls), 21211, 21408, 21610, 21614 (400) for Twilio's test numbers
+15005550001, +15005550003, +15005550004, +15005550009; 21602 without a body. Records every
call in DIR as <n>.json. Prints "ready PORT" once listening."""
import argparse, base64
from urllib.parse import parse_qs
import recording_server

parser = argparse.ArgumentParser()
parser.add_argument("--dir", required=True)
parser.add_argument("--sid", required=True)
parser.add_argument("--token", required=True)
parser.add_argument("--busy", type=int, default=0)
args = parser.parse_args()
calls = recording_server.Recorder(args.dir)
NUMBERS = {
    "+15005550001": (21211, "The 'To' number is not a valid phone number."),
    "+15005550003": (21408, "Permission to send an SMS has not been enabled for the region indicated by the 'To' number."),
    "+15005550004": (21610, "Attempt to send to unsubscribed recipient"),
    "+15005550009": (21614, "'To' number is not a valid mobile number"),
}


class Handler(recording_server.Handler):
    def error(self, status, code, message):
        self.answer(status, {"code": code, "message": message, "more_info": "https://www.twilio.com/docs/errors/%d" % code,
                             "status": status})

    def do_POST(self):
        form = {k: v[0] for k, v in parse_qs(self.body().decode("utf-8"), keep_blank_values=True).items()}
        n = calls.record({"path": self.path, "headers": dict(self.headers), "form": form})
        expected = "Basic " + base64.b64encode(("%s:%s" % (args.sid, args.token)).encode()).decode()
        if self.path != "/2010-04-01/Accounts/%s/Messages.json" % args.sid or self.headers.get("Authorization") != expected:
            return self.error(401, 20003, "Authenticate")
        if n < args.busy:
            return self.error(429, 20429, "Too Many Requests")
        if not form.get("Body"):
            return self.error(400, 21602, "Message body is required.")
        if form.get("To") in NUMBERS:
            code, message = NUMBERS[form["To"]]
            return self.error(400, code, message)
        segments = 1  # (Twilio counts them; the tests count them on our side)
        self.answer(201, {"sid": "SM%032x" % (n + 1), "account_sid": args.sid, "to": form.get("To"), "from": form.get("From"),
                          "messaging_service_sid": form.get("MessagingServiceSid"), "body": form.get("Body"),
                          "status": "accepted" if form.get("MessagingServiceSid") else "queued",
                          "num_segments": str(segments), "error_code": None, "error_message": None})


recording_server.serve(Handler)
