"""A real SMTP server for the notifications tests (Debian's python3-aiosmtpd).

Every accepted message is written to MAILDIR as <n>.eml (the exact bytes received) with
<n>.json (envelope: from, to, tls, and the client's port: which connection brought it). Options:
  --starttls CERT KEY   offer STARTTLS and require it before MAIL
  --auth USER:PASS      require AUTH (PLAIN/LOGIN) before MAIL
  --transient N         answer 451 to the first N DATA commands (then accept)
  --reject SUBSTRING    answer 550 to RCPT TO addresses containing SUBSTRING
  --no-pipelining       do not offer PIPELINING (RFC 2920) in the EHLO reply
Prints "ready PORT" on stdout once listening; stops on SIGTERM.
"""
import argparse, asyncio, json, os, signal, ssl, sys, threading
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, default=0)
parser.add_argument("--maildir", required=True)
parser.add_argument("--starttls", nargs=2, metavar=("CERT", "KEY"))
parser.add_argument("--auth")
parser.add_argument("--transient", type=int, default=0)
parser.add_argument("--reject", action="append", default=[])
parser.add_argument("--no-pipelining", action="store_true")
args = parser.parse_args()
os.makedirs(args.maildir, exist_ok=True)


class Handler:
    def __init__(self):
        self.count = 0
        self.transient_left = args.transient
        self.lock = threading.Lock()

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        # (aiosmtpd reads commands in order whether offered or not; offering lets clients group them)
        session.host_name = hostname
        if not args.no_pipelining:
            responses.insert(len(responses) - 1, "250-PIPELINING")
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if any(s in address for s in args.reject):
            return "550 5.1.1 <%s>: mailbox unknown" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            if self.transient_left > 0:
                self.transient_left -= 1
                return "451 4.3.0 try again later"
            self.count += 1
            n = self.count
        base = os.path.join(args.maildir, "%05d" % n)
        # Written under a temporary name and renamed, so a reader never sees half a message.
        with open(base + ".json.tmp", "w") as f:
            json.dump({"from": envelope.mail_from, "to": envelope.rcpt_tos, "tls": session.ssl is not None,
                       "client_port": session.peer[1] if session.peer else None}, f)
        os.rename(base + ".json.tmp", base + ".json")
        with open(base + ".eml.tmp", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        os.rename(base + ".eml.tmp", base + ".eml")
        return "250 2.0.0 queued as %d" % n


def authenticator(server, session, envelope, mechanism, auth_data):
    user, password = args.auth.split(":", 1)
    ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user and auth_data.password.decode() == password
    return AuthResult(success=ok, handled=False)


kwargs = {"decode_data": False, "enable_SMTPUTF8": True}
if args.starttls:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*args.starttls)
    kwargs.update(tls_context=context, require_starttls=True)
if args.auth:
    kwargs.update(authenticator=authenticator, auth_required=True, auth_require_tls=bool(args.starttls))

import socket
port = args.port
if port == 0:
    s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
signal.signal(signal.SIGINT, lambda *_: stop.set())
# (the test process starts this from a thread blocking most signals, and a child keeps the mask;
# unblocked before the controller's thread starts, which inherits it)
signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
controller = Controller(Handler(), hostname="127.0.0.1", port=port, server_hostname="localhost", **kwargs)
controller.start()
print("ready %d" % port, flush=True)
stop.wait()
controller.stop()
