#!/usr/bin/python3
"""Automations in real time against a real SMTP server: a 3-step welcome drip with second-scale
delays runs in order after a double opt-in, survives a SIGKILL (each step goes once), and a
reply-triggered autoresponder answers with RFC 3834 headers; against a peer's autoresponder the
two exchange exactly one message each."""

import email
import email.policy
import json
import os
import re
import signal
import sys
import tempfile
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

WELCOME = """name: welcome
trigger: subscribed
from: "Acme <hello@acme.example>"
steps:
  - after: 0s
    subject: "Welcome {{first_name}} (1)"
    template: welcome-1
  - after: 3s
    subject: "Welcome {{first_name}} (2)"
    template: welcome-2
  - after: 3s
    subject: "Welcome {{first_name}} (3)"
    template: welcome-3
exit_on: [purchased, unsubscribed, replied]
"""

AUTOREPLY = """name: auto-reply
trigger: replied
from: "Acme Support <support@acme.example>"
reply_period: 7d
steps:
  - after: 0s
    subject: "We got your message, {{first_name}}"
    template: auto-reply
"""


def crlf(text):
    return text.strip("\n").replace("\n", "\r\n").encode() + b"\r\n"


class Automation(unittest.TestCase):
    def test_drip_and_autoresponder(self):
        smtp = harness.SmtpServer(tempfile.mkdtemp(prefix="smtp-"))
        work = harness.Workdir(transport_url=f"smtp://127.0.0.1:{smtp.port}",
                               extra_config='subscribe: { from: "Acme <hello@acme.example>" }\n')
        try:
            work.drop_campaign("welcome.yaml", WELCOME)
            work.drop_campaign("autoreply.yaml", AUTOREPLY)
            self.assertEqual(work.cli("validate", os.path.join(work.campaigns, "welcome.yaml"),
                                      os.path.join(work.campaigns, "autoreply.yaml")).returncode, 0)
            work.start()
            to_dana = lambda: [m for m in smtp.messages() if m["rcpt_tos"] == ["dana@example.com"]]
            code, _ = work.http("POST", "/api/subscribe", body=json.dumps({"email": "dana@example.com",
                                "first_name": "Dana"}).encode(), token=None, headers={"Content-Type": "application/json"})
            self.assertEqual(code, 202)
            confirm = harness.wait_for(to_dana, timeout=20, what="the confirmation")[0]
            text = email.message_from_bytes(smtp.raw(confirm), policy=email.policy.default).get_body(("plain",)).get_content()
            path = urllib.parse.urlparse(re.search(r"http://\S+/c/\S+", text).group(0)).path
            self.assertEqual(work.http("GET", path, token=None)[0], 200)
            confirmed_at = time.time()

            first = harness.wait_for(lambda: len(to_dana()) >= 2 and to_dana(), timeout=20, what="welcome step 1")
            self.assertLess(first[1]["time"] - confirmed_at, 3)
            # A message the server has but whose outcome is not yet committed may go again after a
            # crash (that is the in-flight bound); kill once step 1 is recorded as sent.
            def recorded():
                return int(work.query("SELECT COUNT(*) FROM sends WHERE state = 'sent'")[0][0]) >= 2
            harness.wait_for(recorded, timeout=10, what="step 1 recorded as sent")
            # Kill the daemon before step 2 is due; start it again after step 3 would have been due.
            work.stop(signal.SIGKILL)
            time.sleep(7)
            work.start()
            harness.wait_for(lambda: len(to_dana()) >= 4, timeout=30, what="welcome steps 2 and 3")
            time.sleep(4)
            subjects = []
            for m in to_dana()[1:]:
                msg = email.message_from_bytes(smtp.raw(m), policy=email.policy.default)
                work.assert_dkim(smtp.raw(m))
                subjects.append(str(msg["Subject"]))
                self.assertIn("/u/", str(msg["List-Unsubscribe"]))
            self.assertEqual(subjects, ["Welcome Dana (1)", "Welcome Dana (2)", "Welcome Dana (3)"],
                             "each step once, in order, also across a crash")
            welcome = [a for a in work.status()["automations"] if a["name"] == "welcome"][0]
            self.assertEqual((welcome["enrolled"], welcome["completed"]), (1, 1), welcome)

            # A reply to step 3 triggers the autoresponder.
            step3 = email.message_from_bytes(smtp.raw(to_dana()[-1]), policy=email.policy.default)
            reply = crlf(f"""
From: Dana <dana@example.com>
To: hello@acme.example
Subject: Re: {step3["Subject"]}
Message-ID: <dana-reply-1@example.com>
In-Reply-To: {step3["Message-ID"]}
References: {step3["Message-ID"]}
Content-Type: text/plain

Thanks! When does the sale end?
""")
            code, body = work.http("POST", "/webhooks/inbound", body=reply, token=None,
                                   headers={"Content-Type": "message/rfc822"})
            self.assertEqual(code, 200, body)
            answers = harness.wait_for(lambda: [m for m in to_dana() if m["mail_from"] == "support@acme.example"],
                                       timeout=20, what="the automatic answer")
            answer = email.message_from_bytes(smtp.raw(answers[0]), policy=email.policy.default)
            self.assertEqual(str(answer["Auto-Submitted"]), "auto-replied")
            self.assertEqual(str(answer["In-Reply-To"]), "<dana-reply-1@example.com>")
            self.assertIn("<dana-reply-1@example.com>", str(answer["References"]))
            work.assert_dkim(smtp.raw(answers[0]))

            # The peer's own autoresponder answers ours (marked auto-replied): we must not answer it.
            peer_auto = crlf(f"""
From: Dana <dana@example.com>
To: support@acme.example
Subject: Auto: {answer["Subject"]}
Auto-Submitted: auto-replied
Message-ID: <dana-auto-1@example.com>
In-Reply-To: {answer["Message-ID"]}
Content-Type: text/plain

I am out of the office.
""")
            # ... and a careless peer robot that does not mark its answers.
            careless = crlf(f"""
From: Dana <dana@example.com>
To: support@acme.example
Subject: Re: {answer["Subject"]}
Message-ID: <dana-auto-2@example.com>
In-Reply-To: {answer["Message-ID"]}
Content-Type: text/plain

Your message was received.
""")
            for raw in (peer_auto, careless):
                self.assertEqual(work.http("POST", "/webhooks/inbound", body=raw, token=None,
                                           headers={"Content-Type": "message/rfc822"})[0], 200)
            time.sleep(4)
            answers = [m for m in to_dana() if m["mail_from"] == "support@acme.example"]
            self.assertEqual(len(answers), 1, "one automatic answer per sender per period, never to a robot")

            report = json.loads(work.cli("report", "auto-reply", "--format", "json", check=0).stdout)
            self.assertEqual(report["steps"][0]["sent"], 1, report)
            self.assertEqual(work.stop(), 0)
        finally:
            work.cleanup()
            smtp.stop()


if __name__ == "__main__":
    unittest.main(verbosity=2)
