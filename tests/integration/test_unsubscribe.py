#!/usr/bin/python3
"""Opt-out that holds: a recipient one-click-unsubscribes (RFC 8058) while a second campaign is
still sending and gets nothing more from it; the unsubscribe page on GET changes nothing;
forged or altered tokens get 404 and change nothing."""

import email
import re
import email.policy
import os
import sys
import tempfile
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402


def campaign(name, throttle):
    return (f'name: {name}\nfrom: "Acme <news@acme.example>"\nsubject: "{name} for {{{{first_name}}}}"\n'
            f"template: spring-sale\nsegment: all\nthrottle: {throttle}\n")


class Unsubscribe(unittest.TestCase):
    def test_unsubscribe_midway_holds(self):
        smtp = harness.SmtpServer(tempfile.mkdtemp(prefix="smtp-"))
        work = harness.Workdir(transport_url=f"smtp://127.0.0.1:{smtp.port}")
        try:
            rows = [[f"p{i:03d}@example.com", f"P{i}"] for i in range(40)]
            work.cli("import", "contacts", work.write_csv("c.csv", ["email", "first_name"], rows), check=0)
            work.start()
            work.drop_campaign("first.yaml", campaign("first", "1000/s"))
            work.wait_campaign_done("first")
            # The second campaign crawls along at 4 messages a second.
            work.drop_campaign("second.yaml", campaign("second", "4/s"))
            harness.wait_for(lambda: len(smtp.messages()) > 40, timeout=20, what="the second campaign to start")

            victim = "p039@example.com"  # last in line for the second campaign
            first = [m for m in smtp.messages() if m["rcpt_tos"][0] == victim][0]
            for m in smtp.messages():
                work.assert_dkim(smtp.raw(m))
            msg = email.message_from_bytes(smtp.raw(first), policy=email.policy.default)
            links = re.findall(r"<([^>]+)>", str(msg["List-Unsubscribe"]))
            self.assertEqual(len(links), 2, links)
            url = links[0]
            self.assertTrue(links[1].startswith("mailto:unsubscribe+"), links)
            path = urllib.parse.urlparse(url).path
            self.assertTrue(path.startswith("/u/"), url)

            status = lambda: work.query(f"SELECT status FROM contacts WHERE email = '{victim}'")[0][0]

            # GET shows a page and changes nothing.
            code, body = work.http("GET", path, token=None)
            self.assertEqual(code, 200)
            self.assertIn(b"<form", body)
            self.assertEqual(status(), "subscribed")

            # Forged and altered tokens: 404, nothing changes.
            token = path[len("/u/"):]
            payload, mac = token.split(".")
            for bad in ["Mg." + mac, payload + "." + mac[:-2] + ("AA" if not mac.endswith("AA") else "BB"),
                        "garbage", payload + ".", "." + mac]:
                code, _ = work.http("POST", "/u/" + bad, body=b"List-Unsubscribe=One-Click", token=None,
                                    headers={"Content-Type": "application/x-www-form-urlencoded"})
                self.assertEqual(code, 404, bad)
            self.assertEqual(status(), "subscribed")

            # One click: no cookies, no auth, no redirect.
            code, body = work.http("POST", path, body=b"List-Unsubscribe=One-Click", token=None,
                                   headers={"Content-Type": "application/x-www-form-urlencoded"})
            self.assertEqual(code, 200)
            self.assertEqual(status(), "unsubscribed")
            unsubscribed_at = time.time()

            second = work.wait_campaign_done("second", timeout=60)
            self.assertEqual(second["skipped"], 1, second)
            self.assertEqual(second["sent"], 39, second)
            to_victim = [m for m in smtp.messages() if m["rcpt_tos"][0] == victim]
            self.assertEqual(len(to_victim), 1, "nothing more after the unsubscribe")
            self.assertLess(to_victim[0]["time"], unsubscribed_at)
            # Posting again is harmless.
            code, _ = work.http("POST", path, body=b"List-Unsubscribe=One-Click", token=None)
            self.assertEqual(code, 200)
            events = int(work.query("SELECT COUNT(*) FROM events WHERE kind = 'unsubscribed'")[0][0])
            self.assertEqual(events, 1)
            self.assertEqual(work.stop(), 0)
        finally:
            work.cleanup()
            smtp.stop()


if __name__ == "__main__":
    unittest.main(verbosity=2)
