#!/usr/bin/python3
"""Hostile input and secrets: a contact named `x'); DROP TABLE contacts;--` and hostile attribute
names and segment strings change nothing but what they should; admin routes need the bearer
token; oversized bodies get 413; no secret (token key, admin token, SMTP password, webhook
secret) ever appears in the log."""

import json
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

EVIL = "x'); DROP TABLE contacts;--"


class Security(unittest.TestCase):
    def test_hostile_input_and_secrets(self):
        smtp = harness.SmtpServer(tempfile.mkdtemp(prefix="smtp-"))
        work = harness.Workdir(transport_url=f"smtp://127.0.0.1:{smtp.port}")
        with open(work.config) as f:
            text = f.read()
        with open(work.config, "w") as f:
            f.write(text.replace("  rate: 0\n", "  rate: 0\n  username_env: SMTP_USER\n  password_env: SMTP_PASS\n"))
        secrets = {"SMTP_USER": "relay-user", "SMTP_PASS": "s3cret-relay-password-XYZ",
                   "CAMPAIGND_WEBHOOK_MAILGUN_SECRET": "mailgun-signing-key-QWE"}
        os.environ.update(secrets)
        try:
            header = ["email", "first_name", 'we"ird', "note"]
            rows = [["evil@example.com", EVIL, EVIL, EVIL], ["ok@example.com", "Ok", "1", "fine"]]
            work.cli("import", "contacts", work.write_csv("c.csv", header, rows), check=0)
            work.start()
            segment = "note = \"x'); DROP TABLE contacts;--\" or attr(\"we\\\"ird\") = \"x'); DROP TABLE contacts;--\""
            work.drop_campaign("evil.yaml", 'name: evil\nfrom: "Acme <news@acme.example>"\nsubject: "Hi {{first_name}}"\n'
                                            f"template: spring-sale\nsegment: >-\n  {segment}\n")
            c = work.wait_campaign_done("evil")
            self.assertEqual(c["recipients"], 1, c)
            self.assertEqual(int(work.query("SELECT COUNT(*) FROM contacts")[0][0]), 2, "the table is intact")
            self.assertEqual(work.query("SELECT first_name FROM contacts WHERE email = 'evil@example.com'")[0][0], EVIL)
            self.assertEqual([m["rcpt_tos"][0] for m in smtp.messages()], ["evil@example.com"])

            # Admin routes: no token, a wrong token, a token with a suffix: all 401.
            for token in [None, "wrong", harness.ADMIN_TOKEN + "x", harness.ADMIN_TOKEN[:-1]]:
                for path in ["/status", "/metrics"]:
                    self.assertEqual(work.http("GET", path, token=token)[0], 401, (path, token))
            self.assertEqual(work.http("GET", "/status")[0], 200)
            # Body limits.
            code, body = work.http("POST", "/api/subscribe", body=b"x" * (2 << 20), token=None,
                                   headers={"Content-Type": "application/json"})
            self.assertEqual(code, 413)
            self.assertIn("error", json.loads(body))
            self.assertEqual(work.stop(), 0)

            log = work.read_log()
            for name, value in list(secrets.items()) + [("token key", "integration-test-secret"),
                                                        ("admin token", harness.ADMIN_TOKEN)]:
                self.assertNotIn(value, log, f"{name} leaked into the log")
            self.assertNotIn("s3cret", work.cli("status", "--offline", check=0).stdout)
        finally:
            for k in secrets:
                os.environ.pop(k, None)
            work.cleanup()
            smtp.stop()


if __name__ == "__main__":
    unittest.main(verbosity=2)
