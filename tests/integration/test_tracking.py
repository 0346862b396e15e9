#!/usr/bin/python3
"""Opens and clicks through the running daemon: links in both parts point at /t/c/, the click
302s to the exact original URL, a forged token gets 404, the pixel answers a GIF; scanner-like
hits (HEAD, a bot user agent, a hit right after sending) are kept out of the human counts that
`campaignd report` shows; a campaign with `tracking: false` is sent untouched."""

import email
import email.policy
import json
import os
import re
import sys
import tempfile
import time
import unittest
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def get(url, method="GET", ua=BROWSER):
    req = urllib.request.Request(url, method=method, headers={"User-Agent": ua})
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(req, timeout=10) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


class Tracking(unittest.TestCase):
    def test_opens_and_clicks(self):
        smtp = harness.SmtpServer(tempfile.mkdtemp(prefix="smtp-"))
        work = harness.Workdir(transport_url=f"smtp://127.0.0.1:{smtp.port}",
                               extra_config="tracking: { scanner_window: 1s }\n")
        try:
            rows = [[f"t{i}@example.com", f"T{i}"] for i in range(3)]
            work.cli("import", "contacts", work.write_csv("c.csv", ["email", "first_name"], rows), check=0)
            work.start()
            work.drop_campaign("promo.yaml", 'name: promo\nfrom: "Acme <news@acme.example>"\nsubject: "Hi"\n'
                                             "template: spring-sale\nsegment: all\n")
            work.wait_campaign_done("promo")
            msgs = {m["rcpt_tos"][0]: email.message_from_bytes(smtp.raw(m), policy=email.policy.default)
                    for m in smtp.messages()}
            for m in smtp.messages():
                work.assert_dkim(smtp.raw(m))
            html = msgs["t0@example.com"].get_body(("html",)).get_content()
            text = msgs["t0@example.com"].get_body(("plain",)).get_content()
            clicks = re.findall(r'href="(http://127\.0\.0\.1:\d+/t/c/[^"]+)"', html)
            pixel = re.search(r'<img src="(http://127\.0\.0\.1:\d+/t/o/[^"]+)"', html).group(1)
            self.assertGreater(len(clicks), 0)
            self.assertIn("/t/c/", text)
            self.assertIn("/u/", text, "the unsubscribe link stays direct")

            time.sleep(1.2)  # past the scanner window
            # A human open and click.
            code, headers, body = get(pixel)
            self.assertEqual(code, 200)
            self.assertEqual(headers["Content-Type"], "image/gif")
            self.assertTrue(body.startswith(b"GIF89a"))
            code, headers, _ = get(clicks[0])
            self.assertEqual(code, 302)
            target = headers["Location"]
            self.assertTrue(target.startswith("http"), target)
            self.assertNotIn("/t/c/", target)

            # Machines for the second contact: HEAD and a scanner agent.
            html1 = msgs["t1@example.com"].get_body(("html",)).get_content()
            pixel1 = re.search(r'<img src="(http://127\.0\.0\.1:\d+/t/o/[^"]+)"', html1).group(1)
            click1 = re.findall(r'href="(http://127\.0\.0\.1:\d+/t/c/[^"]+)"', html1)[0]
            self.assertEqual(get(click1, method="HEAD")[0], 302)
            self.assertEqual(get(pixel1, ua="Mozilla/5.0")[0], 200)  # Apple Mail Privacy Protection
            self.assertEqual(get(click1, ua="python-requests/2.31")[0], 302)

            # Forged or altered tokens: 404.
            path = urllib.parse.urlparse(clicks[0]).path
            payload, mac = path[len("/t/c/"):].split(".")
            base = clicks[0][:clicks[0].index("/t/c/")]
            self.assertEqual(get(base + "/t/c/" + payload + "." + mac[::-1])[0], 404)
            evil = urllib.parse.quote(b"1:https://evil.example/".hex())
            self.assertEqual(get(base + "/t/c/" + evil + "." + mac)[0], 404)
            self.assertEqual(get(base + "/t/o/garbage")[0], 404)

            # A purchase after the click is credited to it (POST /api/events, admin only).
            purchase = json.dumps([{"email": "t0@example.com", "type": "purchase", "amount": 49.5, "id": "order-1"},
                                   {"email": "t2@example.com", "type": "purchase", "amount": 10, "id": "order-2"}]).encode()
            self.assertEqual(work.http("POST", "/api/events", body=purchase, token=None)[0], 401)
            code, body = work.http("POST", "/api/events", body=purchase, headers={"Content-Type": "application/json"})
            self.assertEqual(code, 200, body)
            self.assertEqual(json.loads(body), {"accepted": 2, "duplicates": 0, "converted": 1})
            code, body = work.http("POST", "/api/events", body=purchase)
            self.assertEqual(json.loads(body)["duplicates"], 2)
            for bad in [b"{", b'{"type": "purchase"}', b'{"email": "t0@example.com", "type": "Purchase!"}',
                        b'{"email": "nobody@example.com", "type": "purchase"}',
                        b'{"email": "t0@example.com", "type": "purchase", "amount": "lots"}']:
                code, body = work.http("POST", "/api/events", body=bad)
                self.assertEqual(code, 400, (bad, body))
                self.assertIn("error", json.loads(body))

            r = work.cli("report", "promo", "--format", "json", check=0)
            report = json.loads(r.stdout)
            self.assertEqual(report["conversions"], 1, report)
            self.assertAlmostEqual(report["revenue"], 49.5)
            self.assertEqual(report["opened"], 1, report)
            self.assertEqual(report["clicked"], 1, report)
            self.assertAlmostEqual(report["open_rate"], 1 / 3)

            # tracking: false sends the template as rendered.
            work.drop_campaign("plain.yaml", 'name: plain\nfrom: "Acme <news@acme.example>"\nsubject: "Hi"\n'
                                             "template: spring-sale\nsegment: all\ntracking: false\n")
            work.wait_campaign_done("plain")
            plain = [m for m in smtp.messages() if m["n"] > 3][0]
            decoded = email.message_from_bytes(smtp.raw(plain), policy=email.policy.default)
            for part in ("html", "plain"):
                content = decoded.get_body((part,)).get_content()
                self.assertNotIn("/t/c/", content)
                self.assertNotIn("/t/o/", content)
            self.assertEqual(work.stop(), 0)
        finally:
            work.cleanup()
            smtp.stop()


if __name__ == "__main__":
    unittest.main(verbosity=2)
