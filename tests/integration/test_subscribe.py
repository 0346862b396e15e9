#!/usr/bin/python3
"""Double opt-in: POST /api/subscribe makes a pending contact and sends a confirmation mail
through the real SMTP server; a pending contact is in no campaign; GET /c/{token} confirms;
bad input gets a 400 with a JSON reason; the endpoint is rate-limited per client address and
answers the same for known and unknown addresses."""

import email
import email.policy
import json
import os
import re
import sys
import tempfile
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

SUBSCRIBE = """subscribe:
  from: "Acme <hello@acme.example>"
  subject: "Please confirm your subscription to Acme"
  rate: 8/m
"""


class Subscribe(unittest.TestCase):
    def test_double_opt_in(self):
        smtp = harness.SmtpServer(tempfile.mkdtemp(prefix="smtp-"))
        work = harness.Workdir(transport_url=f"smtp://127.0.0.1:{smtp.port}", extra_config=SUBSCRIBE)
        try:
            work.cli("import", "contacts", work.write_csv("c.csv", ["email", "first_name"],
                                                          [["old@example.com", "Old"]]), check=0)
            work.start()
            body = json.dumps({"email": "New.Person@Example.com", "first_name": "Nova", "city": "Oslo",
                               "topics": ["offers", "news"]}).encode()
            code, resp = work.http("POST", "/api/subscribe", body=body, token=None,
                                   headers={"Content-Type": "application/json"})
            self.assertEqual(code, 202, resp)
            self.assertEqual(json.loads(resp)["status"], "pending")

            mail = harness.wait_for(lambda: [m for m in smtp.messages() if m["rcpt_tos"] == ["new.person@example.com"]],
                                    timeout=20, what="the confirmation mail")
            work.assert_dkim(smtp.raw(mail[0]))
            msg = email.message_from_bytes(smtp.raw(mail[0]), policy=email.policy.default)
            self.assertEqual(str(msg["Subject"]), "Please confirm your subscription to Acme")
            self.assertIsNone(msg["List-Unsubscribe"], "a confirmation is not marketing")
            text = msg.get_body(("plain",)).get_content()
            self.assertIn("Nova", text)
            link = re.search(r"http://127\.0\.0\.1:\d+/c/[A-Za-z0-9_.\-]+", text).group(0)

            status = lambda e: work.query(f"SELECT status FROM contacts WHERE email = '{e}'")[0][0]
            self.assertEqual(status("new.person@example.com"), "pending")
            attrs = json.loads(work.query("SELECT attrs FROM contacts WHERE email = 'new.person@example.com'")[0][0])
            self.assertEqual(attrs["city"], "Oslo")

            # A pending contact is in no segment.
            work.drop_campaign("hello.yaml", 'name: hello\nfrom: "Acme <news@acme.example>"\nsubject: "Hi"\n'
                                             "template: spring-sale\nsegment: all\n")
            self.assertEqual(work.wait_campaign_done("hello")["recipients"], 1)

            # Forged confirmation: 404, nothing changes.
            path = urllib.parse.urlparse(link).path
            code, _ = work.http("GET", path[:-3] + "AAA", token=None)
            self.assertEqual(code, 404)
            self.assertEqual(status("new.person@example.com"), "pending")

            code, page = work.http("GET", path, token=None)
            self.assertEqual(code, 200)
            self.assertIn(b"Nova", page)
            self.assertEqual(status("new.person@example.com"), "subscribed")
            code, _ = work.http("GET", path, token=None)  # twice is fine
            self.assertEqual(code, 200)

            work.drop_campaign("again.yaml", 'name: again\nfrom: "Acme <news@acme.example>"\nsubject: "Hi"\n'
                                             "template: spring-sale\nsegment: all\n")
            self.assertEqual(work.wait_campaign_done("again")["recipients"], 2)

            # Bad input: 400 with a reason.
            for bad, ctype in [(b"{not json", "application/json"), (b'{"first_name": "x"}', "application/json"),
                               (b'{"email": "nope"}', "application/json"), (b"email=bad%40", "application/x-www-form-urlencoded")]:
                code, resp = work.http("POST", "/api/subscribe", body=bad, token=None, headers={"Content-Type": ctype})
                self.assertEqual(code, 400, (bad, resp))
                self.assertIn("error", json.loads(resp))

            # A form works too; a known subscribed address gets the same answer and no mail.
            before = len(smtp.messages())
            code, _ = work.http("POST", "/api/subscribe", body=b"email=old%40example.com", token=None,
                                headers={"Content-Type": "application/x-www-form-urlencoded"})
            self.assertEqual(code, 202)
            # Rate limit: 8 a minute per client address; 6 were used above.
            codes = []
            for i in range(4):
                code, _ = work.http("POST", "/api/subscribe", body=f"email=p{i}%40example.com".encode(), token=None,
                                    headers={"Content-Type": "application/x-www-form-urlencoded"})
                codes.append(code)
            self.assertIn(429, codes)
            self.assertEqual(len([m for m in smtp.messages()[before:] if m["rcpt_tos"] == ["old@example.com"]]), 0)
            self.assertEqual(work.stop(), 0)
        finally:
            work.cleanup()
            smtp.stop()


if __name__ == "__main__":
    unittest.main(verbosity=2)
