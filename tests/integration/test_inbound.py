#!/usr/bin/python3
"""Mail that comes back, posted to POST /webhooks/inbound as a relay would: a reply is matched to
its send by In-Reply-To and recorded with a snippet; an out-of-office is not a reply; a DSN with
5.1.1 hard-bounces and suppresses; an ARF report is a complaint; a mail to the List-Unsubscribe
mailto: address unsubscribes. Re-posting the same mail records nothing twice."""

import email
import email.policy
import json
import os
import re
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402


def crlf(text):
    return text.strip("\n").replace("\n", "\r\n").encode() + b"\r\n"


class Inbound(unittest.TestCase):
    def post(self, raw):
        code, body = self.work.http("POST", "/webhooks/inbound", body=raw, token=None,
                                    headers={"Content-Type": "message/rfc822"})
        self.assertEqual(code, 200, body)
        return json.loads(body)

    def test_inbound_mail(self):
        smtp = harness.SmtpServer(tempfile.mkdtemp(prefix="smtp-"))
        self.work = work = harness.Workdir(transport_url=f"smtp://127.0.0.1:{smtp.port}")
        try:
            rows = [[f"i{i}@example.com", f"I{i}"] for i in range(5)]
            work.cli("import", "contacts", work.write_csv("c.csv", ["email", "first_name"], rows), check=0)
            work.start()
            work.drop_campaign("news.yaml", 'name: news\nfrom: "Acme <news@acme.example>"\nsubject: "Spring news"\n'
                                            "template: spring-sale\nsegment: all\n")
            work.wait_campaign_done("news")
            sent = {}
            for m in smtp.messages():
                msg = email.message_from_bytes(smtp.raw(m), policy=email.policy.default)
                sent[m["rcpt_tos"][0]] = msg
            status = lambda e: work.query(f"SELECT status FROM contacts WHERE email = '{e}'")[0][0]
            count = lambda kind: int(work.query(f"SELECT COUNT(*) FROM events WHERE kind = '{kind}'")[0][0])

            mid = sent["i0@example.com"]["Message-ID"]
            reply = crlf(f"""
From: I0 <i0@example.com>
To: news@acme.example
Subject: Re: Spring news
Message-ID: <reply-1@example.com>
In-Reply-To: {mid}
References: {mid}
Date: Tue, 24 Nov 2026 12:00:00 +0000
Content-Type: text/plain; charset=utf-8

Yes please, send me the catalogue!

On Tue, 24 Nov 2026, Acme wrote:
> Spring news
""")
            r = self.post(reply)
            self.assertEqual((r["kind"], r["matched"]), ("replied", True))
            self.post(reply)  # again: recorded once
            row = work.query("SELECT data FROM events WHERE kind = 'replied'")
            self.assertEqual(len(row), 1)
            self.assertIn("catalogue", json.loads(row[0][0])["snippet"])
            self.assertNotIn("Spring news", json.loads(row[0][0])["snippet"])

            ooo = crlf(f"""
From: i1@example.com
To: news@acme.example
Subject: Out of office: Spring news
Auto-Submitted: auto-replied
Message-ID: <ooo-1@example.com>
In-Reply-To: {sent["i1@example.com"]["Message-ID"]}
Content-Type: text/plain

I am away until Monday.
""")
            self.assertEqual(self.post(ooo)["kind"], "auto_replied")
            self.assertEqual(count("replied"), 1)

            dsn = crlf(f"""
From: Mail Delivery System <MAILER-DAEMON@mx.example.com>
To: news@acme.example
Subject: Undelivered Mail Returned to Sender
Message-ID: <dsn-1@mx.example.com>
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B"

--B
Content-Type: text/plain

The mail could not be delivered.
--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.com

Final-Recipient: rfc822; i2@example.com
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 <i2@example.com>: Recipient address rejected: User unknown
--B
Content-Type: text/rfc822-headers

From: Acme <news@acme.example>
To: i2@example.com
Subject: Spring news
Message-ID: {sent["i2@example.com"]["Message-ID"]}
--B--
""")
            r = self.post(dsn)
            self.assertEqual(r["kind"], "bounced")
            self.assertEqual(status("i2@example.com"), "bounced")

            arf = crlf(f"""
From: feedback@yahoo.example
To: abuse@acme.example
Subject: Abuse report
Message-ID: <arf-1@yahoo.example>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="F"

--F
Content-Type: text/plain

This is an abuse report.
--F
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: YahooFBL/1.0
Version: 1
Original-Rcpt-To: i3@example.com
--F
Content-Type: text/rfc822-headers

From: Acme <news@acme.example>
To: i3@example.com
Message-ID: {sent["i3@example.com"]["Message-ID"]}
--F--
""")
            self.assertEqual(self.post(arf)["kind"], "complained")
            self.assertEqual(status("i3@example.com"), "complained")

            mailto = re.findall(r"<mailto:([^?>]+)", str(sent["i4@example.com"]["List-Unsubscribe"]))[0]
            unsub = crlf(f"""
From: i4@example.com
To: {mailto}
Subject: unsubscribe
Message-ID: <unsub-1@example.com>
Content-Type: text/plain

unsubscribe
""")
            self.assertEqual(self.post(unsub)["kind"], "unsubscribed")
            self.assertEqual(status("i4@example.com"), "unsubscribed")

            code, body = work.http("POST", "/webhooks/inbound", body=b"\x00\x01 not mail", token=None,
                                   headers={"Content-Type": "message/rfc822"})
            self.assertEqual(code, 400, body)

            report = json.loads(work.cli("report", "news", "--format", "json", check=0).stdout)
            self.assertEqual((report["replied"], report["bounced"], report["complained"], report["unsubscribed"]),
                             (1, 1, 1, 1), report)
            self.assertEqual(work.stop(), 0)
        finally:
            work.cleanup()
            smtp.stop()


if __name__ == "__main__":
    unittest.main(verbosity=2)
