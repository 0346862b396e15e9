#!/usr/bin/python3
"""The admin's status page, GET /, through the real daemon and a real browser.

A small tracked campaign is sent into the test SMTP server, some opens and clicks are made
through the tracking links of the sent messages, and then:
- GET / answers 303 to /login without credentials, 401 with a wrong bearer token, and the HTML
  page with the right one: every campaign, its funnel, one well-formed SVG chart each (parsed by
  xml.etree), and a broken campaign file's hostile name escaped;
- POST /login with the token sets an HttpOnly, SameSite=Strict cookie (not the token) that opens
  the page; a wrong token gets 401 and no cookie;
- Debian's headless Chromium follows a one-time login link (POST /api/login-link), lands on the
  page (its DOM is checked), and takes a screenshot: a PNG of the window's size that is not
  blank and shows both chart colours. The PNG is kept in the work folder; its path is printed.

Chromium cannot send an Authorization header from its command line, hence the login link: the
admin's own tool asks for it with the bearer token, the browser opens it once, gets the session
cookie and is redirected to /. If /usr/bin/chromium is missing, only the browser part is skipped,
with a message saying so.
"""

import email
import email.policy
import http.cookies
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
import zlib

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
WINDOW = (1280, 1600)
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"
OPEN_BLUE, CLICK_ORANGE = (0x25, 0x63, 0xEB), (0xEA, 0x58, 0x0C)  # app/status_chart.cpp
HOSTILE_FILE = "bad<i>&amp'x.yaml"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def fetch(url, method="GET", headers=None, body=None):
    req = urllib.request.Request(url, method=method, data=body, headers={"User-Agent": BROWSER, **(headers or {})})
    try:
        with urllib.request.build_opener(NoRedirect).open(req, timeout=20) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def read_png(path):
    """(width, height, rows of (r, g, b) tuples) of an 8-bit RGB or RGBA, non-interlaced PNG."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise AssertionError(f"{path} is not a PNG")
    pos, idat, ihdr = 8, [], None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if zlib.crc32(kind + chunk) != struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])[0]:
            raise AssertionError(f"bad CRC in the {kind!r} chunk")
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat.append(chunk)
        elif kind == b"IEND":
            break
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = ihdr
    if depth != 8 or colour not in (2, 6) or interlace:
        raise AssertionError(f"unexpected PNG format {ihdr}")
    bpp = 3 if colour == 2 else 4
    raw = zlib.decompress(b"".join(idat))
    stride = width * bpp
    prev = bytearray(stride)
    rows = []
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        if kind == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 0xFF
        elif kind == 2:
            line = bytearray((a + b) & 0xFF for a, b in zip(line, prev))
        elif kind == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 0xFF
        elif kind == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b, c = prev[i], prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 0xFF
        elif kind != 0:
            raise AssertionError(f"bad PNG filter {kind} in row {y}")
        rows.append([tuple(line[x:x + 3]) for x in range(0, stride, bpp)])
        prev = line
    return width, height, rows


def near(pixel, colour, tolerance=40):
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, colour))


class StatusPage(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.smtp = harness.SmtpServer(tempfile.mkdtemp(prefix="smtp-"))
        cls.work = harness.Workdir(transport_url=f"smtp://127.0.0.1:{cls.smtp.port}",
                                   extra_config="tracking: { scanner_window: 1s }\n")
        work = cls.work
        rows = [[f"s{i}@example.com", f"S{i}"] for i in range(6)]
        work.cli("import", "contacts", work.write_csv("c.csv", ["email", "first_name"], rows), check=0)
        work.start()
        cls.base = f"http://127.0.0.1:{work.http_port}"
        for name in ("spring-sale", "autumn.news"):
            work.drop_campaign(f"{name}.yaml", f'name: {name}\nfrom: "Acme <news@acme.example>"\nsubject: "Hi"\n'
                                               "template: spring-sale\nsegment: all\n")
        work.drop_campaign(HOSTILE_FILE, "name: [unclosed\n")
        work.wait_campaign_done("spring-sale")
        work.wait_campaign_done("autumn.news")
        time.sleep(1.2)  # past the scanner window, so the hits below are human
        # Opens and clicks through the links of the sent messages: 4 opens and 2 clicks for
        # spring-sale, 1 open for autumn.news.
        hits = {"spring-sale": (4, 2), "autumn.news": (1, 0)}
        done = {k: [0, 0] for k in hits}
        for m in cls.smtp.messages():
            msg = email.message_from_bytes(cls.smtp.raw(m), policy=email.policy.default)
            campaign = "spring-sale" if "spring-sale" in msg["List-Id"] else "autumn.news"
            html = msg.get_body(("html",)).get_content()
            pixel = re.search(r'<img src="(http://127\.0\.0\.1:\d+/t/o/[^"]+)"', html).group(1)
            click = re.findall(r'href="(http://127\.0\.0\.1:\d+/t/c/[^"]+)"', html)[0]
            want_opens, want_clicks = hits[campaign]
            if done[campaign][0] < want_opens:
                assert fetch(pixel)[0] == 200
                done[campaign][0] += 1
            if done[campaign][1] < want_clicks:
                assert fetch(click)[0] == 302
                done[campaign][1] += 1
        assert done == {"spring-sale": [4, 2], "autumn.news": [1, 0]}, done

    @classmethod
    def tearDownClass(cls):
        cls.work.cleanup()
        cls.smtp.stop()

    def page(self, headers):
        return fetch(self.base + "/", headers=headers)

    def test_1_access(self):
        code, headers, _ = self.page({})
        self.assertEqual(code, 303)
        self.assertEqual(headers["Location"], "/login")
        code, _, _ = self.page({"Authorization": "Bearer wrong"})
        self.assertEqual(code, 401)
        code, _, _ = self.page({"Cookie": "campaignd_admin=v1.99999999999.AAAA.forged"})
        self.assertEqual(code, 303)

    def test_2_html_with_bearer(self):
        code, headers, body = self.page({"Authorization": f"Bearer {harness.ADMIN_TOKEN}"})
        self.assertEqual(code, 200, body[:500])
        self.assertTrue(headers["Content-Type"].startswith("text/html"))
        self.assertIn("default-src 'none'", headers["Content-Security-Policy"])
        html = body.decode()
        self.assertNotIn("<script", html)
        for name in ("spring-sale", "autumn.news"):
            self.assertIn(f"<h2>{name}<span", html)
        # The broken file is listed with its place, its name escaped.
        self.assertRegex(html, r"bad&lt;i&gt;&amp;amp&apos;x\.yaml:\d+:\d+: ")
        self.assertNotIn("bad<i>", html)
        svgs = re.findall(r"<svg.*?</svg>", html, re.S)
        self.assertEqual(len(svgs), 2)
        ns = "{http://www.w3.org/2000/svg}"
        totals = {}
        for svg in svgs:
            root = ET.fromstring(svg)  # well-formed XML, or this raises
            self.assertEqual(root.tag, ns + "svg")
            title = root.find(ns + "title").text
            texts = [t.text for t in root.iter(ns + "text")]
            self.assertIn("hour (UTC)", texts)
            self.assertTrue(any(re.fullmatch(r"\d\d:00", t or "") for t in texts), texts)
            self.assertEqual(len(root.findall(ns + "polyline")), 2)
            opens = next(t for t in texts if t.startswith("opens ("))
            clicks = next(t for t in texts if t.startswith("clicks ("))
            totals[title.split(": ", 1)[1]] = (opens, clicks)
        self.assertEqual(totals, {"spring-sale": ("opens (4)", "clicks (2)"),
                                  "autumn.news": ("opens (1)", "clicks (0)")})
        # The funnel: 6 sent, 4 opened (66.7%), 2 clicked (33.3%).
        self.assertRegex(html, r"<td>opened</td><td class=\"n\">4</td>.*?66\.7%")
        self.assertRegex(html, r"<td>clicked</td><td class=\"n\">2</td>.*?33\.3%")

    def test_3_login_form_and_cookie(self):
        code, _, body = fetch(self.base + "/login")
        self.assertEqual(code, 200)
        self.assertIn(b'name="token"', body)
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        code, headers, _ = fetch(self.base + "/login", "POST", form, b"token=wrong")
        self.assertEqual(code, 401)
        self.assertIsNone(headers["Set-Cookie"])
        code, headers, _ = fetch(self.base + "/login", "POST", form,
                                 urllib.parse.urlencode({"token": harness.ADMIN_TOKEN}).encode())
        self.assertEqual(code, 303)
        self.assertEqual(headers["Location"], "/")
        set_cookie = headers["Set-Cookie"]
        for flag in ("HttpOnly", "SameSite=Strict", "Path=/"):
            self.assertIn(flag, set_cookie)
        self.assertNotIn(harness.ADMIN_TOKEN, set_cookie)
        cookie = http.cookies.SimpleCookie()
        cookie.load(set_cookie)
        value = cookie["campaignd_admin"].value
        code, _, body = self.page({"Cookie": f"campaignd_admin={value}"})
        self.assertEqual(code, 200)
        self.assertIn(b"spring-sale", body)
        # The cookie opens the page, not the bearer-only API.
        code, _ = self.work.http("GET", "/status", token=None, headers={"Cookie": f"campaignd_admin={value}"})
        self.assertEqual(code, 401)
        log = self.work.read_log()
        self.assertNotIn(harness.ADMIN_TOKEN, log)
        self.assertNotIn(value, log)

    def login_link(self):
        code, body = self.work.http("POST", "/api/login-link")
        self.assertEqual(code, 200, body)
        return self.base + json.loads(body)["path"]

    def chromium(self, *args):
        profile = tempfile.mkdtemp(prefix="chromium-", dir=self.work.path)
        cmd = [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
               "--disable-dev-shm-usage", f"--user-data-dir={profile}", *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120)

    def test_4_chromium_screenshot(self):
        if not os.path.exists(CHROMIUM):
            self.skipTest(f"{CHROMIUM} is missing (Debian package chromium, installed by scripts/install-deps.sh): "
                          "the browser part of this test did not run")
        # The browser lands on the page: the DOM after the link's redirect is the status page.
        link = self.login_link()
        dom = self.chromium("--dump-dom", link)
        self.assertEqual(dom.returncode, 0, dom.stderr[-2000:])
        self.assertIn("spring-sale", dom.stdout, dom.stdout[:2000])
        self.assertIn("<svg", dom.stdout)
        self.assertNotIn('name="token"', dom.stdout)
        # The same link again is spent: the login form.
        again = self.chromium("--dump-dom", link)
        self.assertIn('name="token"', again.stdout)

        shot = os.path.join(self.work.path, "status-page.png")
        result = self.chromium(f"--screenshot={shot}", f"--window-size={WINDOW[0]},{WINDOW[1]}",
                               "--hide-scrollbars", self.login_link())
        self.assertEqual(result.returncode, 0, result.stderr[-2000:])
        self.assertTrue(os.path.isfile(shot), result.stderr[-2000:])
        keep = os.environ.get("STATUS_PAGE_SCREENSHOT")
        if keep:
            shutil.copy(shot, keep)
        print(f"\nscreenshot: {keep or shot}", file=sys.stderr)
        width, height, rows = read_png(shot)
        self.assertEqual((width, height), WINDOW)
        pixels = [p for row in rows for p in row]
        not_white = sum(1 for p in pixels if p != (255, 255, 255))
        blue = sum(1 for p in pixels if near(p, OPEN_BLUE))
        orange = sum(1 for p in pixels if near(p, CLICK_ORANGE))
        print(f"screenshot: {not_white} of {len(pixels)} pixels not white, {blue} chart-blue, {orange} chart-orange",
              file=sys.stderr)
        self.assertGreater(not_white, len(pixels) // 20)
        self.assertGreater(blue, 100)
        self.assertGreater(orange, 50)


if __name__ == "__main__":
    unittest.main(verbosity=2)
