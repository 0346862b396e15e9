#!/usr/bin/python3
"""Independent check of build_mime's output: parses each message file named on the command line
with Python's email package (policy=default) and prints, as one JSON array, what a mail client
would see: decoded headers, address parts, the leaf parts in order with decoded bodies, defects."""
import email
import email.header
import email.policy
import email.utils
import json
import sys


def header_defects(msg):
    found = []
    for name, value in msg.items():
        for d in getattr(value, "defects", ()):
            found.append(f"{name}: {type(d).__name__}")
    return found


def mailbox(header, raw):
    if header is None:
        return None
    addresses = header.addresses
    if len(addresses) != 1:
        return {"count": len(addresses)}
    a = addresses[0]
    # The classic parser too: it drops the white space between adjacent encoded-words as RFC 2047
    # 6.2 says, where policy=default's phrase parser (3.11) keeps it.
    name, _ = email.utils.parseaddr(raw)
    rfc2047 = str(email.header.make_header(email.header.decode_header(name)))
    return {"display_name": a.display_name, "addr_spec": a.addr_spec, "display_name_rfc2047": rfc2047}


def describe(path):
    with open(path, "rb") as f:
        data = f.read()
    msg = email.message_from_bytes(data, policy=email.policy.default)
    raw = email.message_from_bytes(data, policy=email.policy.compat32)
    parts = []
    for part in msg.walk():
        if part.is_multipart():
            continue
        parts.append({
            "content_type": part.get_content_type(),
            "charset": part.get_content_charset(),
            "transfer_encoding": part.get("Content-Transfer-Encoding"),
            "body": part.get_content().replace("\r\n", "\n"),
            "defects": [type(d).__name__ for d in part.defects],
        })
    return {
        "header_names": list(msg.keys()),
        "subject": str(msg["subject"]) if msg["subject"] is not None else None,
        "from": mailbox(msg["from"], raw["from"]),
        "to": mailbox(msg["to"], raw["to"]),
        "reply_to": mailbox(msg["reply-to"], raw["reply-to"]),
        "message_id": str(msg["message-id"]),
        "content_type": msg.get_content_type(),
        "defects": [type(d).__name__ for d in msg.defects] + header_defects(msg),
        "parts": parts,
    }


if __name__ == "__main__":
    json.dump([describe(p) for p in sys.argv[1:]], sys.stdout, ensure_ascii=False)
