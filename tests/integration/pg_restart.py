#!/usr/bin/python3
"""PostgreSQL restarts under a sending daemon (issue 10): every connection campaignd holds is
dropped midway through a 3,000-recipient campaign. Sending pauses while the server is away, each
connection is opened again at its next unit of work (writer batch, delivery loop, request,
heartbeat), and the campaign finishes: nobody missed, duplicates within the sessions in flight,
the node leads again, /status answers.

Needs the throwaway cluster of scripts/pg-test-cluster.sh run (CAMPAIGND_TEST_PG_URL and
CAMPAIGND_TEST_PG_DIR, so the test can restart it). Without them the test is skipped.
"""

import os
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from test_crash_resume import LeanSmtpServer  # noqa: E402

PG_URL = os.environ.get("CAMPAIGND_TEST_PG_URL", "")
PG_DIR = os.environ.get("CAMPAIGND_TEST_PG_DIR", "")
RECIPIENTS = 3000
CONCURRENCY = 4  # transport.concurrency in harness.Workdir's config
CAMPAIGN = ('name: steady\nfrom: "Acme <news@acme.example>"\nsubject: "Hi {{first_name}}"\n'
            'template: spring-sale\nsegment: all\nthrottle: 300/s\n')


@unittest.skipUnless(PG_URL and PG_DIR, "needs scripts/pg-test-cluster.sh run (CAMPAIGND_TEST_PG_URL, _DIR)")
class PgRestart(unittest.TestCase):
    def test_the_server_restarts_midway(self):
        schema = f"restart_{os.getpid()}"
        harness.psql(PG_URL, f"CREATE SCHEMA {schema}")
        url = harness.with_schema(PG_URL, schema)
        smtp = LeanSmtpServer(tempfile.mkdtemp(prefix="smtp-"))
        work = harness.Workdir(transport_url=f"smtp://127.0.0.1:{smtp.port}",
                               extra_config=f'store: {{ url: "{url}", heartbeat: 1s, lease: 4s }}\n')
        try:
            rows = [[f"r{i}@example.com", f"R{i}"] for i in range(RECIPIENTS)]
            work.cli("import", "contacts", work.write_csv("c.csv", ["email", "first_name"], rows), check=0)
            work.start()
            work.drop_campaign("steady.yaml", CAMPAIGN)
            harness.wait_for(lambda: smtp.count() >= RECIPIENTS // 3, timeout=60, interval=0.05,
                             what=f"{RECIPIENTS // 3} messages")
            at_restart = smtp.count()
            t = time.monotonic()
            subprocess.run(["bash", os.path.join(harness.ROOT, "scripts", "pg-test-cluster.sh"), "restart", PG_DIR],
                           check=True)
            print(f"\nPostgreSQL restarted at {at_restart} messages in {time.monotonic() - t:.1f} s", file=sys.stderr)

            done = work.wait_campaign_done("steady", timeout=120)
            self.assertEqual(done["sent"], RECIPIENTS, done)
            harness.wait_for(lambda: any(x["self"] and x["leader"] for x in work.status()["nodes"]), timeout=15,
                             what="the node to lead again")
            self.assertEqual(work.http("GET", "/healthz")[0], 200)
            self.assertEqual(work.stop(), 0)
            messages = smtp.messages()
            missing, duplicates = harness.missing_and_duplicates(messages, [r[0] for r in rows])
            print(f"{len(messages)} messages, {len(missing)} missing, {duplicates} duplicates "
                  f"(bound {CONCURRENCY})", file=sys.stderr)
            self.assertEqual(missing, [])
            self.assertLessEqual(duplicates, CONCURRENCY)
            log = work.read_log()
            self.assertIn("reconnected to", log)
            self.assertNotIn(url.split("@")[0].split(":")[-1], log, "the password never shows")
        finally:
            harness.tear_down_nodes([work], smtp, PG_URL, schema)


if __name__ == "__main__":
    unittest.main(verbosity=2)
