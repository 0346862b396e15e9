#!/usr/bin/python3
"""Resource faults (issue 8): a database locked by another process, and a full disk under the
database (a small tmpfs). Sending pauses with a clear error on /status, resumes by itself when
the fault clears, and nothing is lost or sent twice: every recipient gets the message exactly
once and `PRAGMA integrity_check` is ok. The tmpfs part needs root (CI runs as root).

On PostgreSQL (CAMPAIGND_TEST_STORE=postgresql) the lock is another session's
`LOCK TABLE sends IN EXCLUSIVE MODE`, which writes wait on past campaignd's lock_timeout (10 s);
the full disk is SQLite's alone (PostgreSQL's files are not under data_dir)."""

import collections
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

CAMPAIGN = ('name: {name}\nfrom: "Acme <news@acme.example>"\nsubject: "Hi {{{{first_name}}}}"\n'
            "template: spring-sale\nsegment: all\nthrottle: {throttle}\n")


def wait_resumed(work):
    try:
        harness.wait_for(lambda: "sending_paused" not in work.status(), timeout=60, what="resume")
    except AssertionError:
        work.print_diagnosis()
        raise


def wait_sent(work, smtp, n):
    try:
        harness.wait_for(lambda: sent_count(smtp) >= n, timeout=90, what=f"{n} messages")
    except AssertionError:
        work.print_diagnosis()
        raise


def sent_count(smtp):
    return len(smtp.messages())


class Locker:
    """Holds the store's write lock from another process until release()."""

    def __init__(self, work):
        if work.store_url:
            self.psql = subprocess.Popen(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", work.store_url],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            self.psql.stdin.write("BEGIN;\nLOCK TABLE sends IN EXCLUSIVE MODE;\n\\echo locked\n")
            self.psql.stdin.flush()
            assert self.psql.stdout.readline().strip() == "locked"
            self.db = None
        else:
            self.db = sqlite3.connect(os.path.join(work.path, "var", "campaignd.db"), timeout=30,
                                      isolation_level=None)
            self.db.execute("BEGIN EXCLUSIVE")

    def release(self):
        if self.db is not None:
            self.db.execute("ROLLBACK")
            self.db.close()
        else:
            self.psql.communicate("ROLLBACK;\n", timeout=30)


class ResourceFaults(unittest.TestCase):
    def check_all_once(self, work, smtp, rows, name):
        c = work.wait_campaign_done(name, timeout=120)
        self.assertEqual((c["sent"], c["failed"]), (len(rows), 0), c)
        got = collections.Counter(m["rcpt_tos"][0] for m in smtp.messages())
        self.assertEqual(set(got), {r[0] for r in rows})
        self.assertEqual(max(got.values()), 1, "nobody got the message twice")
        if not work.store_url:
            self.assertEqual(work.query("PRAGMA integrity_check"), [["ok"]])
        self.assertEqual(work.query("SELECT COUNT(*) FROM sends WHERE state = 'sent'"), [[str(len(rows))]])

    def wait_paused(self, work):
        def paused():
            return "sending_paused" in work.status()
        harness.wait_for(paused, timeout=60, what="sending_paused on /status")
        st = work.status()
        self.assertTrue(any("sending paused" in e["message"] for e in st["errors"]), st["errors"])
        return st["sending_paused"]

    def test_locked_database_pauses_and_resumes(self):
        smtp = harness.SmtpServer(tempfile.mkdtemp(prefix="smtp-"))
        work = harness.Workdir(transport_url=f"smtp://127.0.0.1:{smtp.port}")
        try:
            rows = [[f"user{i}@example.com", f"U{i}"] for i in range(200)]
            work.cli("import", "contacts", work.write_csv("c.csv", ["email", "first_name"], rows), check=0)
            work.start()
            work.drop_campaign("l.yaml", CAMPAIGN.format(name="l", throttle="40/s"))
            wait_sent(work, smtp, 30)
            # Another process takes the write lock and keeps it past the store's lock wait (10 s:
            # SQLite's busy timeout, PostgreSQL's lock_timeout).
            locker = Locker(work)
            locked_at = time.time()
            paused = self.wait_paused(work)
            self.assertIn("lock", paused["reason"])
            # While paused, at most the sessions already under way finish; then nothing is sent.
            time.sleep(1.0)
            before = sent_count(smtp)
            time.sleep(2.0)
            self.assertEqual(sent_count(smtp), before, "sending went on while outcomes could not be recorded")
            self.assertLess(before, 200)
            locker.release()
            print(f"locked for {time.time() - locked_at:.1f} s; {before} of 200 sent before the pause",
                  file=sys.stderr)
            wait_resumed(work)
            self.check_all_once(work, smtp, rows, "l")
            self.assertEqual(work.stop(), 0)
        finally:
            work.cleanup()
            smtp.stop()

    def test_full_disk_pauses_and_resumes(self):
        if harness.PG_URL:
            self.skipTest("PostgreSQL keeps its files under its own data directory, not campaignd's data_dir")
        if os.geteuid() != 0:
            self.skipTest("mounting a tmpfs needs root (CI runs as root)")
        smtp = harness.SmtpServer(tempfile.mkdtemp(prefix="smtp-"))
        work = harness.Workdir(transport_url=f"smtp://127.0.0.1:{smtp.port}")
        var = os.path.join(work.path, "var")
        os.makedirs(var, exist_ok=True)
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", var],
                                 capture_output=True, text=True)
        if mounted.returncode != 0:
            smtp.stop()
            work.cleanup()
            self.skipTest(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
        filler = os.path.join(var, "filler")
        try:
            rows = [[f"user{i}@example.com", f"U{i}"] for i in range(400)]
            work.cli("import", "contacts", work.write_csv("c.csv", ["email", "first_name"], rows), check=0)
            work.start()
            work.drop_campaign("d.yaml", CAMPAIGN.format(name="d", throttle="40/s"))
            wait_sent(work, smtp, 30)
            # Fill the disk under the database to the last byte.
            fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
            try:
                for size in (1 << 20, 65536, 4096, 1):
                    try:
                        while True:
                            os.write(fd, b"\0" * size)
                    except OSError:
                        pass
            finally:
                os.close(fd)
            paused = self.wait_paused(work)
            self.assertTrue("full" in paused["reason"] or "disk" in paused["reason"] or "I/O" in paused["reason"],
                            paused)
            time.sleep(1.0)
            before = sent_count(smtp)
            time.sleep(2.0)
            self.assertEqual(sent_count(smtp), before, "sending went on while outcomes could not be recorded")
            self.assertLess(before, 400)
            os.unlink(filler)
            print(f"disk full: {before} of 400 sent before the pause", file=sys.stderr)
            wait_resumed(work)
            self.check_all_once(work, smtp, rows, "d")
            self.assertEqual(work.stop(), 0)
        finally:
            try:
                if work.daemon and work.daemon.poll() is None:
                    work.stop()
            except Exception:
                pass
            if os.path.exists(filler):
                os.unlink(filler)
            subprocess.run(["umount", "-l", var])
            work.cleanup()
            smtp.stop()


if __name__ == "__main__":
    unittest.main(verbosity=2)
