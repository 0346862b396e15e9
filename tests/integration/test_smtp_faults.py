#!/usr/bin/python3
"""A faulty SMTP server: 451 is retried with backoff and then delivered once; 550 5.1.1 at RCPT
fails the send, records a hard bounce and suppresses the address; 554 5.7.1 (policy) fails the
send but suppresses no one; a connection dropped after the data, and a server that stalls past
the timeout, are retried and never counted as sent without a 250."""

import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402


class SmtpFaults(unittest.TestCase):
    def test_faults(self):
        smtp = harness.SmtpServer(tempfile.mkdtemp(prefix="smtp-"), faults=[
            "once@*=451x2", "bad@*=550/rcpt", "policy@*=554", "drop@*=drop", "slow@*=stall:6"])
        work = harness.Workdir(transport_url=f"smtp://127.0.0.1:{smtp.port}",
                               extra_config="max_attempts: 3\n")
        with open(work.config) as f:
            text = f.read()
        with open(work.config, "w") as f:
            f.write(text.replace("  rate: 0\n", "  rate: 0\n  timeout: 2s\n"))
        try:
            rows = [[f"{name}@example.com", name] for name in ["ok", "once", "bad", "policy", "drop", "slow"]]
            work.cli("import", "contacts", work.write_csv("c.csv", ["email", "first_name"], rows), check=0)
            work.start()
            work.drop_campaign("f.yaml", 'name: f\nfrom: "Acme <news@acme.example>"\nsubject: "Hi"\n'
                                         "template: spring-sale\nsegment: all\n")
            c = work.wait_campaign_done("f", timeout=90)
            state = dict(work.query("SELECT c.email, s.state FROM sends s JOIN contacts c ON c.id = s.contact_id"))
            attempts = {e: int(n) for e, n in
                        work.query("SELECT c.email, s.attempts FROM sends s JOIN contacts c ON c.id = s.contact_id")}
            status = dict(work.query("SELECT email, status FROM contacts"))
            accepted = [m["rcpt_tos"][0] for m in smtp.messages()]

            self.assertEqual(state["ok@example.com"], "sent")
            self.assertEqual(state["once@example.com"], "sent")
            self.assertEqual(attempts["once@example.com"], 3, "two 451s, then delivered")
            self.assertEqual(accepted.count("once@example.com"), 1)

            self.assertEqual(state["bad@example.com"], "failed")
            self.assertEqual(status["bad@example.com"], "bounced", "5.1.1 is a hard bounce")
            self.assertIn("bad@example.com", {r[0] for r in work.query("SELECT email FROM suppressions")})
            reply = work.query("SELECT s.last_error FROM sends s JOIN contacts c ON c.id = s.contact_id "
                               "WHERE c.email = 'bad@example.com'")[0][0]
            self.assertIn("5.1.1", reply)

            self.assertEqual(state["policy@example.com"], "failed")
            self.assertEqual(status["policy@example.com"], "subscribed", "5.7.x blames us, not the address")

            # Never counted sent without a 250: the dropped and stalled ones end failed after retries.
            for name in ["drop", "slow"]:
                self.assertEqual(state[f"{name}@example.com"], "failed", name)
                self.assertEqual(attempts[f"{name}@example.com"], 3, name)
                self.assertNotIn(f"{name}@example.com", accepted)
            self.assertEqual((c["sent"], c["failed"]), (2, 4), c)
            self.assertEqual(work.stop(), 0)
        finally:
            work.cleanup()
            smtp.stop()


if __name__ == "__main__":
    unittest.main(verbosity=2)
