#!/usr/bin/python3
"""Independent DKIM check for the unit tests: verifies every DKIM-Signature of a message with
Debian's python3-dkim (ed25519 through python3-nacl), taking public keys from the command line
instead of DNS.

usage: dkim_verify.py MESSAGE_FILE [SELECTOR._domainkey.DOMAIN=TXT_RECORD]...

Prints one line per signature, top to bottom:
  OK <a=> <d=> <s=>
  FAIL <a=> <d=> <s=>: <reason>
or NONE when the message carries no signature. Exit status 0 only when every signature is OK.
"""
import logging
import sys

import dkim


class Collect(logging.Handler):
    def __init__(self):
        super().__init__()
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1], "rb") as f:
        message = f.read()
    records = {}
    for arg in argv[2:]:
        name, _, txt = arg.partition("=")
        records[name.lower().rstrip(".") + "."] = txt.encode("ascii")

    def dnsfunc(name, timeout=5):
        if isinstance(name, bytes):
            name = name.decode("ascii")
        return records.get(name.lower())

    probe = dkim.DKIM(message)
    count = len([1 for name, _ in probe.headers if name.lower() == b"dkim-signature"])
    if count == 0:
        print("NONE")
        return 1
    all_ok = True
    for idx in range(count):
        log = logging.getLogger("dkim_verify.%d" % idx)
        log.propagate = False
        handler = Collect()
        log.addHandler(handler)
        d = dkim.DKIM(message, logger=log, minkey=1024)
        try:
            ok = d.verify(idx=idx, dnsfunc=dnsfunc)
            reason = "; ".join(handler.messages) or "signature does not match"
        except dkim.DKIMException as e:
            ok = False
            reason = str(e)
        sig = getattr(d, "signature_fields", None) or {}
        tags = " ".join(
            "%s=%s" % (t, sig.get(t.encode(), b"?").decode("ascii", "replace")) for t in ("a", "d", "s"))
        if ok:
            print("OK " + tags)
        else:
            all_ok = False
            print("FAIL %s: %s" % (tags, reason))
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
