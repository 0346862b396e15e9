#!/usr/bin/python3
"""One node loads campaign files (issue 10): two campaignd processes on one PostgreSQL, each with
folders of its own. The leader's files decide what is sent; the follower renders from the copy the
leader put in the store, never from its own folder, which here is stale (another subject, a
template it lacks, a campaign the leader does not have). Both nodes send. When the leader is
SIGKILLed, the follower takes the lead and goes on with the dead leader's files; once its own
folder changes, its own files count.

Needs a PostgreSQL server: CAMPAIGND_TEST_PG_URL (ctest runs it inside
scripts/pg-test-cluster.sh, which starts a throwaway cluster). Without it the test is skipped.
"""

import collections
import email
import email.policy
import os
import signal
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

PG_URL = os.environ.get("CAMPAIGND_TEST_PG_URL", "")
RECIPIENTS = 1000
FRESH = ('name: promo\nfrom: "Acme <news@acme.example>"\nsubject: "FRESH for {{first_name}}"\n'
         'template: leader-only\nsegment: all\nthrottle: 250/s\n')
STALE = ('name: promo\nfrom: "Acme <news@acme.example>"\nsubject: "STALE for {{first_name}}"\n'
         'template: spring-sale\nsegment: all\n')
B_ONLY = ('name: b-only\nfrom: "Acme <news@acme.example>"\nsubject: "B-ONLY {{first_name}}"\n'
          'template: spring-sale\nsegment: \'has_tag("vip")\'\n')
VIPS = 3


def psql(sql):
    return harness.psql(PG_URL, sql)


def parsed(smtp, entry):
    return email.message_from_bytes(smtp.raw(entry), policy=email.policy.default)


@unittest.skipUnless(PG_URL, "CAMPAIGND_TEST_PG_URL is not set (scripts/pg-test-cluster.sh run …)")
class Followers(unittest.TestCase):
    def test_the_leaders_files_count(self):
        started = time.monotonic()
        schema = f"followers_{os.getpid()}"
        psql(f"CREATE SCHEMA {schema}")
        url = harness.with_schema(PG_URL, schema)
        smtp = harness.SmtpServer(tempfile.mkdtemp(prefix="smtp-"))
        extra = f'store: {{ url: "{url}", heartbeat: 1s, lease: 4s }}\n'
        a, b = (harness.Workdir(transport_url=f"smtp://127.0.0.1:{smtp.port}", extra_config=extra) for _ in range(2))
        try:
            rows = [[f"r{i}@example.com", f"R{i}", "vip" if i < VIPS else ""] for i in range(RECIPIENTS)]
            a.cli("import", "contacts", a.write_csv("c.csv", ["email", "first_name", "tags"], rows), check=0)
            # Only the leader has the template; the follower's folder holds a stale copy of the
            # campaign and one of its own.
            with open(os.path.join(a.path, "templates", "leader-only.html.mustache"), "w") as f:
                f.write("<p>LEADER-TEMPLATE {{first_name}}</p><p><a href=\"{{unsubscribe_url}}\">Unsubscribe</a></p>\n")
            with open(os.path.join(a.path, "templates", "leader-only.txt.mustache"), "w") as f:
                f.write("LEADER-TEMPLATE {{first_name}}\nUnsubscribe: {{unsubscribe_url}}\n")
            b.drop_campaign("promo.yaml", STALE)
            b.drop_campaign("b-only.yaml", B_ONLY)

            a.start()
            harness.wait_for(lambda: any(x["self"] and x["leader"] for x in a.status()["nodes"]), timeout=10,
                             what="the first node to lead")
            b.start()
            harness.wait_for(lambda: len(a.status()["nodes"]) == 2, timeout=10, what="two nodes on /status")
            self.assertFalse(any(x["self"] and x["leader"] for x in b.status()["nodes"]))

            a.drop_campaign("promo.yaml", FRESH)
            a.wait_campaign_done("promo", timeout=120)
            # Each node's /status reports the campaign the leader loaded, with the leader's template.
            for node in (a, b):
                promo = node.campaign_status("promo")
                self.assertIsNotNone(promo, node.status()["campaigns"])
            names = [r[0] for r in psql(f"SELECT name FROM {schema}.campaigns ORDER BY name")]
            self.assertNotIn("b-only", names, "a follower recorded a campaign of its own folder")
            self.assertEqual(psql(f"SELECT state FROM {schema}.campaigns WHERE name = 'promo'"), [["done"]])

            messages = smtp.messages()
            got = collections.Counter(m["rcpt_tos"][0] for m in messages)
            self.assertEqual(set(got), {r[0] for r in rows})
            self.assertEqual(max(got.values()), 1, "nobody got the message twice")
            for m in messages:
                msg = parsed(smtp, m)
                self.assertTrue(str(msg["subject"]).startswith("FRESH for "), msg["subject"])
                self.assertIn("LEADER-TEMPLATE", msg.get_body(("plain",)).get_content())
            split = {owner: int(n) for owner, n in psql(
                f"SELECT lease_owner, COUNT(*) FROM {schema}.sends WHERE state = 'sent' GROUP BY 1 ORDER BY 1")}
            print(f"\n{RECIPIENTS} recipients over 2 nodes: {split}", file=sys.stderr)
            self.assertEqual(len(split), 2, f"both nodes sent: {split}")

            # The leader dies: the follower leads and goes on with the dead leader's files, not
            # its own stale folder (nothing is paused, its own campaign does not start) ...
            a.stop(signal.SIGKILL)
            harness.wait_for(lambda: any(x["self"] and x["leader"] for x in b.status()["nodes"]), timeout=30,
                             what="the second node to take the lead")
            time.sleep(2)
            self.assertEqual(psql(f"SELECT name, state FROM {schema}.campaigns ORDER BY name"), [["promo", "done"]])
            self.assertEqual(len(smtp.messages()), len(messages))
            # ... until its own folder changes: then its files count. The stale promo sends
            # nothing again; its own campaign starts.
            b.drop_campaign("b-only.yaml", B_ONLY)
            b.wait_campaign_done("b-only", timeout=60)
            later = smtp.messages()[len(messages):]
            self.assertEqual(sorted(m["rcpt_tos"][0] for m in later), [f"r{i}@example.com" for i in range(VIPS)])
            for m in later:
                self.assertTrue(str(parsed(smtp, m)["subject"]).startswith("B-ONLY "))
            self.assertEqual(b.stop(signal.SIGTERM), 0)
            print(f"followers: {time.monotonic() - started:.1f} s", file=sys.stderr)
        finally:
            harness.tear_down_nodes((a, b), smtp, PG_URL, schema)


if __name__ == "__main__":
    unittest.main(verbosity=2)
