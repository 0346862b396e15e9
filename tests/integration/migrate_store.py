#!/usr/bin/python3
"""`campaignd migrate-store` (issue 10): a daemon on SQLite sends a campaign and records
responses; the store is copied into PostgreSQL with the CLI; a daemon on PostgreSQL then shows the
same campaign, counts and report, and a second copy into the same database is refused.

Needs CAMPAIGND_TEST_PG_URL (ctest runs it inside scripts/pg-test-cluster.sh); skipped without.
"""

import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

PG_URL = os.environ.get("CAMPAIGND_TEST_PG_URL", "")


@unittest.skipUnless(PG_URL, "CAMPAIGND_TEST_PG_URL is not set (scripts/pg-test-cluster.sh run …)")
class MigrateStore(unittest.TestCase):
    def test_sqlite_store_moves_to_postgresql(self):
        schema = f"migrate_{os.getpid()}"
        harness.psql(PG_URL, f"CREATE SCHEMA {schema}")
        target = harness.with_schema(PG_URL, schema)
        work = harness.Workdir()  # SQLite, maildir outbox
        try:
            rows = [[f"p{i}@example.com", f"P{i}", "CA" if i % 2 else "US"] for i in range(40)]
            work.cli("import", "contacts", work.write_csv("c.csv", ["email", "first_name", "country"], rows), check=0)
            work.cli("import", "events", work.write_csv("e.csv", ["email", "type", "amount", "at"],
                                                        [["p1@example.com", "purchase", "12.5", "2026-11-01T10:00:00Z"]]),
                     check=0)
            work.drop_campaign("sale.yaml", 'name: sale\nfrom: "Acme <news@acme.example>"\nsubject: "Hi {{first_name}}"\n'
                                            'template: spring-sale\nsegment: \'country = "CA"\'\n')
            work.cli("run", "--once", check=0)
            before = json.loads(work.cli("report", "sale", "--format", "json", check=0).stdout)
            self.assertEqual(before["sent"], 20)

            out = work.cli("migrate-store", "--to", target, check=0)
            self.assertIn("copied", out.stdout)
            self.assertNotIn(PG_URL.split("@")[0].split(":")[-1], out.stdout + out.stderr)  # no password shown

            # The same folder, now on PostgreSQL.
            with open(work.config, "a") as f:
                f.write(f'store: {{ url: "{target}" }}\n')
            after = json.loads(work.cli("report", "sale", "--format", "json", check=0).stdout)
            for key in ("recipients", "sent", "delivered", "bounced", "opened", "clicked"):
                self.assertEqual(after[key], before[key], key)
            self.assertEqual(int(harness.psql(target, "SELECT COUNT(*) FROM contacts")[0][0]), 40)
            self.assertEqual(harness.psql(target, "SELECT purchases, revenue FROM contact_stats")[0], ["1", "12.5"])
            work.start()
            campaign = work.campaign_status("sale")
            self.assertEqual((campaign["state"], campaign["sent"]), ("done", 20))
            self.assertEqual(work.stop(), 0)

            again = work.cli("migrate-store", "--to", target, "--from", "sqlite://" + os.path.join(work.path, "var", "campaignd.db"))
            self.assertEqual(again.returncode, 2)
            self.assertIn("already holds data", again.stderr)
        finally:
            work.cleanup()
            harness.psql(PG_URL, f"DROP SCHEMA {schema} CASCADE")


if __name__ == "__main__":
    unittest.main(verbosity=2)
