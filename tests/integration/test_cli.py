#!/usr/bin/python3
"""The command line as SPEC.md describes it: validate with file:line:col errors, import with
bad rows reported by line and good rows kept, preview, run --once into the maildir outbox,
report, status, suppress."""

import email
import email.policy
import json
import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

GOOD = """name: hello
from: "Acme <news@acme.example>"
subject: "Hello {{first_name}}"
template: spring-sale
segment: all
"""


class Cli(unittest.TestCase):
    def setUp(self):
        self.work = harness.Workdir()

    def tearDown(self):
        self.work.cleanup()

    def write(self, name, text):
        path = os.path.join(self.work.path, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_validate_reports_places(self):
        good = self.write("good.yaml", GOOD)
        r = self.work.cli("validate", good, check=0)
        self.assertIn("ok", r.stdout)

        bad_yaml = self.write("bad_yaml.yaml", "name: x\nfrom: [unclosed\n")
        r = self.work.cli("validate", bad_yaml, check=1)
        self.assertRegex(r.stderr, r"bad_yaml\.yaml:\d+:\d+: ")

        bad_segment = self.write("bad_segment.yaml", GOOD.replace("segment: all", "segment: 'country = \"CA\" and (orders > 2'"))
        r = self.work.cli("validate", bad_segment, check=1)
        m = re.search(r"bad_segment\.yaml:(\d+):(\d+): (.*)", r.stderr)
        self.assertIsNotNone(m, r.stderr)
        self.assertEqual(int(m.group(1)), 5)
        self.assertGreater(int(m.group(2)), 10)

        missing_template = self.write("missing.yaml", GOOD.replace("template: spring-sale", "template: nope"))
        r = self.work.cli("validate", missing_template, check=1)
        self.assertRegex(r.stderr, r"missing\.yaml:4:\d+: .*nope")

        unknown_key = self.write("unknown.yaml", GOOD + "sechedule: now\n")
        r = self.work.cli("validate", unknown_key, check=1)
        self.assertRegex(r.stderr, r"unknown\.yaml:6:1: .*sechedule")

        bad_from = self.write("bad_from.yaml", GOOD.replace('"Acme <news@acme.example>"', "nobody"))
        r = self.work.cli("validate", bad_from, check=1)
        self.assertRegex(r.stderr, r"bad_from\.yaml:2:7: ")

        # Several files: each judged; exit 1 if any is bad.
        r = self.work.cli("validate", good, bad_from, check=1)
        self.assertIn("good.yaml: ok", r.stdout)

    def test_import_keeps_good_rows_and_names_bad_lines(self):
        path = self.write("contacts.csv",
                          "\ufeffemail,first_name,last_name,country,orders,tags\r\n"
                          "ann@example.com,Ann,A,CA,3,\"vip,early\"\r\n"
                          "not-an-email,Bob,B,US,1,\r\n"
                          "\"carol@example.com\",\"Carol, Jr\",\"multi\r\nline\",DE,0,\r\n"
                          "dave@example.com,Dave,D,CA\r\n"
                          "erin@example.com,Erin,E,FR,2,\r\n")
        # Bad rows make it exit 1 (a user error), but the good rows are kept.
        r = self.work.cli("import", "contacts", path, check=1)
        out = r.stdout + r.stderr
        self.assertRegex(out, r"contacts\.csv:3: .*not-an-email")
        self.assertRegex(out, r"contacts\.csv:6: ")  # dave: wrong field count, after a 2-line record
        self.assertRegex(out, r"imported 3 ")

        self.work.cli("run", "--once", check=0)  # creates nothing without campaigns
        self.write(os.path.join("campaigns", "hello.yaml"), GOOD.replace("segment: all", "segment: orders >= 2"))
        r = self.work.cli("run", "--once", check=0)
        self.assertIn("sent: 2", r.stdout)
        outbox = os.path.join(self.work.path, "var", "outbox", "new")
        files = sorted(os.listdir(outbox))
        self.assertEqual(len(files), 2)
        rcpts = set()
        for name in files:
            with open(os.path.join(outbox, name), "rb") as f:
                msg = email.message_from_bytes(f.read(), policy=email.policy.default)
            rcpts.add(msg["To"].addresses[0].addr_spec)
        self.assertEqual(rcpts, {"ann@example.com", "erin@example.com"})

        # A second run sends nothing again.
        r = self.work.cli("run", "--once", check=0)
        self.assertIn("sent: 0", r.stdout)
        self.assertEqual(len(os.listdir(outbox)), 2)

        r = self.work.cli("report", "hello", "--format", "json", check=0)
        report = json.loads(r.stdout)
        for key in ["name", "recipients", "sent", "delivered", "bounced", "opened", "clicked", "replied",
                    "unsubscribed", "complained", "conversions", "revenue", "open_rate", "click_rate",
                    "reply_rate", "bounce_rate", "unsubscribe_rate", "complaint_rate"]:
            self.assertIn(key, report)
        self.assertEqual(report["sent"], 2)
        self.assertEqual(report["recipients"], 2)
        r = self.work.cli("report", "nope", check=1)

        r = self.work.cli("status", "--offline", check=0)
        self.assertIn("hello", r.stdout)
        self.assertIn("done", r.stdout)

    def test_import_without_email_column_fails(self):
        path = self.write("bad.csv", "name,country\nAnn,CA\n")
        r = self.work.cli("import", "contacts", path, check=1)
        self.assertIn("email", r.stdout + r.stderr)

    def test_preview_prints_the_message(self):
        path = self.write("contacts.csv", "email,first_name,city,vip\nzoe@example.com,Zoë,Montréal,1\n")
        self.work.cli("import", "contacts", path, check=0)
        self.write(os.path.join("campaigns", "hello.yaml"), GOOD)
        r = self.work.cli("preview", "hello", "--contact", "zoe@example.com", check=0)
        msg = email.message_from_string(r.stdout, policy=email.policy.default)
        self.assertEqual(str(msg["Subject"]), "Hello Zoë")
        self.assertEqual(msg["To"].addresses[0].addr_spec, "zoe@example.com")
        self.assertIn("Montréal", msg.get_body(("plain",)).get_content())
        r = self.work.cli("preview", "hello", "--contact", "nobody@example.com", check=1)
        r = self.work.cli("preview", "nothere", "--contact", "zoe@example.com", check=1)

    def test_report_shows_the_ab_decision(self):
        rows = "".join(f"u{i}@example.com,U{i}\n" for i in range(40))
        self.work.cli("import", "contacts", self.write("contacts.csv", "email,first_name\n" + rows), check=0)
        self.write(os.path.join("campaigns", "ab.yaml"),
                   'name: ab\nfrom: "Acme <news@acme.example>"\nsubject: "Hi {{first_name}}"\n'
                   "template: spring-sale\nsegment: all\n"
                   'variants:\n  - { name: a, subject: "A {{first_name}}" }\n  - { name: b, subject: "B" }\n'
                   "ab_test: { fraction: 0.5, wait: 1h, metric: clicks }\n")
        r = self.work.cli("run", "--once", check=0)
        self.assertIn("sent: 20", r.stdout)  # the test group only
        testing = json.loads(self.work.cli("report", "ab", "--format", "json", check=0).stdout)["ab_test"]
        self.assertEqual((testing["state"], testing["test_size"], testing["metric"]), ("testing", 20, "clicks"))
        self.assertIn("testing: the decision is due at", self.work.cli("report", "ab", check=0).stdout)
        # An hour later (the wait, moved to now): the decision, and the other 20 get the winner.
        self.work.query("UPDATE ab_decisions SET decide_at = 0")
        r = self.work.cli("run", "--once", check=0)
        self.assertIn("sent: 20", r.stdout)
        ab = json.loads(self.work.cli("report", "ab", "--format", "json", check=0).stdout)["ab_test"]
        self.assertEqual(ab["state"], "decided")
        self.assertEqual(ab["remainder"], 20)
        self.assertEqual(sorted(v["variant"] for v in ab["variants"]), ["a", "b"])
        self.assertEqual(sum(v["sent"] for v in ab["variants"]), 20)
        self.assertEqual(ab["test"], "fisher exact")  # nobody clicked: expected counts below 5
        self.assertFalse(ab["significant"])
        self.assertEqual(ab["winner"], "a")  # a tie goes to the variant listed first
        table = self.work.cli("report", "ab", check=0).stdout
        self.assertIn("winner: a, sent to the other 20 recipients", table)
        self.assertIn("fisher exact: statistic", table)
        csv = self.work.cli("report", "ab", "--format", "csv", check=0).stdout
        self.assertIn("decided,clicks,fisher exact", csv)

    def test_suppressed_contacts_get_nothing(self):
        path = self.write("contacts.csv", "email,first_name\na@example.com,A\nb@example.com,B\nc@example.com,C\n")
        self.work.cli("import", "contacts", path, check=0)
        self.work.cli("suppress", "add", "B@Example.com", "--reason", "asked by phone", check=0)
        r = self.work.cli("suppress", "list", check=0)
        self.assertIn("b@example.com", r.stdout)
        self.write(os.path.join("campaigns", "hello.yaml"), GOOD)
        r = self.work.cli("run", "--once", check=0)
        self.assertIn("sent: 2", r.stdout)
        outbox = os.path.join(self.work.path, "var", "outbox", "new")
        blob = b"".join(open(os.path.join(outbox, f), "rb").read() for f in os.listdir(outbox))
        self.assertNotIn(b"b@example.com", blob)

    def dump_store(self):
        """Every row of every table of the store, as text (SQLite file or PostgreSQL schema)."""
        if self.work.store_url:
            tables = self.work.query("SELECT table_name FROM information_schema.tables "
                                     "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'")
        else:
            tables = self.work.query("SELECT name FROM sqlite_master WHERE type = 'table'")
        self.assertTrue(tables)
        lines = []
        for (table,) in tables:
            lines += ["\t".join(row) for row in self.work.query(f'SELECT * FROM "{table}"')]
        return "\n".join(lines)

    def test_forget_and_export(self):
        path = self.write("contacts.csv", "email,first_name,city\nann@example.com,Ann,Oslo\nbob@example.com,Bob,Rome\n")
        self.work.cli("import", "contacts", path, check=0)
        self.write(os.path.join("campaigns", "hello.yaml"), GOOD)
        self.work.cli("run", "--once", check=0)
        exported = json.loads(self.work.cli("export", "ANN@example.com", check=0).stdout)
        self.assertEqual(exported["contact"]["first_name"], "Ann")
        self.assertEqual(exported["contact"]["attributes"]["city"], "Oslo")
        self.assertEqual([s["state"] for s in exported["sends"]], ["sent"])
        self.assertIn("sent", [e["kind"] for e in exported["events"]])
        self.assertFalse(exported["suppressed"])

        self.work.cli("forget", "ann@example.com", check=0)
        exported = json.loads(self.work.cli("export", "ann@example.com", check=0).stdout)
        self.assertIsNone(exported["contact"])
        self.assertTrue(exported["suppressed"])
        dump = self.dump_store()
        self.assertIn("bob@example.com", dump, "the dump reads the store")
        self.assertNotIn("ann@example.com", dump, "no readable trace of the address is left")
        self.assertNotIn("Oslo", dump)
        self.assertIn("(forgotten", self.work.cli("suppress", "list", check=0).stdout)

        # A re-import cannot mail her again.
        self.work.cli("import", "contacts", path, check=0)
        self.write(os.path.join("campaigns", "again.yaml"), GOOD.replace("name: hello", "name: again"))
        r = self.work.cli("run", "--once", check=0)
        self.assertIn("sent: 1", r.stdout)
        self.assertEqual(self.work.query("SELECT status FROM contacts WHERE email = 'ann@example.com'")[0][0],
                         "unsubscribed")
        self.work.cli("export", "not-an-address", check=1)

    def test_usage_errors_exit_1(self):
        self.work.cli("frobnicate", check=1)
        self.work.cli("run", "--bogus", check=1)
        self.work.cli("report", check=1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
