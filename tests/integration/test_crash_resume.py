#!/usr/bin/python3
"""Durability: campaignd is SIGKILLed several times while a campaign sends into a real SMTP
server, and restarted each time. Afterwards every recipient has the message, duplicates are
at most the sessions in flight per kill, and the database passes PRAGMA integrity_check.
(issue 8 grows this into the 50k x 20 kills variant; CRASH_RECIPIENTS / CRASH_KILLS scale it.)"""

import collections
import os
import random
import signal
import sqlite3
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

RECIPIENTS = int(os.environ.get("CRASH_RECIPIENTS", "3000"))
KILLS = int(os.environ.get("CRASH_KILLS", "4"))
CONCURRENCY = 4


class CrashResume(unittest.TestCase):
    def test_sigkill_loses_no_recipient(self):
        smtp = harness.SmtpServer(tempfile.mkdtemp(prefix="smtp-"))
        work = harness.Workdir(transport_url=f"smtp://127.0.0.1:{smtp.port}")
        try:
            header = ["email", "first_name"]
            rows = [[f"r{i}@example.com", f"R{i}"] for i in range(RECIPIENTS)]
            work.cli("import", "contacts", work.write_csv("c.csv", header, rows), check=0)
            work.drop_campaign("big.yaml", 'name: big\nfrom: "Acme <news@acme.example>"\n'
                                           'subject: "Hi {{first_name}}"\ntemplate: spring-sale\nsegment: all\n')
            rng = random.Random(42)
            kills = 0
            for k in range(KILLS):
                work.start()
                # Kill somewhere in the middle of the sending.
                target = (k + 1) * RECIPIENTS // (KILLS + 2)
                harness.wait_for(lambda: len(smtp.messages()) >= target, timeout=120, interval=0.01,
                                 what=f"{target} messages")
                time.sleep(rng.random() * 0.05)
                if work.daemon.poll() is None:
                    work.stop(signal.SIGKILL)
                    kills += 1
            work.start()
            work.wait_campaign_done("big", timeout=300)
            self.assertEqual(work.stop(signal.SIGTERM), 0)

            counts = collections.Counter(m["rcpt_tos"][0] for m in smtp.messages())
            missing = [r[0] for r in rows if counts[r[0]] == 0]
            duplicates = sum(n - 1 for n in counts.values() if n > 1)
            print(f"\n{RECIPIENTS} recipients, {kills} SIGKILLs: {len(counts)} got mail, "
                  f"{len(missing)} missing, {duplicates} duplicates "
                  f"(bound {kills * CONCURRENCY})", file=sys.stderr)
            self.assertEqual(missing, [])
            for m in smtp.messages():
                work.assert_dkim(smtp.raw(m))
            self.assertLessEqual(duplicates, kills * CONCURRENCY)
            db = sqlite3.connect(os.path.join(work.path, "var", "campaignd.db"))
            self.assertEqual(db.execute("PRAGMA integrity_check").fetchone()[0], "ok")
            sent, = db.execute("SELECT COUNT(*) FROM sends WHERE state = 'sent'").fetchone()
            self.assertEqual(sent, RECIPIENTS)
        finally:
            work.cleanup()
            smtp.stop()


if __name__ == "__main__":
    unittest.main(verbosity=2)
