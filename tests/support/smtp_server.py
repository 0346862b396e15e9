#!/usr/bin/python3
"""A real SMTP server for campaignd's tests, with faults on demand.

Runs on Debian's python3-aiosmtpd (use /usr/bin/python3). Listens on 127.0.0.1.

    smtp_server.py --port N --out DIR [--fault RULE]... [--pipelining] [--tls CERT,KEY]
                   [--implicit-tls] [--auth USER:PASS] [--idle-timeout SECONDS]

--port 0 picks a free port. The first line on stdout is always `PORT <n>` (flushed), so a
test can start the server and read where it listens.

Every accepted message is written to DIR/<n>.eml (n = 1, 2, ...): the raw bytes as received
after SMTP dot-unstuffing, i.e. exactly the message the client meant to send. For each one a
JSON line is appended to DIR/log.jsonl:
    {"n": 1, "file": "1.eml", "mail_from": "...", "rcpt_tos": [...], "message_id": "<...>",
     "size": 1234, "time": 1700000000.123, "connection": 3}
`connection` numbers the TCP connection the message came over (1, 2, ...), so tests can
check that a client reused its connection; `tls` says whether it was encrypted, `auth` who
logged in (null: nobody).

--pipelining advertises PIPELINING (RFC 2920) in the EHLO reply. --tls offers STARTTLS with
that certificate and key (PEM files); with --implicit-tls the connection is TLS from the start
instead (smtps). --auth offers AUTH PLAIN and LOGIN and takes that one login: in clear without
--tls, only after STARTTLS with it. --idle-timeout closes a connection that says nothing for
that long (aiosmtpd's default is 300 s).

DIR/stats.json is rewritten atomically after every change:
    {"connections": 3, "messages": 10,
     "accepted": {"rcpt@example": 1, ...},   # messages accepted per recipient
     "refused": {"rcpt@example": 2, ...}}    # faults answered per recipient (incl. drops/stalls)
Everything is written before the server answers, so once a client has its 250 the files
already say so.

Faults (--fault may be repeated; the first rule whose pattern matches the recipient wins;
patterns are shell-style and case-insensitive):
    'temp@*=451'           answer 451 4.3.0 after the message data (any 4xx/5xx code works)
    '*@full.example=552'   answer 552 5.2.2 after the message data
    'bad@*=550/rcpt'       answer at RCPT TO instead of after the data
    'once@*=451x1'         fail the first N attempts for each such recipient, then accept
    '*@slow.example=421:4.7.0*2/rcpt'
                           a chosen enhanced code; `*N` fails the first N attempts matching the
                           rule in all (any recipient), then accepts: a domain that throttles
    '421@*=421'            answer 421 and close the connection (server shutting down)
    'drop@*=drop'          read the whole message, then close the connection without answer
    'slow@*=stall:30'      read the whole message, stay silent 30 s, then accept; if the
                           client hangs up first, nothing is recorded (it never heard a 250)
Exits 0 on SIGTERM or SIGINT.
"""

import argparse
import asyncio
import email.parser
import email.policy
import fnmatch
import json
import os
import re
import signal
import ssl
import sys
import time

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

# Text for the enhanced status code of a few common replies; others get X.0.0.
ENHANCED = {421: "4.3.2", 450: "4.2.0", 451: "4.3.0", 452: "4.2.2",
            550: "5.1.1", 552: "5.2.2", 553: "5.1.3", 554: "5.7.1"}
TEXT = {421: "Service shutting down", 451: "Temporary local problem, try again later",
        550: "User unknown", 552: "Mailbox full", 554: "Rejected by policy"}


class Fault:
    """One --fault rule: PATTERN=ACTION."""

    RULE = re.compile(r"^(?P<pattern>[^=]+)=(?:(?P<code>[45]\d\d)(?::(?P<enhanced>[45]\.\d{1,3}\.\d{1,3}))?"
                      r"(?:x(?P<times>\d+)|\*(?P<total>\d+))?(?P<rcpt>/rcpt)?"
                      r"|(?P<drop>drop)|stall:(?P<stall>\d+(?:\.\d+)?))$")

    def __init__(self, text):
        m = self.RULE.match(text)
        if not m:
            raise ValueError(f"bad --fault rule {text!r}; expected e.g. 'temp@*=451', "
                             "'bad@*=550/rcpt', 'once@*=451x1', 'drop@*=drop', 'slow@*=stall:30'")
        self.pattern = m["pattern"].lower()
        self.code = int(m["code"]) if m["code"] else None
        self.times = int(m["times"]) if m["times"] else None  # None: every time
        self.total = int(m["total"]) if m["total"] else None  # over all recipients
        self.total_used = 0
        self.enhanced = m["enhanced"]
        self.at_rcpt = bool(m["rcpt"])
        self.drop = bool(m["drop"])
        self.stall = float(m["stall"]) if m["stall"] else None
        self.used = {}  # recipient -> how many times this rule fired for it

    def matches(self, rcpt):
        return fnmatch.fnmatchcase(rcpt.lower(), self.pattern)

    def fires(self, rcpt):
        """True if the rule applies to this attempt (and counts it)."""
        if self.total is not None:
            if self.total_used >= self.total:
                return False
            self.total_used += 1
            return True
        count = self.used.get(rcpt, 0)
        if self.times is not None and count >= self.times:
            return False
        self.used[rcpt] = count + 1
        return True

    def reply(self):
        code = self.code
        enhanced = self.enhanced or ENHANCED.get(code, f"{code // 100}.0.0")
        text = "Try again later" if enhanced.startswith("4.7.") else TEXT.get(code, "Fault injected")
        return f"{code} {enhanced} {text} (test fault)"


class Recorder:
    """Writes messages, the log and the stats; owns all counters."""

    def __init__(self, out_dir, faults):
        self.out_dir = out_dir
        self.faults = faults
        self.connections = 0
        self.messages = 0
        self.accepted = {}
        self.refused = {}
        os.makedirs(out_dir, exist_ok=True)
        self.write_stats()

    def fault_for(self, rcpt, at_rcpt):
        """The rule to apply to this recipient at this point, if any fires."""
        for fault in self.faults:
            if fault.matches(rcpt):
                if fault.at_rcpt == at_rcpt and fault.fires(rcpt):
                    return fault
                return None  # the first matching rule decides, even when it does not fire
        return None

    def count_refused(self, rcpts):
        for rcpt in rcpts:
            self.refused[rcpt] = self.refused.get(rcpt, 0) + 1
        self.write_stats()

    def record(self, envelope, connection, tls=False, auth=None):
        self.messages += 1
        n = self.messages
        data = envelope.original_content
        with open(os.path.join(self.out_dir, f"{n}.eml"), "wb") as f:
            f.write(data)
        headers = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(data)
        entry = {"n": n, "file": f"{n}.eml", "mail_from": envelope.mail_from,
                 "rcpt_tos": list(envelope.rcpt_tos), "message_id": headers.get("Message-ID"),
                 "size": len(data), "time": time.time(), "connection": connection,
                 "tls": tls, "auth": auth}
        with open(os.path.join(self.out_dir, "log.jsonl"), "a") as f:
            f.write(json.dumps(entry) + "\n")
        for rcpt in envelope.rcpt_tos:
            self.accepted[rcpt] = self.accepted.get(rcpt, 0) + 1
        self.write_stats()
        return n

    def write_stats(self):
        stats = {"connections": self.connections, "messages": self.messages,
                 "accepted": self.accepted, "refused": self.refused}
        tmp = os.path.join(self.out_dir, "stats.json.tmp")
        with open(tmp, "w") as f:
            json.dump(stats, f, indent=1, sort_keys=True)
        os.replace(tmp, os.path.join(self.out_dir, "stats.json"))


class Handler:
    """aiosmtpd hooks: faults at RCPT TO and after DATA, recording otherwise."""

    def __init__(self, recorder, pipelining=False):
        self.recorder = recorder
        self.pipelining = pipelining

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        if self.pipelining:
            responses.insert(len(responses) - 1, "250-PIPELINING")
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        fault = self.recorder.fault_for(address, at_rcpt=True)
        if fault:
            self.recorder.count_refused([address])
            return fault.reply()
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        fault = None
        for rcpt in envelope.rcpt_tos:
            fault = self.recorder.fault_for(rcpt, at_rcpt=False)
            if fault:
                break
        if fault and fault.drop:
            self.recorder.count_refused(envelope.rcpt_tos)
            server.transport.abort()
            await asyncio.sleep(3600)  # cancelled by aiosmtpd once the connection is gone
        if fault and fault.stall is not None:
            try:
                await asyncio.sleep(fault.stall)  # cancelled if the client hangs up meanwhile
            except asyncio.CancelledError:
                self.recorder.count_refused(envelope.rcpt_tos)
                raise
        elif fault:
            self.recorder.count_refused(envelope.rcpt_tos)
            if fault.code == 421:
                await server.push(fault.reply())
                server.transport.close()
                await asyncio.sleep(3600)
            return fault.reply()
        login = session.auth_data.login.decode() if session.authenticated and session.auth_data else None
        n = self.recorder.record(envelope, server.connection_number, tls=server.transport.get_extra_info("sslcontext") is not None,
                                 auth=login)
        return f"250 2.0.0 Ok: queued as {n}"


class CountingSMTP(SMTP):
    """aiosmtpd's server, numbering its connections."""

    def __init__(self, handler, recorder, **kwargs):
        super().__init__(handler, **kwargs)
        self.recorder = recorder
        self.connection_number = 0

    def connection_made(self, transport):
        first = self.transport is None  # STARTTLS calls this again on the same connection
        super().connection_made(transport)
        if first:
            self.recorder.connections += 1
            self.connection_number = self.recorder.connections
            self.recorder.write_stats()


def authenticator_for(login):
    user, _, password = login.partition(":")

    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user
              and auth_data.password.decode() == password)
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)
    return authenticate


async def serve(args, faults):
    recorder = Recorder(args.out, faults)
    handler = Handler(recorder, pipelining=args.pipelining)
    loop = asyncio.get_running_loop()
    tls = None
    if args.tls:
        cert, _, key = args.tls.partition(",")
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(cert, key)
    options = dict(hostname="smtp.test", loop=loop, timeout=args.idle_timeout)
    if tls and not args.implicit_tls:
        options.update(tls_context=tls)
    if args.auth:
        options.update(authenticator=authenticator_for(args.auth), auth_require_tls=bool(tls) and not args.implicit_tls,
                       auth_exclude_mechanism=["CRAM-MD5"])
    # hostname given: aiosmtpd would otherwise resolve the FQDN, which can take seconds.
    server = await loop.create_server(
        lambda: CountingSMTP(handler, recorder, **options),
        host="127.0.0.1", port=args.port, ssl=tls if args.implicit_tls else None)
    print(f"PORT {server.sockets[0].getsockname()[1]}", flush=True)

    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--out", required=True)
    parser.add_argument("--fault", action="append", default=[])
    parser.add_argument("--pipelining", action="store_true")
    parser.add_argument("--tls", metavar="CERT,KEY")
    parser.add_argument("--implicit-tls", action="store_true")
    parser.add_argument("--auth", metavar="USER:PASS")
    parser.add_argument("--idle-timeout", type=float, default=300)
    args = parser.parse_args()
    if args.implicit_tls and not args.tls:
        parser.error("--implicit-tls needs --tls CERT,KEY")
    try:
        faults = [Fault(rule) for rule in args.fault]
    except ValueError as e:
        parser.error(str(e))
    asyncio.run(serve(args, faults))
    return 0


if __name__ == "__main__":
    sys.exit(main())
