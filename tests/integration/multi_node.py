#!/usr/bin/python3
"""Several nodes (issue 10): three campaignd processes on one PostgreSQL database send one
20,000-recipient campaign into a real SMTP server. Midway the node that leads (runs the scheduler)
is SIGKILLed. Afterwards every recipient has the message, duplicates stay within the killed node's
sessions in flight, another node took the lead and closed the campaign, and each node sent part
of it (the split is printed).

Needs a PostgreSQL server: CAMPAIGND_TEST_PG_URL (ctest runs it inside
scripts/pg-test-cluster.sh, which starts a throwaway cluster). Without it the test is skipped.
    MULTI_NODE_RECIPIENTS  (default 20000)
"""

import os
import signal
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from test_crash_resume import LeanSmtpServer  # noqa: E402

PG_URL = os.environ.get("CAMPAIGND_TEST_PG_URL", "")
RECIPIENTS = int(os.environ.get("MULTI_NODE_RECIPIENTS", "20000"))
CONCURRENCY = 4  # transport.concurrency in harness.Workdir's config
CAMPAIGN = 'name: big\nfrom: "Acme <news@acme.example>"\nsubject: "Hi {{first_name}}"\ntemplate: spring-sale\nsegment: all\n'


def psql(sql):
    return harness.psql(PG_URL, sql)


@unittest.skipUnless(PG_URL, "CAMPAIGND_TEST_PG_URL is not set (scripts/pg-test-cluster.sh run …)")
class MultiNode(unittest.TestCase):
    def test_three_nodes_one_killed(self):
        started = time.monotonic()
        schema = f"multi_node_{os.getpid()}"
        psql(f"CREATE SCHEMA {schema}")
        url = harness.with_schema(PG_URL, schema)
        smtp = LeanSmtpServer(tempfile.mkdtemp(prefix="smtp-"))
        extra = f'store: {{ url: "{url}", heartbeat: 1s, lease: 4s }}\n'
        nodes = [harness.Workdir(transport_url=f"smtp://127.0.0.1:{smtp.port}", extra_config=extra) for _ in range(3)]
        try:
            rows = [[f"r{i}@example.com", f"R{i}"] for i in range(RECIPIENTS)]
            nodes[0].cli("import", "contacts", nodes[0].write_csv("c.csv", ["email", "first_name"], rows), check=0)
            for n in nodes:
                n.start()
            statuses = [n.status() for n in nodes]
            leaders = {x["id"] for s in statuses for x in s["nodes"] if x["leader"]}
            self.assertEqual(len(leaders), 1, statuses[0]["nodes"])
            harness.wait_for(lambda: len(nodes[2].status()["nodes"]) == 3, timeout=10, what="three nodes on /status")
            leader = next(i for i, s in enumerate(statuses) for x in s["nodes"] if x["self"] and x["leader"])
            # Only the leader's folder gets the file: the others render from the copy it publishes.
            nodes[leader].drop_campaign("big.yaml", CAMPAIGN)

            kill_at = RECIPIENTS * 2 // 5
            harness.wait_for(lambda: smtp.count() >= kill_at, timeout=600, interval=0.01, what=f"{kill_at} messages")
            killed_id = next(x["id"] for x in nodes[leader].status()["nodes"] if x["self"])
            nodes[leader].stop(signal.SIGKILL)
            at_kill = smtp.count()
            survivors = [n for i, n in enumerate(nodes) if i != leader]
            harness.wait_for(lambda: any(x["leader"] for x in survivors[0].status()["nodes"]), timeout=30,
                             what="another node to take the lead")
            survivors[0].wait_campaign_done("big", timeout=max(300, RECIPIENTS // 20))
            for n in survivors:
                self.assertEqual(n.stop(signal.SIGTERM), 0)
            seconds = time.monotonic() - started

            messages = smtp.messages()
            missing, duplicates = harness.missing_and_duplicates(messages, [r[0] for r in rows])
            split = {owner: int(n) for owner, n in psql(
                f"SELECT lease_owner, COUNT(*) FROM {schema}.sends WHERE state = 'sent' GROUP BY 1 ORDER BY 1")}
            sent = sum(split.values())
            print(f"\n{RECIPIENTS} recipients, 3 nodes, the leader SIGKILLed at {at_kill} messages: "
                  f"{len(messages)} messages, {len(missing)} missing, {duplicates} duplicates "
                  f"(bound {CONCURRENCY} = the killed node's sessions); {seconds:.1f} s", file=sys.stderr)
            for owner, n in split.items():
                print(f"  {owner}{' (killed)' if owner == killed_id else ''}: {n} sends ({100.0 * n / max(1, sent):.1f}%)",
                      file=sys.stderr)
            self.assertEqual(missing, [])
            self.assertLessEqual(duplicates, CONCURRENCY)
            self.assertEqual(sent, RECIPIENTS)
            self.assertEqual(len(split), 3, split)  # the work was spread over every node
            self.assertTrue(all(n > 0 for n in split.values()), split)
        finally:
            harness.tear_down_nodes(nodes, smtp, PG_URL, schema)


if __name__ == "__main__":
    unittest.main(verbosity=2)
