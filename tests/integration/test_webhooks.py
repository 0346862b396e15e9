#!/usr/bin/python3
"""Provider webhooks through the running daemon: a signed Mailgun permanent failure and a
Standard Webhooks complaint tie to their sends by our Message-ID and suppress the contacts; the
event is durable before the 2xx (campaignd is SIGKILLed right after it and the event is there);
duplicates count once; forged signatures, stale timestamps and replays get 401; malformed
bodies 400 with a reason; oversized bodies 413; /status and `campaignd report` show the events."""

import base64
import email
import email.policy
import hashlib
import hmac
import json
import os
import signal
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

MAILGUN_KEY = "key-mailgun-signing-0123456789"
STANDARD_KEY = base64.b64encode(b"standard-webhooks-secret-bytes!!").decode()


def mailgun_post(event, token, timestamp=None, key=MAILGUN_KEY):
    ts = str(int(timestamp or time.time()))
    sig = hmac.new(key.encode(), (ts + token).encode(), hashlib.sha256).hexdigest()
    return json.dumps({"signature": {"timestamp": ts, "token": token, "signature": sig}, "event-data": event}).encode()


def standard_headers(body, msg_id, timestamp=None, key=STANDARD_KEY):
    ts = str(int(timestamp or time.time()))
    mac = hmac.new(base64.b64decode(key), f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()
    return {"webhook-id": msg_id, "webhook-timestamp": ts, "webhook-signature": "v1," + base64.b64encode(mac).decode(),
            "Content-Type": "application/json"}


class Webhooks(unittest.TestCase):
    def test_webhooks_end_to_end(self):
        smtp = harness.SmtpServer(tempfile.mkdtemp(prefix="smtp-"))
        work = harness.Workdir(transport_url=f"smtp://127.0.0.1:{smtp.port}")
        shutil_copy = __import__("shutil").copytree
        shutil_copy(os.path.join(harness.ROOT, "webhooks"), os.path.join(work.path, "webhooks"))
        os.environ["CAMPAIGND_WEBHOOK_MAILGUN_SECRET"] = MAILGUN_KEY
        os.environ["CAMPAIGND_WEBHOOK_STANDARD_SECRET"] = "whsec_" + STANDARD_KEY
        try:
            rows = [[f"w{i}@example.com", f"W{i}"] for i in range(4)]
            work.cli("import", "contacts", work.write_csv("c.csv", ["email", "first_name"], rows), check=0)
            work.start()
            work.drop_campaign("news.yaml", 'name: news\nfrom: "Acme <news@acme.example>"\nsubject: "Hi"\n'
                                            "template: spring-sale\nsegment: all\n")
            work.wait_campaign_done("news")
            ids = {}
            for m in smtp.messages():
                msg = email.message_from_bytes(smtp.raw(m), policy=email.policy.default)
                ids[m["rcpt_tos"][0]] = str(msg["Message-ID"])
            status = lambda e: work.query(f"SELECT status FROM contacts WHERE email = '{e}'")[0][0]

            # Mailgun: a permanent failure for w0 -> hard bounce, suppressed.
            event = {"id": "mg-evt-1", "event": "failed", "severity": "permanent", "recipient": "w0@example.com",
                     "timestamp": time.time(), "reason": "bounce",
                     "delivery-status": {"code": 550, "message": "5.1.1 no such user"},
                     "message": {"headers": {"message-id": ids["w0@example.com"].strip("<>")}}}
            body = mailgun_post(event, "token-1")
            code, resp = work.http("POST", "/webhooks/mailgun", body=body, token=None,
                                   headers={"Content-Type": "application/json"})
            self.assertEqual(code, 200, resp)
            self.assertEqual(json.loads(resp)["accepted"], 1)
            # Durable before the 2xx: kill at once and look.
            work.stop(signal.SIGKILL)
            rows = work.query("SELECT e.kind, s.contact_id FROM events e JOIN sends s ON s.id = e.send_id "
                              "WHERE e.provider_event_id LIKE '%mg-evt-1%'")
            self.assertTrue(rows, "the accepted event survived SIGKILL")
            row = rows[0]
            self.assertEqual(row[0], "bounced")
            self.assertEqual(status("w0@example.com"), "bounced")
            supp = int(work.query("SELECT COUNT(*) FROM suppressions WHERE email = 'w0@example.com'")[0][0])
            self.assertEqual(supp, 1)
            work.start()

            # Replay of the same token: 401. A forged signature: 401. A stale timestamp: 401.
            code, _ = work.http("POST", "/webhooks/mailgun", body=body, token=None,
                                headers={"Content-Type": "application/json"})
            self.assertEqual(code, 401)
            forged = mailgun_post(event, "token-2", key="wrong-key")
            code, resp = work.http("POST", "/webhooks/mailgun", body=forged, token=None,
                                   headers={"Content-Type": "application/json"})
            self.assertEqual(code, 401, resp)
            stale = mailgun_post(event, "token-3", timestamp=time.time() - 3600)
            self.assertEqual(work.http("POST", "/webhooks/mailgun", body=stale, token=None,
                                       headers={"Content-Type": "application/json"})[0], 401)

            # Standard Webhooks: a complaint for w1, posted twice -> one event.
            body = json.dumps({"type": "email.complained", "timestamp": "2026-11-24T10:00:00Z",
                               "data": {"recipient": "w1@example.com", "message_id": ids["w1@example.com"]}}).encode()
            for attempt in range(2):
                code, resp = work.http("POST", "/webhooks/standard", body=body, token=None,
                                       headers=standard_headers(body, "msg_complaint_1"))
                self.assertEqual(code, 200, resp)
            self.assertEqual(json.loads(resp)["duplicates"], 1)
            self.assertEqual(status("w1@example.com"), "complained")
            n = int(work.query("SELECT COUNT(*) FROM events WHERE kind = 'complained'")[0][0])
            self.assertEqual(n, 1)

            # Malformed JSON with a valid signature: 400 with a reason. Unknown provider: 404.
            bad = b'{"type": "email.opened", '
            code, resp = work.http("POST", "/webhooks/standard", body=bad, token=None,
                                   headers=standard_headers(bad, "msg_bad"))
            self.assertEqual(code, 400)
            self.assertIn("error", json.loads(resp))
            self.assertEqual(work.http("POST", "/webhooks/nosuch", body=b"{}", token=None)[0], 404)
            # Too large: 413.
            huge = b"[" + b" " * (3 << 20) + b"]"
            code, _ = work.http("POST", "/webhooks/standard", body=huge, token=None,
                                headers={"Content-Type": "application/json"})
            self.assertEqual(code, 413)

            c = work.campaign_status("news")
            self.assertEqual(c["events"].get("bounced"), 1, c)
            self.assertEqual(c["events"].get("complained"), 1, c)
            report = json.loads(work.cli("report", "news", "--format", "json", check=0).stdout)
            self.assertEqual(report["bounced"], 1)
            self.assertEqual(report["complained"], 1)
            self.assertAlmostEqual(report["bounce_rate"], 0.25)

            # The suppressed contacts get nothing from the next campaign.
            work.drop_campaign("next.yaml", 'name: next\nfrom: "Acme <news@acme.example>"\nsubject: "Hi"\n'
                                            "template: spring-sale\nsegment: all\n")
            self.assertEqual(work.wait_campaign_done("next")["recipients"], 2)
            self.assertEqual(work.stop(), 0)
        finally:
            work.cleanup()
            smtp.stop()


if __name__ == "__main__":
    unittest.main(verbosity=2)
