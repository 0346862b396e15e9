#!/usr/bin/python3
"""Sending like a good citizen, against real SMTP servers on loopback:
- two relays, the first refusing connections: every message goes through the second, once,
  and /status and /metrics show the first one down with the reason;
- a server answering `421 4.7.0 Try again later` at RCPT TO for one domain: that domain is
  paused and slowed (its recipients deferred with the reason on /status), the other domain keeps
  full speed, and everyone gets the message exactly once.
(The warm-up cap that spills a campaign into the next day runs with a driven clock in the unit
tests: tests/unit/delivery/test_delivery_engine.cpp.)"""

import collections
import os
import re
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

CAMPAIGN = ('name: {name}\nfrom: "Acme <news@acme.example>"\nsubject: "Hi {{{{first_name}}}}"\n'
            "template: spring-sale\nsegment: all\n")


def use_relays(work, relays_yaml, extra=""):
    """Replaces the short transport form of the harness config with a relays list."""
    with open(work.config) as f:
        text = f.read()
    text = re.sub(r"transport:\n  url: .*\n  concurrency: .*\n  rate: .*\n",
                  "transport:\n  relays:\n" + relays_yaml + extra, text)
    with open(work.config, "w") as f:
        f.write(text)


class Relays(unittest.TestCase):
    def test_failover_to_the_next_relay(self):
        smtp = harness.SmtpServer(tempfile.mkdtemp(prefix="smtp-"))
        work = harness.Workdir()
        dead = harness.free_port()  # nothing listens there
        use_relays(work, f'    - {{ name: primary, url: "smtp://127.0.0.1:{dead}", concurrency: 2, timeout: 2s }}\n'
                         f'    - {{ name: backup, url: "smtp://127.0.0.1:{smtp.port}", concurrency: 2 }}\n')
        try:
            rows = [[f"user{i}@example.com", f"U{i}"] for i in range(20)]
            work.cli("import", "contacts", work.write_csv("c.csv", ["email", "first_name"], rows), check=0)
            work.start()
            work.drop_campaign("f.yaml", CAMPAIGN.format(name="f"))
            c = work.wait_campaign_done("f", timeout=60)
            self.assertEqual((c["sent"], c["failed"]), (20, 0), c)
            got = collections.Counter(m["rcpt_tos"][0] for m in smtp.messages())
            self.assertEqual(set(got), {r[0] for r in rows})
            self.assertEqual(max(got.values()), 1, "nobody got the message twice")
            for m in smtp.messages()[:3]:
                work.assert_dkim(smtp.raw(m))
            status = work.status()
            relays = {r["name"]: r for r in status["relays"]}
            self.assertEqual(relays["primary"]["state"], "down", relays)
            self.assertIn("connect", relays["primary"]["down_reason"].lower())
            self.assertEqual(relays["primary"]["sent"], 0)
            self.assertEqual(relays["backup"]["sent"], 20)
            code, metrics = work.http("GET", "/metrics")
            metrics = metrics.decode()
            self.assertEqual(code, 200)
            self.assertIn('campaignd_relay_up{relay="primary"} 0', metrics)
            self.assertIn('campaignd_relay_sent_total{relay="backup"} 20', metrics)
            self.assertEqual(int(work.query("SELECT MAX(attempts) FROM sends")[0][0]), 1,
                             "a relay being down costs no attempt")
            self.assertEqual(work.stop(), 0)
        finally:
            work.cleanup()
            smtp.stop()

    def test_a_throttling_domain_slows_alone(self):
        # The first two RCPTs to slow.example get 421 4.7.0; then the server takes everything.
        smtp = harness.SmtpServer(tempfile.mkdtemp(prefix="smtp-"),
                                  faults=["*@slow.example=421:4.7.0*2/rcpt"])
        work = harness.Workdir(transport_url=f"smtp://127.0.0.1:{smtp.port}",
                               extra_config="throttling: { pause: 10s, max_pause: 30s, recovery: 1s }\n")
        try:
            fast = [[f"f{i}@fast.example", f"F{i}"] for i in range(40)]
            slow = [[f"s{i}@slow.example", f"S{i}"] for i in range(6)]
            work.cli("import", "contacts", work.write_csv("c.csv", ["email", "first_name"], slow + fast), check=0)
            work.start()
            work.drop_campaign("t.yaml", CAMPAIGN.format(name="t"))

            # While slow.example is paused its recipients wait, with the reason on /status.
            def deferred_shown():
                st = work.status()
                return any("slow.example" in d["reason"] and "421" in d["reason"] for d in st.get("deferred", []))
            harness.wait_for(deferred_shown, timeout=20, what="the deferral on /status")
            c = work.wait_campaign_done("t", timeout=90)
            self.assertEqual((c["sent"], c["failed"]), (46, 0), c)
            msgs = smtp.messages()
            got = collections.Counter(m["rcpt_tos"][0] for m in msgs)
            self.assertEqual(set(got), {r[0] for r in fast + slow})
            self.assertEqual(max(got.values()), 1, "nobody got the message twice")
            # The other domain kept full speed: all of it was through well before slow.example's
            # 10 s pause ended, while the slow recipients that were told 421 waited it out. (Slow
            # recipients sent in the same instant as the two 421s may get through at once: the
            # server refuses only its first two RCPTs, and sessions already under way finish.)
            start = min(m["time"] for m in msgs)
            last_fast = max(m["time"] for m in msgs if m["rcpt_tos"][0].endswith("@fast.example"))
            last_slow = max(m["time"] for m in msgs if m["rcpt_tos"][0].endswith("@slow.example"))
            if last_fast - start >= 5:  # what held it back, for the CI log
                print(work.read_log()[-8000:], file=sys.stderr)
            self.assertLess(last_fast - start, 5, "fast.example waited for slow.example")
            self.assertGreaterEqual(last_slow - start, 9, "slow.example's deferred recipients waited for the pause")
            status = work.status()
            dest = {d["name"]: d for d in status["destinations"]}
            self.assertEqual(dest["slow.example"]["throttles"], 2, dest["slow.example"])
            self.assertIn("4.7.0", dest["slow.example"]["last_reason"])
            self.assertEqual(dest["fast.example"]["throttles"], 0)
            self.assertEqual(dest["fast.example"]["sent"], 40)
            self.assertEqual(int(work.query("SELECT MAX(attempts) FROM sends")[0][0]), 1,
                             "throttling costs no attempt")
            self.assertEqual(work.stop(), 0)
        finally:
            work.cleanup()
            smtp.stop()


if __name__ == "__main__":
    unittest.main(verbosity=2)
