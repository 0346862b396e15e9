#!/usr/bin/python3
"""The benchmark behind `bench/run`: each part is measured against its reference in the same
run, on 127.0.0.1 only, and the results become one markdown table, printed and written to
bench/results/latest.md (or --out).

    bench/run            # the full run (1M contacts; about 20 minutes on 2 cores)
    bench/run --quick    # the small smoke run CI uses: checks the harness, not the targets

Parts (see bench/README.md for what each measures and why):
  (a) send pipeline: `campaignd run --once` of a personalised ~10 KB campaign into smtp-sink,
      versus smtp-source -d (connection reuse) sending as many messages of the same size
      over the same number of sessions into the same sink.
  (b) list generation: a segment over attributes, tags and events into the send queue, versus
      the same INSERT ... SELECT in the sqlite3 shell on a copy of the same database.
  (c) events: open-pixel hits and signed webhook posts per second, each durable before its
      response, versus the same server's /healthz under the same wrk settings.
  (d) memory: peak RSS of `campaignd run --once` sending the big campaign.
  (e) import: `campaignd import contacts` versus the sqlite3 shell's `.import`.
  (f) rendering: messages composed per CPU-second on one thread (a figure, no target).
  (g) /status: a daemon on a database holding a million events answers GET /status (issue 7:
      under 50 ms), the events stored first by status_bench through migration 4's triggers.

    bench/bench.py --build DIR --only ce   # some parts only, against another build folder

Every child process is started here and ended here by its own pid; every wait has a timeout.
Expects bench/run to have built build-bench/campaignd and the drivers in build-bench/bench/
(or --build DIR, laid out the same way).
"""
import argparse
import base64
import datetime
import email
import email.policy
import hashlib
import hmac
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
BUILD = ROOT / "build-bench"
CAMPAIGND = BUILD / "campaignd"
SEGMENT_BENCH = BUILD / "bench" / "segment_bench"
RENDER_BENCH = BUILD / "bench" / "render_bench"
STATUS_BENCH = BUILD / "bench" / "status_bench"
PARTS = "abcdefgh"


def use_build(folder):
    """Points the bench at another build folder (bench/run builds build-bench/)."""
    global BUILD, CAMPAIGND, SEGMENT_BENCH, RENDER_BENCH, STATUS_BENCH
    BUILD = folder
    CAMPAIGND = BUILD / "campaignd"
    SEGMENT_BENCH = BUILD / "bench" / "segment_bench"
    RENDER_BENCH = BUILD / "bench" / "render_bench"
    STATUS_BENCH = BUILD / "bench" / "status_bench"
FIXTURES = BENCH / "fixtures"
PYTHON = "/usr/bin/python3"

SIZES = {
    "quick": dict(contacts=20_000, events=10_000, send=2_000, memory=5_000, tracked=1_000,
                  wrk_seconds=5, render_seconds=2, sessions=4, status_events=20_000),
    "full": dict(contacts=1_000_000, events=300_000, send=100_000, memory=1_000_000, tracked=2_000,
                 wrk_seconds=15, render_seconds=10, sessions=4, status_events=1_000_000),
}
SEGMENT = '(country = "CA" and orders >= 2) or purchased_within("90d") or has_tag("vip-list")'
# The same list as someone would write it for the sqlite3 shell: the reference of (b). The last
# purchase time per contact is kept in contact_stats by triggers (migration 4), so a hand-written
# query reads it there too.
SEGMENT_BY_HAND = """
INSERT INTO sends (campaign_id, contact_id, state, next_attempt_at)
SELECT {campaign}, c.id, 'queued', 0 FROM contacts c
WHERE c.status = 'subscribed'
  AND NOT EXISTS (SELECT 1 FROM suppressions s WHERE s.email_hash = {key})
  AND ((json_extract(c.attrs, '$.country') = 'CA' AND json_extract(c.attrs, '$.orders') >= 2)
       OR EXISTS (SELECT 1 FROM contact_stats p WHERE p.contact_id = c.id AND p.last_purchase_at >= {cutoff})
       OR EXISTS (SELECT 1 FROM contact_tags t WHERE t.contact_id = c.id AND t.tag = 'vip-list'))
"""
WRK_THREADS, WRK_CONNECTIONS = 2, 16  # 16 = the daemon's HTTP worker threads (HttpSettings)
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"
TOKEN_KEY = "bench-token-key-0123456789abcdef0123456789abcdef"
ADMIN_TOKEN = "bench-admin-token"
WEBHOOK_KEY = b"bench-standard-webhooks-key-0123"


class BenchError(Exception):
    pass


# ---- processes ---------------------------------------------------------------------------------

def clean_env(**extra):
    """The caller's environment without CAMPAIGND_* overrides, plus the bench's secrets."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAMPAIGND_")}
    env.update(CAMPAIGND_SECRET=TOKEN_KEY, CAMPAIGND_ADMIN_TOKEN=ADMIN_TOKEN,
               CAMPAIGND_WEBHOOK_STANDARD_SECRET="whsec_" + base64.b64encode(WEBHOOK_KEY).decode())
    env.update(extra)
    return env


def run(cmd, timeout, cwd=None, stdout=None, input_text=None):
    """Runs to completion within `timeout` seconds; returns (seconds, stdout text)."""
    cmd = [str(c) for c in cmd]
    start = time.monotonic()
    try:
        p = subprocess.run(cmd, cwd=cwd, env=clean_env(), timeout=timeout, text=True, input=input_text,
                           stdout=stdout if stdout is not None else subprocess.PIPE, stderr=subprocess.PIPE)
    except subprocess.TimeoutExpired:
        raise BenchError(f"timed out after {timeout} s: {' '.join(cmd)}")
    seconds = time.monotonic() - start
    if p.returncode != 0:
        raise BenchError(f"exit {p.returncode}: {' '.join(cmd)}\n{(p.stderr or '')[-2000:]}")
    return seconds, p.stdout if stdout is None else ""


class Background:
    """A child process that is always ended (SIGTERM, then SIGKILL) by its own pid."""
    live = []

    def __init__(self, cmd, log_path, cwd=None):
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen([str(c) for c in cmd], cwd=cwd, env=clean_env(), stdout=self.log,
                                     stderr=subprocess.STDOUT)
        Background.live.append(self)

    def stop(self, grace=30):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.log.close()
        if self in Background.live:
            Background.live.remove(self)
        return self.proc.returncode

    @classmethod
    def stop_all(cls):
        for b in list(cls.live):
            b.stop(grace=5)


def cpu_seconds(pid):
    """User plus system CPU a running process has used so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise BenchError(f"nothing listens on 127.0.0.1:{port} after {seconds} s")


def wait_for_health(port, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise BenchError(f"/healthz on 127.0.0.1:{port} not ok after {seconds} s")


def sql(db, query, timeout=120):
    return run(["sqlite3", db, query], timeout)[1].strip()


# ---- sites: a config, a data dir and a campaigns folder per part --------------------------------

class Site:
    def __init__(self, ws, name, transport, campaigns=(), http_port=None, data_dir=None, concurrency=4, store=None):
        self.dir = ws / name
        self.dir.mkdir()
        (self.dir / "campaigns").mkdir()
        (self.dir / "rules").mkdir()
        shutil.copytree(FIXTURES / "templates", self.dir / "templates")
        for c in campaigns:
            shutil.copy(FIXTURES / "campaigns" / f"{c}.yaml", self.dir / "campaigns")
        self.data_dir = Path(data_dir) if data_dir else self.dir / "var"
        self.http_port = http_port or free_port()
        self.config = self.dir / "campaignd.yaml"
        self.config.write_text(
            f"data_dir: {self.data_dir}\n"
            "campaigns_dir: ./campaigns\n"
            "templates_dir: ./templates\n"
            "rules_dir: ./rules\n"
            f"webhooks_dir: {ROOT / 'webhooks'}\n"
            f"public_url: http://127.0.0.1:{self.http_port}\n"
            f'http: {{ listen: "127.0.0.1:{self.http_port}" }}\n'
            "transport:\n"
            f"  url: {transport}\n"
            f"  concurrency: {concurrency}\n"
            "  rate: 0\n"
            "log_level: info\n" +
            (f'store: {{ url: "{store}", heartbeat: 1s, lease: 5s }}\n' if store else ""))

    @property
    def db(self):
        return self.data_dir / "campaignd.db"

    def cli(self, *args):
        return [CAMPAIGND, *args, "--config", self.config]


def psql(url, query, timeout=120):
    return run(["psql", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", query], timeout)[1].strip()


def head_csv(src, dst, rows):
    with open(src, encoding="utf-8") as f, open(dst, "w", encoding="utf-8") as out:
        for i, line in enumerate(f):
            if i > rows:
                break
            out.write(line)
    return dst


def copy_db(src, dst):
    sql(src, "PRAGMA wal_checkpoint(TRUNCATE)")
    shutil.copy(src, dst)
    return dst


# ---- parts -------------------------------------------------------------------------------------

class Bench:
    def __init__(self, mode, ws, log):
        self.mode = mode
        self.size = SIZES[mode]
        self.ws = ws
        self.log = log
        self.rows = []   # (part, campaignd, reference, ratio, target, met)
        self.notes = []
        self.failures = 0

    def say(self, text):
        print(text, file=self.log, flush=True)

    def note(self, text):
        self.notes.append(text)
        self.say("   " + text)

    def row(self, part, ours, ref, ratio, target, met):
        self.rows.append((part, ours, ref, ratio, target, met))
        self.say(f"   | {part} | {ours} | {ref} | {ratio} | {target} | {met} |")

    def part(self, name, fn):
        self.say(f"== {name}")
        start = time.monotonic()
        try:
            fn()
        except Exception as e:  # one broken part must not hide the others
            self.failures += 1
            msg = str(e).strip().splitlines()
            self.row(name, "error", "", "", "", "no")
            self.note(f"{name}: ERROR {msg[0] if msg else type(e).__name__}")
            traceback.print_exc(file=self.log)
        self.say(f"   ({time.monotonic() - start:.1f} s)")

    # -- data ------------------------------------------------------------------------------------
    def generate(self):
        n, e = self.size["contacts"], self.size["events"]
        self.contacts_csv = self.ws / "contacts.csv"
        self.events_csv = self.ws / "events.csv"
        secs, _ = run([PYTHON, ROOT / "scripts" / "gen_contacts.py", n, "--seed", "7", "--unsubscribed", "0.02",
                       "--events", e, "--events-file", self.events_csv], 900,
                      stdout=open(self.contacts_csv, "w"))
        self.say(f"   generated {n:,} contacts and {e:,} purchase events in {secs:.1f} s")

    # -- (e) import ------------------------------------------------------------------------------
    def import_contacts(self):
        n = self.size["contacts"]
        self.big = Site(self.ws, "import", "maildir://./var/outbox")
        ours, out = run(self.big.cli("import", "contacts", self.contacts_csv), 1800)
        got = int(sql(self.big.db, "SELECT COUNT(*) FROM contacts"))
        if got != n:
            raise BenchError(f"campaignd import kept {got} of {n} contacts:\n{out[-500:]}")
        ref_db = self.ws / "import-ref.db"
        ref, _ = run(["sqlite3", ref_db, ".mode csv", f".import {self.contacts_csv} contacts"], 600)
        ref_rows = int(sql(ref_db, "SELECT COUNT(*) FROM contacts"))
        if ref_rows != n:
            raise BenchError(f"sqlite3 .import kept {ref_rows} of {n} rows")
        ref_db.unlink()
        # How much of the gap is the UNIQUE(email) index every real contact table needs.
        run(["sqlite3", ref_db, "CREATE TABLE contacts (email TEXT NOT NULL UNIQUE, first_name, last_name, "
             "country, city, orders, vip, tags, status)"], 60)
        indexed, _ = run(["sqlite3", ref_db, f".import --csv --skip 1 {self.contacts_csv} contacts"], 600)
        ref_db.unlink()
        self.note(f"(e) sqlite3 `.import` into a table with a UNIQUE email column: {seconds_text(indexed)}.")
        ratio = ours / ref
        self.row(f"(e) import {n:,} contacts (CSV)", f"{seconds_text(ours)} ({n / ours:,.0f} rows/s)",
                 f"{seconds_text(ref)} (sqlite3 `.import`)", f"{ratio:.2f}x", "<= 3x", yes(ratio <= 3))
        secs, _ = run(self.big.cli("import", "events", self.events_csv), 1800)
        self.note(f"(e) `campaignd import events`: {self.size['events']:,} purchase events in {secs:.1f} s "
                  f"({self.size['events'] / secs:,.0f} rows/s), not part of the target.")

    # -- (b) list generation ---------------------------------------------------------------------
    def list_generation(self):
        n = self.size["contacts"]
        engine_db = copy_db(self.big.db, self.ws / "segment-engine.db")
        ref_db = copy_db(self.big.db, self.ws / "segment-ref.db")
        sql_file = self.ws / "segment.sql"
        _, out = run([SEGMENT_BENCH, engine_db, self.big.dir / "rules", SEGMENT, sql_file], 900)
        m = re.search(r"campaign (\d+) recipients (\d+) seconds ([\d.e+-]+)", out)
        if not m:
            raise BenchError(f"segment_bench said: {out}")
        campaign_id, recipients, ours = int(m[1]), int(m[2]), float(m[3])
        captured = sql_file.read_text()
        if "suppression_key(c.email)" not in captured:
            raise BenchError("the captured INSERT no longer calls suppression_key(c.email): update bench.py")
        cutoff = re.search(r"last_purchase_at >= (\d+)", captured)
        if not cutoff:
            raise BenchError("the captured INSERT has no purchase cutoff: update SEGMENT_BY_HAND in bench.py")
        # The shell lacks campaignd's suppression_key() (sha256 of the address): its own sha3()
        # does the same kind of work, and no contact is suppressed in either copy.
        shell_key = "lower(hex(sha3(c.email, 256)))"
        by_hand = SEGMENT_BY_HAND.format(campaign=campaign_id, cutoff=cutoff[1], key=shell_key)
        same = captured.replace("suppression_key(c.email)", shell_key)
        ref = self.shell_insert(ref_db, campaign_id, by_hand, recipients)
        ref_db.unlink()
        ref_db = copy_db(self.big.db, ref_db)
        same_time = self.shell_insert(ref_db, campaign_id, same, recipients)
        for db in (engine_db, ref_db):
            for suffix in ("", "-wal", "-shm"):
                Path(str(db) + suffix).unlink(missing_ok=True)
        ratio = ours / ref
        self.row(f"(b) list generation: {n:,} contacts -> {recipients:,} queued", f"{ours:.2f} s",
                 f"{ref:.2f} s (INSERT ... SELECT by hand, sqlite3 shell)", f"{ratio:.2f}x", "<= 2x",
                 yes(ratio <= 2))
        self.note(f"(b) segment: `{SEGMENT}` over {n:,} contacts (JSON attributes, tags) and "
                  f"{self.size['events']:,} purchase events. campaignd: rule book, compile, enqueue_matching "
                  f"and mark_started through the writer, committed. campaignd's own compiled INSERT run in "
                  f"the shell: {same_time:.2f} s.")

    def shell_insert(self, db, campaign_id, insert, expected):
        """Seconds the sqlite3 shell takes to open `db`, run `insert` and commit; checks the count."""
        script = (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;\n"
            f"INSERT INTO campaigns (id, name, schedule_at, created_at, updated_at) "
            f"VALUES ({campaign_id}, 'bench-segment', 0, 0, 0);\n"
            "BEGIN;\n" + insert.rstrip().rstrip(";") + ";\n" +
            f"SELECT COUNT(*) FROM sends WHERE campaign_id = {campaign_id};\nCOMMIT;\n")
        seconds, out = run(["sqlite3", db], 900, input_text=script)
        got = int(out.split()[-1])
        if got != expected:
            raise BenchError(f"campaignd queued {expected}, the sqlite3 shell {got} with:\n{insert}")
        return seconds

    # -- (f) rendering ---------------------------------------------------------------------------
    def rendering(self):
        _, out = run([RENDER_BENCH, self.big.db, FIXTURES / "campaigns" / "bench-send.yaml", FIXTURES / "templates",
                      self.big.dir / "rules", self.size["render_seconds"], 10_000_000], 300)
        m = re.search(r"messages (\d+) wall_s ([\d.e+-]+) cpu_s ([\d.e+-]+) avg_bytes (\d+)", out)
        if not m:
            raise BenchError(f"render_bench said: {out}")
        count, wall, cpu, size = int(m[1]), float(m[2]), float(m[3]), int(m[4])
        self.row("(f) rendering (compose: Mustache + MIME, one thread)", f"{count / cpu:,.0f} msg/s per core",
                 "", "", "figure", "")
        self.note(f"(f) {count:,} messages of {size:,} bytes in {cpu:.2f} CPU-s ({wall:.2f} s wall).")

    # -- (a) send pipeline -----------------------------------------------------------------------
    def start_sink(self):
        self.sink_port = free_port()
        cmd = ["smtp-sink"]
        if os.geteuid() == 0:
            cmd += ["-u", "nobody"]  # smtp-sink refuses to keep root privileges
        cmd += [f"127.0.0.1:{self.sink_port}", "1000"]
        self.sink = Background(cmd, self.ws / "smtp-sink.log")
        wait_for_port(self.sink_port, 10)

    def sink_alive(self):
        if self.sink.proc.poll() is not None:
            raise BenchError("smtp-sink died; see smtp-sink.log")

    def send_pipeline(self):
        n, sessions = self.size["send"], self.size["sessions"]
        site = Site(self.ws, "send", f"smtp://127.0.0.1:{self.sink_port}", ["bench-send"], concurrency=sessions)
        csv_file = head_csv(self.contacts_csv, self.ws / "send-contacts.csv", n)
        run(site.cli("import", "contacts", csv_file), 600)
        emails = [line.split(",", 1)[0] for line in open(csv_file, encoding="utf-8").readlines()[1:6]]
        sizes = [len(run(site.cli("preview", "bench-send", "--contact", e), 60)[1].encode()) for e in emails]
        size = sum(sizes) // len(sizes)
        usage = self.ws / "send-time.txt"
        sink_before = cpu_seconds(self.sink.proc.pid)
        ours, out = run(["/usr/bin/time", "-f", "%U %S", "-o", usage, *site.cli("run", "--once")], 1800)
        sent = parse_summary(out)
        cpu = sum(float(x) for x in usage.read_text().split()[-2:])
        self.sink_alive()
        sink_ours = cpu_seconds(self.sink.proc.pid) - sink_before
        ref_usage = self.ws / "smtp-source-time.txt"
        ref, _ = run(["/usr/bin/time", "-f", "%U %S", "-o", ref_usage,
                      "smtp-source", "-d", "-s", sessions, "-m", sent, "-l", size, "-f", "news@acme.example",
                      "-t", "someone@example.com", f"127.0.0.1:{self.sink_port}"], 1800)
        self.sink_alive()
        sink_ref = cpu_seconds(self.sink.proc.pid) - sink_before - sink_ours
        ref_cpu = sum(float(x) for x in ref_usage.read_text().split()[-2:])
        ours_rate, ref_rate = sent / ours, sent / ref
        ratio = ours_rate / ref_rate
        self.row(f"(a) send pipeline: {sent:,} msgs of ~{size / 1024:.1f} KB, {sessions} sessions",
                 f"{ours_rate:,.0f} msg/s ({ours:.1f} s)", f"{ref_rate:,.0f} msg/s (smtp-source -d)",
                 f"{ratio:.2f}x", ">= 0.8x", yes(ratio >= 0.8))
        self.note(f"(a) campaignd: `run --once` end to end (start, segment, render, SMTP, bookkeeping, exit) "
                  f"of {n:,} contacts ({n - sent:,} unsubscribed); both into one smtp-sink on loopback. "
                  f"campaignd used {cpu:.1f} CPU-s in {ours:.1f} s ({100 * cpu / ours:.0f}% of one core).")
        def per_msg(seconds):
            return 1e6 * seconds / max(1, sent)
        self.note(f"(a) CPU per message: campaignd {per_msg(cpu):.0f} us, smtp-source {per_msg(ref_cpu):.0f} us; "
                  f"smtp-sink {per_msg(sink_ours):.0f} us taking campaignd's and {per_msg(sink_ref):.0f} us taking "
                  f"smtp-source's. All of it shares {os.cpu_count()} cores: smtp-sink alone was "
                  f"{100 * sink_ref / ref:.0f}% of one core during smtp-source's run.")

    # -- (h) several nodes on one PostgreSQL -----------------------------------------------------
    def nodes(self):
        n, sessions = self.size["send"], self.size["sessions"]
        cluster = ROOT / "scripts" / "pg-test-cluster.sh"
        # Not under the work folder: that is root's 0700 mkdtemp, and the server runs as postgres.
        pg_dir = Path(tempfile.mkdtemp(prefix="campaignd-bench-pg-"))
        url = run(["bash", cluster, "start", pg_dir], 120)[1].strip()
        try:
            csv_file = head_csv(self.contacts_csv, self.ws / "nodes-contacts.csv", n)
            rates = []
            for count in (1, 2, 3):
                schema = f"nodes{count}"
                psql(url, f"CREATE SCHEMA {schema}")
                store = url + ("&" if "?" in url else "?") + f"options=-csearch_path%3D{schema}"
                sites = [Site(self.ws, f"nodes{count}-{i}", f"smtp://127.0.0.1:{self.sink_port}", concurrency=sessions,
                              store=store) for i in range(count)]
                run(sites[0].cli("import", "contacts", csv_file), 900)
                daemons = [Background(s.cli("run"), s.dir / "daemon.log", cwd=s.dir) for s in sites]
                for s in sites:
                    wait_for_health(s.http_port, 60)
                t = time.monotonic()
                for s in sites:  # each node renders from the file; the leader starts it
                    shutil.copy(FIXTURES / "campaigns" / "bench-send.yaml", s.dir / "campaigns")
                deadline = t + 1800
                while True:
                    total, pending = (int(x or 0) for x in psql(
                        store, "SELECT COUNT(*), COUNT(*) FILTER (WHERE state IN ('queued', 'sending')) FROM sends").split("|"))
                    if total > 0 and pending == 0:
                        break
                    if time.monotonic() > deadline:
                        raise BenchError(f"{count} nodes: {pending} of {total} sends still pending")
                    self.sink_alive()
                    time.sleep(0.1)
                secs = time.monotonic() - t
                sent = int(psql(store, "SELECT COUNT(*) FROM sends WHERE state = 'sent'"))
                split = psql(store, "SELECT COUNT(*) FROM sends WHERE state = 'sent' GROUP BY lease_owner ORDER BY 1")
                for d in daemons:
                    d.stop()
                rates.append(sent / secs)
                self.note(f"(h) {count} node(s): {sent:,} sent in {secs:.1f} s ({sent / secs:,.0f} msg/s), "
                          f"per node {', '.join(split.split())}")
            self.row(f"(h) send rate with 1 / 2 / 3 nodes on one PostgreSQL, {n:,} msgs, {sessions} sessions each",
                     " / ".join(f"{r:,.0f}" for r in rates) + " msg/s", "1 node", f"{rates[2] / rates[0]:.2f}x (3 vs 1)",
                     "does not fall", yes(rates[2] >= 0.9 * rates[0]))
            self.note("(h) from dropping the campaign file until no send is queued or in flight; every node on this "
                      "machine shares its 2 cores with PostgreSQL and smtp-sink, so more nodes cannot add speed here.")
        finally:
            run(["bash", cluster, "stop", pg_dir], 120)

    # -- (d) memory ------------------------------------------------------------------------------
    def memory(self):
        n = self.size["memory"]
        if n == self.size["contacts"]:
            site = Site(self.ws, "memory", f"smtp://127.0.0.1:{self.sink_port}", ["bench-send"],
                        data_dir=self.big.data_dir, concurrency=self.size["sessions"])
        else:
            site = Site(self.ws, "memory", f"smtp://127.0.0.1:{self.sink_port}", ["bench-send"],
                        concurrency=self.size["sessions"])
            run(site.cli("import", "contacts", head_csv(self.contacts_csv, self.ws / "memory.csv", n)), 600)
        contacts = int(sql(site.db, "SELECT COUNT(*) FROM contacts"))
        report = self.ws / "memory-time.txt"
        secs, out = run(["/usr/bin/time", "-v", "-o", report, *site.cli("run", "--once")], 2400)
        sent = parse_summary(out)
        cpu = re.search(r"Percent of CPU this job got: (\d+)%", report.read_text())
        m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", report.read_text())
        if not m:
            raise BenchError("no maximum RSS in /usr/bin/time -v output")
        mb = int(m[1]) / 1024
        self.row(f"(d) peak RSS sending {sent:,} recipients", f"{mb:.1f} MB", "", "", "<= 60 MB", yes(mb <= 60))
        self.note(f"(d) {contacts:,} contacts, {sent:,} sent in {secs:.0f} s ({sent / secs:,.0f} msg/s) "
                  f"into smtp-sink, {self.size['sessions']} sessions, {cpu[1] if cpu else '?'}% CPU.")

    # -- (c) events ------------------------------------------------------------------------------
    def events(self):
        n, seconds = self.size["tracked"], self.size["wrk_seconds"]
        site = Site(self.ws, "events", "maildir://" + str(self.ws / "events" / "var" / "outbox"), ["bench-tracked"])
        run(site.cli("import", "contacts", head_csv(self.contacts_csv, self.ws / "events.csv.head", n)), 600)
        run(site.cli("run", "--once"), 600)
        pixels, targets = [], []
        for path in sorted((site.data_dir / "outbox" / "new").iterdir()):
            msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            html = msg.get_body(("html",)).get_content()
            m = re.search(r'/t/o/[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+', html)
            if not m:
                raise BenchError(f"no open pixel in {path}")
            pixels.append(m[0])
            targets.append((msg["To"].addresses[0].addr_spec, msg["Message-ID"]))
        pixel_file = self.ws / "pixels.txt"
        pixel_file.write_text("\n".join(pixels) + "\n")
        webhook_file, posts = self.ws / "webhooks.txt", min(seconds * 25_000, 400_000)
        write_webhooks(webhook_file, targets, posts)

        daemon = Background(site.cli("run"), self.ws / "events-daemon.log", cwd=site.dir)
        try:
            wait_for_health(site.http_port, 60)
            base = f"http://127.0.0.1:{site.http_port}"
            health = wrk(f"{base}/healthz", seconds)
            results = {}
            for name, script, args in (("pixel", "pixel.lua", [pixel_file]),
                                       ("webhook", "webhook.lua", [webhook_file, WRK_THREADS])):
                before = int(sql(site.db, "SELECT COUNT(*) FROM events"))
                r = wrk(base + "/", seconds, BENCH / "wrk" / script, args)
                r["events"] = int(sql(site.db, "SELECT COUNT(*) FROM events")) - before
                r["events_per_s"] = r["events"] / r["seconds"]
                results[name] = r
            if daemon.proc.poll() is not None:
                raise BenchError("the daemon died during the run; see events-daemon.log")
        finally:
            code = daemon.stop()
        if code != 0:
            self.note(f"(c) the daemon exited {code} on SIGTERM")
        self.note(f"(c) wrk -t{WRK_THREADS} -c{WRK_CONNECTIONS} -d{seconds}s for each route; /healthz: "
                  f"{health['rps']:,.0f} req/s.")
        for name, label in (("pixel", "open pixel GET /t/o/{token}"), ("webhook", "signed webhook POST (Standard Webhooks)")):
            r = results[name]
            ratio = r["events_per_s"] / health["rps"]
            met = ratio >= 0.25 and r["events_per_s"] >= 20_000 and r["errors"] == 0
            self.row(f"(c) {label}", f"{r['events_per_s']:,.0f} events/s", f"{health['rps']:,.0f} req/s (/healthz)",
                     f"{ratio:.2f}x", ">= 0.25x and >= 20,000/s", yes(met))
            self.note(f"(c) {name}: {r['requests']:,} requests ({r['rps']:,.0f}/s), {r['events']:,} new durable "
                      f"events, {r['errors']:,} non-2xx/3xx or socket errors.")
        self.note(f"(c) webhook posts are pre-signed ({posts:,} distinct webhook-ids, cycled per thread); "
                  "a post seen again is answered as a duplicate and adds no event, so events/s counts only new ones.")
        self.note("(c) /healthz answers from a reading connection kept per HTTP thread and writes nothing; "
                  "the event routes commit every event before answering.")


    # -- (g) /status over a million events -------------------------------------------------------
    def status_page(self):
        n = self.size["status_events"]
        site = Site(self.ws, "status", "maildir://./var/outbox")
        site.data_dir.mkdir(parents=True)
        _, out = run([STATUS_BENCH, site.db, n], 1800)
        fill = re.search(r"insert_seconds ([\d.e+-]+)", out)
        daemon = Background(site.cli("run"), self.ws / "status-daemon.log", cwd=site.dir)
        try:
            wait_for_health(site.http_port, 60)
            url = f"http://127.0.0.1:{site.http_port}/status"
            times = []
            for _ in range(21):
                request = urllib.request.Request(url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
                start = time.monotonic()
                with urllib.request.urlopen(request, timeout=30) as r:
                    body = r.read()
                    if r.status != 200:
                        raise BenchError(f"GET /status answered {r.status}")
                times.append((time.monotonic() - start) * 1000)
            doc = json.loads(body)
            if "error" in doc:
                raise BenchError(f"GET /status: {doc['error']}")
        finally:
            daemon.stop()
        ms = sorted(times)[len(times) // 2]
        self.row(f"(g) GET /status with {n:,} events stored", f"{ms:.1f} ms (median of 21)", "", "", "< 50 ms",
                 yes(ms < 50))
        self.note(f"(g) `status_bench` stored {n:,} events (50 campaigns, 100,000 contacts) through EventRepository "
                  f"with migration 4's triggers in {float(fill[1]) if fill else 0:.1f} s; then a daemon on that "
                  f"database answered GET /status over HTTP (slowest of 21: {max(times):.1f} ms).")


def parse_summary(out):
    m = re.search(r"sent: (\d+)\s+failed: (\d+)", out)
    if not m:
        raise BenchError(f"no summary from run --once:\n{out}")
    if int(m[2]) > 0:
        raise BenchError(f"run --once failed {m[2]} sends:\n{out}")
    return int(m[1])


def write_webhooks(path, targets, count):
    """Pre-signed Standard Webhooks requests, one per line: id, timestamp, signature, body."""
    now = int(time.time())
    stamp = datetime.datetime.fromtimestamp(now, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    run_tag = os.urandom(4).hex()
    with open(path, "w") as f:
        for i in range(count):
            rcpt, message_id = targets[i % len(targets)]
            body = json.dumps({"type": "email.delivered", "timestamp": stamp,
                               "data": {"recipient": rcpt, "message_id": message_id}}, separators=(",", ":"))
            wid = f"msg_bench_{run_tag}_{i}"
            mac = hmac.new(WEBHOOK_KEY, f"{wid}.{now}.{body}".encode(), hashlib.sha256).digest()
            f.write(f"{wid}\t{now}\tv1,{base64.b64encode(mac).decode()}\t{body}\n")


def wrk(url, seconds, script=None, args=()):
    cmd = ["wrk", f"-t{WRK_THREADS}", f"-c{WRK_CONNECTIONS}", f"-d{seconds}s", "--timeout", "5s",
           "-H", f"User-Agent: {BROWSER}"]
    if script:
        cmd += ["-s", script]
    cmd.append(url)
    if args:
        cmd += ["--", *args]
    _, out = run(cmd, seconds + 120)
    m = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", out)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not m or not rps:
        raise BenchError(f"cannot read wrk's output:\n{out}")
    unit = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[m[3]]
    errors = sum(int(x) for x in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if sock:
        errors += sum(int(x) for x in sock.groups())
    return {"requests": int(m[1]), "seconds": float(m[2]) * unit, "rps": float(rps[1]), "errors": errors}


def seconds_text(s):
    return f"{s:.2f} s" if s < 10 else f"{s:.1f} s"


def yes(ok):
    return "yes" if ok else "no"


# ---- the report --------------------------------------------------------------------------------

def first_line(cmd):
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
        return ((p.stdout or p.stderr).strip().splitlines() or [""])[0]
    except (OSError, subprocess.TimeoutExpired):
        return "?"


def machine():
    cpu = "?"
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kb = next(int(line.split()[1]) for line in open("/proc/meminfo") if line.startswith("MemTotal"))
    commit = first_line(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
    dirty = first_line(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"])
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory": f"{mem_kb / 1024 / 1024:.1f} GiB",
        "kernel": platform.release(),
        "commit": commit + (" (with uncommitted changes)" if dirty else ""),
        "sqlite3": first_line(["sqlite3", "--version"]).split()[0],
        "postfix": first_line(["dpkg-query", "-W", "-f", "${Version}", "postfix"]),
        "wrk": first_line(["wrk", "-v"]).split(" [")[0],
    }


def report(bench, info, started, load_start, load_end, elapsed):
    lines = [
        f"# campaignd benchmark ({bench.mode})",
        "",
        f"- date: {started:%Y-%m-%d %H:%M} UTC, {elapsed / 60:.1f} min; commit {info['commit']}",
        f"- machine: {info['cpu']}, nproc {info['nproc']}, {info['memory']} RAM, Linux {info['kernel']}",
        f"- load average (1 min): {load_start:.2f} at start, {load_end:.2f} at end; other work on this "
        "machine shares the CPU with every figure below",
        f"- tools: sqlite3 {info['sqlite3']}, postfix {info['postfix']} (smtp-sink, smtp-source), {info['wrk']}",
        "",
        "| part | campaignd | reference | ratio | target | met |",
        "|---|---|---|---|---|---|",
    ]
    lines += ["| " + " | ".join(r) + " |" for r in bench.rows]
    if bench.mode == "quick":
        lines += ["", "Quick mode: small sizes that check the harness; the targets apply to the full run."]
    lines += ["", "Notes:", ""] + [f"- {n}" for n in bench.notes]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="the small smoke run CI uses")
    parser.add_argument("--out", default=str(BENCH / "results" / "latest.md"))
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs, databases)")
    parser.add_argument("--build", help="the build folder holding campaignd and bench/ (default build-bench/)")
    parser.add_argument("--only", default=PARTS,
                        help=f"the parts to run, as letters (default {PARTS}); (b), (d) and (f) need (e)")
    args = parser.parse_args()
    if args.build:
        use_build(Path(args.build).resolve())
    only = set(args.only)
    if only - set(PARTS):
        sys.exit(f"bench: --only takes letters from {PARTS}")
    if only & set("bdf"):
        only.add("e")
    tools = [CAMPAIGND] + [t for part, t in (("b", SEGMENT_BENCH), ("f", RENDER_BENCH), ("g", STATUS_BENCH))
                           if part in only]
    for tool in tools:
        if not Path(tool).is_file():
            sys.exit(f"bench: {tool} is missing; run bench/run, which builds it")

    started = datetime.datetime.now(datetime.timezone.utc)
    t0 = time.monotonic()
    load_start = os.getloadavg()[0]
    ws = Path(tempfile.mkdtemp(prefix="campaignd-bench-"))
    bench = Bench("quick" if args.quick else "full", ws, sys.stderr)
    bench.say(f"bench: {bench.mode} run in {ws}")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    try:
        bench.part("generate data", bench.generate)
        if "e" in only:
            bench.part("(e) import", bench.import_contacts)
        if "b" in only:
            bench.part("(b) list generation", bench.list_generation)
        if "f" in only:
            bench.part("(f) rendering", bench.rendering)
        if "c" in only:
            bench.part("(c) events", bench.events)
        if "a" in only or "d" in only or "h" in only:
            bench.part("smtp-sink", bench.start_sink)
        if "a" in only:
            bench.part("(a) send pipeline", bench.send_pipeline)
        if "d" in only:
            bench.part("(d) memory", bench.memory)
        if "g" in only:
            bench.part("(g) /status", bench.status_page)
        if "h" in only:
            bench.part("(h) several nodes", bench.nodes)
    finally:
        Background.stop_all()
    text = report(bench, machine(), started, load_start, os.getloadavg()[0], time.monotonic() - t0)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    print(text)
    if args.keep or bench.failures:
        bench.say(f"bench: work folder kept: {ws}")
    else:
        shutil.rmtree(ws, ignore_errors=True)
    return 1 if bench.failures else 0


if __name__ == "__main__":
    sys.exit(main())
