#!/usr/bin/env python3
"""For the quickstart: people respond to a campaign through its real tracking links.

    simulate-responses.py OUTBOX CAMPAIGN BASE_URL ADMIN_TOKEN

Reads the campaign's messages from the maildir OUTBOX, then, as a browser would, loads the open
pixel of about 60% of them, follows the first tracked link of about a quarter, and posts a
purchase (POST /api/events) for a few of the clickers, so the report has opens, clicks,
conversions and revenue. Deterministic: the same messages respond on every run."""

import email
import email.policy
import hashlib
import json
import os
import re
import sys
import urllib.error
import urllib.request

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def get(opener, url):
    req = urllib.request.Request(url, headers={"User-Agent": BROWSER})
    try:
        with opener.open(req, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def main():
    outbox, campaign, base, token = sys.argv[1:5]
    opener = urllib.request.build_opener(NoRedirect)
    opened = clicked = bought = 0
    for name in sorted(os.listdir(os.path.join(outbox, "new"))):
        with open(os.path.join(outbox, "new", name), "rb") as f:
            msg = email.message_from_binary_file(f, policy=email.policy.default)
        if msg["X-Campaign"] != campaign:
            continue
        html = msg.get_body(("html",)).get_content()
        roll = hashlib.sha256(name.encode()).digest()[0] / 255
        pixel = re.search(r'src="(' + re.escape(base) + r'/t/o/[^"]+)"', html)
        links = re.findall(r'href="(' + re.escape(base) + r'/t/c/[^"]+)"', html)
        if pixel and roll < 0.6 and get(opener, pixel.group(1)) == 200:
            opened += 1
        if links and roll < 0.25 and get(opener, links[0]) == 302:
            clicked += 1
            if roll < 0.12:
                address = email.utils.parseaddr(str(msg["To"]))[1]
                body = json.dumps({"email": address, "type": "purchase", "amount": 49.90,
                                   "id": "quickstart-" + name}).encode()
                req = urllib.request.Request(base + "/api/events", data=body, method="POST",
                                             headers={"Authorization": "Bearer " + token,
                                                      "Content-Type": "application/json"})
                with urllib.request.urlopen(req, timeout=10) as r:
                    bought += r.status == 200
    print(f"simulated responses to {campaign}: {opened} opens, {clicked} clicks, {bought} purchases")


if __name__ == "__main__":
    main()
