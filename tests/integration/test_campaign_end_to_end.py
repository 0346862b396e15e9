#!/usr/bin/python3
"""End to end: a campaign file dropped into the watched folder of a running campaignd reaches
every matching recipient exactly once through a real SMTP server, with correct headers; an
edit or a re-drop sends nothing again; a bad file shows on /status while the daemon runs on;
SIGTERM exits 0."""

import email
import email.policy
import os
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

CAMPAIGN = """name: spring-sale
from: "Acme Störe <news@acme.example>"
reply_to: support@acme.example
subject: "{{first_name}}, 20% off this week ✓"
template: spring-sale
segment: 'country = "CA" and orders >= 2 and not unsubscribed'
schedule: now
"""


class EndToEnd(unittest.TestCase):
    def setUp(self):
        self.smtp_dir = None
        self.work = None
        self.smtp = None

    def tearDown(self):
        if self.work:
            self.work.cleanup()
        if self.smtp:
            self.smtp.stop()

    def test_dropped_campaign_reaches_each_matching_contact_once(self):
        import tempfile
        self.smtp = harness.SmtpServer(tempfile.mkdtemp(prefix="smtp-"))
        self.work = harness.Workdir(transport_url=f"smtp://127.0.0.1:{self.smtp.port}")
        header, rows = harness.contacts_rows(300)
        # A hostile name must not become a header.
        rows.append(["mallory@example.com", "Mal\r\nBcc: victim@example.net", "Lory", "CA", "5", "", ""])
        csv_path = self.work.write_csv("contacts.csv", header, rows)
        imported = self.work.cli("import", "contacts", csv_path, check=0)
        self.assertIn("301", imported.stdout + imported.stderr)

        expected = {r[0] for r in rows if r[3] == "CA" and int(r[4]) >= 2 and r[6] != "unsubscribed"}
        self.assertGreater(len(expected), 20)

        self.work.start()
        code, _ = self.work.http("GET", "/status", token=None)
        self.assertEqual(code, 401, "/status must need the admin token")
        code, _ = self.work.http("GET", "/status", token="wrong")
        self.assertEqual(code, 401)

        self.work.drop_campaign("spring-sale.yaml", CAMPAIGN)
        status = self.work.wait_campaign_done("spring-sale")
        self.assertEqual(status["recipients"], len(expected))
        self.assertEqual(status["sent"], len(expected))
        self.assertEqual(status["failed"], 0)

        messages = self.smtp.messages()
        received = [m["rcpt_tos"][0].lower() for m in messages]
        self.assertEqual(sorted(received), sorted(expected), "every matching contact exactly once")

        for entry in messages:
            raw = self.smtp.raw(entry)
            self.work.assert_dkim(raw)
            self.assertNotIn(b"\n", raw.replace(b"\r\n", b""), "bare LF in message")
            self.assertNotIn(b"\r", raw.replace(b"\r\n", b""), "bare CR in message")
            self.assertTrue(all(len(line) <= 998 for line in raw.split(b"\r\n")))
            msg = email.message_from_bytes(raw, policy=email.policy.default)
            rcpt = entry["rcpt_tos"][0]
            i = rcpt.split("@")[0].replace("user", "")
            self.assertEqual(msg["To"].addresses[0].addr_spec, rcpt)
            self.assertEqual(msg["From"].addresses[0].display_name, "Acme Störe")
            self.assertEqual(msg["From"].addresses[0].addr_spec, "news@acme.example")
            self.assertEqual(str(msg["Reply-To"]), "support@acme.example")
            if rcpt != "mallory@example.com":
                self.assertEqual(str(msg["Subject"]), f"First{i}, 20% off this week ✓")
            self.assertTrue(msg["Message-ID"].startswith("<") and msg["Message-ID"].endswith("@acme.example>"))
            self.assertIsNotNone(msg["Date"])
            self.assertIn("/u/", msg["List-Unsubscribe"])
            self.assertEqual(str(msg["List-Unsubscribe-Post"]), "List-Unsubscribe=One-Click")
            self.assertIsNone(msg["Bcc"])
            self.assertEqual(msg.get_content_type(), "multipart/alternative")
            parts = [p.get_content_type() for p in msg.iter_parts()]
            self.assertEqual(parts, ["text/plain", "text/html"], "text first, html last")
            text = msg.get_body(("plain",)).get_content()
            self.assertIn("/u/", text, "a visible unsubscribe link")
        message_ids = {self.smtp.raw(m).split(b"Message-ID: ")[1].split(b"\r\n")[0] for m in messages}
        self.assertEqual(len(message_ids), len(messages), "Message-IDs are unique")

        # Editing the file, or dropping it again, never re-sends.
        self.work.drop_campaign("spring-sale.yaml", CAMPAIGN.replace("20% off", "25% off"))
        time.sleep(2.5)
        self.work.drop_campaign("spring-sale.yaml", CAMPAIGN)
        time.sleep(2.5)
        self.assertEqual(len(self.smtp.messages()), len(expected), "no message sent twice")

        # A bad file is listed with its place; the daemon keeps running.
        self.work.drop_campaign("broken.yaml", "name: broken\nfrom: not-an-address\nsubject: hi\n"
                                               "template: spring-sale\nsegment: 'orders >> 2'\n")
        def broken_listed():
            errs = [e for e in self.work.status()["errors"] if e["file"].endswith("broken.yaml")]
            return errs or None
        errors = harness.wait_for(broken_listed, timeout=15, what="broken.yaml on /status")
        by_line = {e["line"]: e for e in errors}
        self.assertIn(2, by_line, errors)           # from:
        self.assertEqual(by_line[2]["col"], 7)
        self.assertIn(5, by_line, errors)           # segment: the column of the second '>'
        self.assertTrue(self.work.healthy())

        code, metrics = self.work.http("GET", "/metrics")
        self.assertEqual(code, 200)
        self.assertIn(b'campaignd_sends{campaign="spring-sale",state="sent"} ' + str(len(expected)).encode(), metrics)

        self.assertEqual(self.work.stop(signal.SIGTERM), 0, "SIGTERM exits 0")


if __name__ == "__main__":
    unittest.main(verbosity=2)
