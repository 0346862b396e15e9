"""Shared pieces of the integration tests: a scratch work folder with a config, the real
campaignd binary, and the real SMTP server of tests/support/smtp_server.py.

Run with Debian's /usr/bin/python3 (it has aiosmtpd). CAMPAIGND_BIN names the binary
(ctest sets it); otherwise build/campaignd is used.
"""

import csv
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

ROOT = os.environ.get("CAMPAIGND_SOURCE_DIR") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.path.abspath(os.environ.get("CAMPAIGND_BIN") or os.path.join(ROOT, "build", "campaignd"))
SMTP_SERVER = os.path.join(ROOT, "tests", "support", "smtp_server.py")
ADMIN_TOKEN = "test-admin-token"
# CAMPAIGND_TEST_STORE=postgresql (with CAMPAIGND_TEST_PG_URL, as scripts/pg-test-cluster.sh sets
# it): each Workdir's daemon uses a fresh PostgreSQL schema instead of an SQLite file.
PG_URL = os.environ.get("CAMPAIGND_TEST_PG_URL", "") if os.environ.get("CAMPAIGND_TEST_STORE") == "postgresql" else ""
_schemas = 0


def psql(url, sql):
    """Rows of `sql` on the PostgreSQL database at `url`, each a list of text fields."""
    out = subprocess.run(["psql", "-X", "-A", "-t", "-F", "\x1f", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql],
                         check=True, capture_output=True, text=True, timeout=60).stdout
    return [line.split("\x1f") for line in out.splitlines() if line]


def missing_and_duplicates(messages, addresses):
    """Of `addresses`, those no message reached, and how many messages were extra copies."""
    import collections
    counts = collections.Counter(m["rcpt_tos"][0] for m in messages)
    missing = [a for a in addresses if counts[a] == 0]
    return missing, sum(c - 1 for c in counts.values() if c > 1)


def with_schema(url, schema):
    return url + ("&" if "?" in url else "?") + f"options=-csearch_path%3D{schema}"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout=30.0, interval=0.05, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class SmtpServer:
    """tests/support/smtp_server.py in a child process."""

    def __init__(self, out_dir, faults=()):
        self.out_dir = out_dir
        os.makedirs(out_dir, exist_ok=True)
        args = ["/usr/bin/python3", SMTP_SERVER, "--port", "0", "--out", out_dir]
        for f in faults:
            args += ["--fault", f]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=sys.stderr, text=True)
        line = self.proc.stdout.readline().strip()
        if not line.startswith("PORT "):
            raise RuntimeError(f"smtp server did not start: {line!r}")
        self.port = int(line.split()[1])

    def messages(self):
        path = os.path.join(self.out_dir, "log.jsonl")
        if not os.path.exists(path):
            return []
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]

    def raw(self, entry):
        with open(os.path.join(self.out_dir, entry["file"]), "rb") as f:
            return f.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()


DKIM_DOMAIN = "acme.example"


def make_dkim_keys(folder):
    """An RSA 2048 and an Ed25519 key for DKIM_DOMAIN, and the DNS TXT records that publish them."""
    os.makedirs(folder, exist_ok=True)
    rsa = os.path.join(folder, "rsa.pem")
    ed = os.path.join(folder, "ed25519.pem")
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", rsa],
                   check=True, capture_output=True)
    subprocess.run(["openssl", "genpkey", "-algorithm", "ED25519", "-out", ed], check=True, capture_output=True)
    import base64
    def public_der(path):
        return subprocess.run(["openssl", "pkey", "-in", path, "-pubout", "-outform", "DER"], check=True,
                              capture_output=True).stdout
    records = {
        f"s2026._domainkey.{DKIM_DOMAIN}.": b"v=DKIM1; k=rsa; p=" + base64.b64encode(public_der(rsa)),
        f"e2026._domainkey.{DKIM_DOMAIN}.": b"v=DKIM1; k=ed25519; p=" + base64.b64encode(public_der(ed)[-32:]),
    }
    return rsa, ed, records


def verify_dkim(raw, records):
    """Every DKIM-Signature of `raw`, checked by Debian's python3-dkim (an independent verifier).
    Returns the list of (algorithm, ok) from top to bottom."""
    import dkim
    def dnsfunc(name, timeout=5):
        if isinstance(name, bytes):
            name = name.decode()
        return records.get(name.lower())
    d = dkim.DKIM(raw)
    count = len([1 for name, _ in d.headers if name.lower() == b"dkim-signature"])
    results = []
    for idx in range(count):
        sig = dict(dkim.util.parse_tag_value(
            [v for n, v in d.headers if n.lower() == b"dkim-signature"][idx].replace(b"\r\n", b"")))
        results.append((sig[b"a"].decode(), dkim.DKIM(raw).verify(idx=idx, dnsfunc=dnsfunc)))
    return results


class Workdir:
    """A scratch folder with campaignd.yaml, campaigns/, and the shipped templates and rules. Mail
    from acme.example is DKIM-signed with a fresh RSA and Ed25519 key (self.dkim_records)."""

    def __init__(self, transport_url=None, extra_config=""):
        global _schemas
        self.path = tempfile.mkdtemp(prefix="campaignd-it-")
        self.store_url = ""
        if PG_URL:
            _schemas += 1
            self.schema = f"it_{os.getpid()}_{_schemas}"
            psql(PG_URL, f"CREATE SCHEMA {self.schema}")
            self.store_url = with_schema(PG_URL, self.schema)
            extra_config = f'store: {{ url: "{self.store_url}", heartbeat: 1s, lease: 4s }}\n' + extra_config
        rsa, ed, self.dkim_records = make_dkim_keys(os.path.join(self.path, "keys"))
        self.campaigns = os.path.join(self.path, "campaigns")
        os.makedirs(self.campaigns)
        shutil.copytree(os.path.join(ROOT, "templates"), os.path.join(self.path, "templates"))
        shutil.copytree(os.path.join(ROOT, "rules"), os.path.join(self.path, "rules"))
        self.http_port = free_port()
        self.transport_url = transport_url or "maildir://./var/outbox"
        with open(os.path.join(self.path, "campaignd.yaml"), "w") as f:
            f.write(f"""data_dir: ./var
campaigns_dir: ./campaigns
templates_dir: ./templates
rules_dir: ./rules
webhooks_dir: ./webhooks
public_url: http://127.0.0.1:{self.http_port}
http: {{ listen: "127.0.0.1:{self.http_port}" }}
transport:
  url: {self.transport_url}
  concurrency: 4
  rate: 0
retry_base: 1s
retry_max: 2s
log_level: info
dkim:
  - {{ domain: {DKIM_DOMAIN}, selector: s2026, key_file: {rsa} }}
  - {{ domain: {DKIM_DOMAIN}, selector: e2026, key_file: {ed} }}
{extra_config}
""")
        self.config = os.path.join(self.path, "campaignd.yaml")
        self.daemon = None
        self.log = open(os.path.join(self.path, "daemon.log"), "wb")

    def assert_dkim(self, raw):
        """Both signatures (RSA first, then Ed25519) verify."""
        results = verify_dkim(raw, self.dkim_records)
        algorithms = [a for a, _ in results]
        if algorithms != ["rsa-sha256", "ed25519-sha256"] or not all(ok for _, ok in results):
            raise AssertionError(f"DKIM: {results}")

    def env(self):
        env = dict(os.environ)
        env["CAMPAIGND_ADMIN_TOKEN"] = ADMIN_TOKEN
        env["CAMPAIGND_SECRET"] = "integration-test-secret"
        return env

    def cli(self, *args, check=None, input=None):
        """Runs `campaignd ARGS --config ...`; returns CompletedProcess (text)."""
        proc = subprocess.run([BIN, *args, "--config", self.config], cwd=self.path, env=self.env(),
                              capture_output=True, text=True, input=input, timeout=300)
        if check is not None and proc.returncode != check:
            raise AssertionError(f"campaignd {' '.join(args)} exited {proc.returncode}, wanted {check}\n"
                                 f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
        return proc

    def write_csv(self, name, header, rows):
        path = os.path.join(self.path, name)
        with open(path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(header)
            w.writerows(rows)
        return path

    def drop_campaign(self, name, text):
        """Writes the file beside the folder and renames it in, as a careful user would."""
        tmp = os.path.join(self.path, "." + name + ".tmp")
        with open(tmp, "w") as f:
            f.write(text)
        os.rename(tmp, os.path.join(self.campaigns, name))

    def start(self):
        self.daemon = subprocess.Popen([BIN, "run", "--config", self.config], cwd=self.path, env=self.env(),
                                       stdout=self.log, stderr=subprocess.STDOUT)
        wait_for(self.healthy, timeout=30, what="/healthz")
        return self.daemon

    def healthy(self):
        if self.daemon is not None and self.daemon.poll() is not None:
            raise AssertionError(f"campaignd exited with {self.daemon.returncode}; log:\n{self.read_log()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/healthz", timeout=2) as r:
                return r.status == 200
        except (urllib.error.URLError, ConnectionError, OSError):
            return False

    def http(self, method, path, body=None, token=ADMIN_TOKEN, headers=None):
        req = urllib.request.Request(f"http://127.0.0.1:{self.http_port}{path}", data=body, method=method)
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def status(self):
        code, body = self.http("GET", "/status")
        assert code == 200, (code, body)
        return json.loads(body)

    def campaign_status(self, name):
        for c in self.status()["campaigns"]:
            if c["name"] == name:
                return c
        return None

    def wait_campaign_done(self, name, timeout=120):
        def done():
            c = self.campaign_status(name)
            return c if c and c["state"] == "done" else None
        try:
            return wait_for(done, timeout=timeout, interval=0.2, what=f"campaign {name} done")
        except AssertionError:
            self.print_diagnosis()
            raise

    def print_diagnosis(self):
        """On a timeout: the end of the daemon's log and its /status, to see why."""
        print("--- daemon log (end) ---\n" + self.read_log()[-6000:], file=sys.stderr)
        try:
            print("--- /status ---\n" + json.dumps(self.status(), indent=1)[-6000:], file=sys.stderr)
        except Exception as e:  # the daemon may be gone
            print(f"--- /status unavailable: {e}", file=sys.stderr)

    def stop(self, sig=signal.SIGTERM, timeout=60):
        if self.daemon is None:
            return None
        if self.daemon.poll() is None:
            self.daemon.send_signal(sig)
        code = self.daemon.wait(timeout=timeout)
        self.daemon = None
        return code

    def read_log(self):
        self.log.flush()
        with open(os.path.join(self.path, "daemon.log"), "rb") as f:
            return f.read().decode(errors="replace")

    def query(self, sql):
        """Rows of `sql` on this daemon's store (SQLite file or PostgreSQL schema), as text. A
        statement without rows (UPDATE, DELETE) is committed."""
        if self.store_url:
            return psql(self.store_url, sql)
        import sqlite3
        db = sqlite3.connect(os.path.join(self.path, "var", "campaignd.db"))
        try:
            rows = [["" if v is None else str(v) for v in row] for row in db.execute(sql).fetchall()]
            db.commit()  # an UPDATE or DELETE takes effect, as it does through psql
            return rows
        finally:
            db.close()

    def cleanup(self):
        if self.daemon is not None and self.daemon.poll() is None:
            self.daemon.kill()
            self.daemon.wait()
        self.log.close()
        if self.store_url:
            try:
                psql(PG_URL, f"DROP SCHEMA {self.schema} CASCADE")
            except subprocess.CalledProcessError:
                pass
        if os.environ.get("KEEP_WORKDIR"):
            print("work folder kept:", self.path)
        else:
            shutil.rmtree(self.path, ignore_errors=True)


def contacts_rows(n, seed=7):
    """n contacts with a deterministic mix of countries, orders, tags and statuses."""
    rows = []
    countries = ["CA", "US", "DE", "FR", "CA"]
    for i in range(n):
        status = "unsubscribed" if i % 17 == 5 else ""
        rows.append([f"user{i}@example.com", f"First{i}", f"Last{i}", countries[i % len(countries)],
                     str(i % 4), "vip" if i % 10 == 0 else "", status])
    return ["email", "first_name", "last_name", "country", "orders", "tags", "status"], rows


def tear_down_nodes(nodes, smtp, pg_url, schema):
    """After a several-node test: kills what still runs, removes the work folders, the SMTP
    server's folder and the nodes' shared schema."""
    for n in nodes:
        if n.daemon is not None and n.daemon.poll() is None:
            n.stop(signal.SIGKILL)
        n.cleanup()
    smtp.stop()
    shutil.rmtree(smtp.out_dir, ignore_errors=True)
    try:
        psql(pg_url, f"DROP SCHEMA {schema} CASCADE")
    except subprocess.CalledProcessError:
        pass
