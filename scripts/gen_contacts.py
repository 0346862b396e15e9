#!/usr/bin/env python3
"""Writes a contacts CSV for `campaignd import contacts`: realistic names, countries, cities,
order counts, VIP flags and tags, at example.com / example.org / example.net addresses.

    scripts/gen_contacts.py 1000000 --seed 7 > /tmp/contacts.csv      # the 1M-row benchmark
    scripts/gen_contacts.py 300 --unsubscribed 0.03 > examples/contacts.csv
    scripts/gen_contacts.py 500 --events 150 --events-file examples/events.csv > examples/contacts.csv
    scripts/gen_contacts.py 1000 --bad 5 > /tmp/with-bad-rows.csv      # 5 deliberately bad rows

Deterministic for a given seed. Uses only the standard library.
"""
import argparse
import csv
import datetime
import random
import sys
import unicodedata

FIRST = ["Alice", "Bob", "Chloé", "David", "Emma", "François", "Grace", "Hiro", "Isabel", "Jonas", "Kenji",
         "Laura", "Mateo", "Nadia", "Olivia", "Pierre", "Quinn", "Rosa", "Sven", "Tanvi", "Uma", "Victor",
         "Wen", "Xavier", "Yara", "Zoë", "Ahmed", "Björn", "Carmen", "Dmitri", "Élodie", "Fatima"]
LAST = ["Smith", "Tremblay", "Nguyen", "García", "Müller", "O'Brien", "Rossi", "Kowalski", "Tanaka", "Dubois",
        "Johansson", "Silva", "Patel", "Kim", "Martin", "Roy", "Gagnon", "Lee", "Brown", "Côté", "Novak"]
PLACES = {
    "CA": ["Montréal", "Toronto", "Vancouver", "Québec", "Calgary"],
    "US": ["New York", "Chicago", "Austin", "Seattle", "Boston"],
    "FR": ["Paris", "Lyon", "Marseille", "Nantes"],
    "DE": ["Berlin", "München", "Hamburg", "Köln"],
    "JP": ["Tokyo", "Osaka", "Kyoto"],
    "GB": ["London", "Manchester", "Edinburgh"],
}
COUNTRY_WEIGHTS = {"CA": 30, "US": 30, "FR": 12, "DE": 12, "JP": 6, "GB": 10}
TAGS = ["newsletter", "beta", "vip-list", "spring-2026", "webinar", "wholesale", "outdoor", "kitchen"]
DOMAINS = ["example.com", "example.org", "example.net"]
BAD_ROWS = [
    ["bob@", "Bob", "Broken", "CA", "Toronto", "1", "no", ""],             # invalid email
    ["", "No", "Email", "US", "Austin", "2", "no", "beta"],                 # missing email
    ["carol@example.com", "Carol", "Short"],                               # too few fields
    ["dave@example.com", "Dave", "Status", "FR", "Paris", "3", "no", "", "maybe"],  # unknown status
]


def ascii_local(name):
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return plain.lower().replace("'", "")


def contact_rows(n, rng, unsubscribed):
    countries = list(COUNTRY_WEIGHTS)
    weights = [COUNTRY_WEIGHTS[c] for c in countries]
    for i in range(n):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        email = f"{ascii_local(first)}.{ascii_local(last)}.{i}@{DOMAINS[i % len(DOMAINS)]}"
        country = rng.choices(countries, weights)[0]
        orders = min(int(rng.expovariate(0.5)), 40)
        vip = "yes" if orders >= 8 and rng.random() < 0.6 else "no"
        tags = ",".join(sorted(rng.sample(TAGS, rng.choice([0, 0, 1, 1, 2, 3]))))
        status = "unsubscribed" if rng.random() < unsubscribed else ""
        yield [email, first, last, country, rng.choice(PLACES[country]), str(orders), vip, tags, status]


def event_rows(contacts, count, rng):
    start = datetime.datetime(2026, 1, 5, tzinfo=datetime.timezone.utc)
    buyers = [c for c in contacts if int(c[5]) > 0]
    for _ in range(count):
        c = rng.choice(buyers)
        at = start + datetime.timedelta(minutes=rng.randrange(0, 300 * 24 * 60))
        amount = round(rng.lognormvariate(3.6, 0.7), 2)
        yield [c[0], "purchase", f"{amount:.2f}", at.strftime("%Y-%m-%dT%H:%M:%SZ")]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("count", type=int, help="number of contacts")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--bad", type=int, default=0, help="also write this many deliberately bad rows")
    parser.add_argument("--unsubscribed", type=float, default=0.0, help="fraction with status unsubscribed")
    parser.add_argument("--events", type=int, default=0, help="purchase events to write to --events-file")
    parser.add_argument("--events-file")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    sys.stdout.reconfigure(encoding="utf-8")

    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(["email", "first_name", "last_name", "country", "city", "orders", "vip", "tags", "status"])
    keep = [] if args.events else None
    bad_every = max(1, args.count // (args.bad + 1)) if args.bad else 0
    bad_written = 0
    for i, row in enumerate(contact_rows(args.count, rng, args.unsubscribed)):
        out.writerow(row)
        if keep is not None:
            keep.append(row)
        if bad_every and bad_written < args.bad and (i + 1) % bad_every == 0:
            bad = list(BAD_ROWS[bad_written % len(BAD_ROWS)])
            if len(bad) == 8:
                bad.append("")
            out.writerow(bad)
            bad_written += 1
    if args.events:
        if not args.events_file:
            parser.error("--events needs --events-file")
        rows = sorted(event_rows(keep, args.events, rng), key=lambda r: r[3])
        with open(args.events_file, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["email", "type", "amount", "at"])
            w.writerows(rows)


if __name__ == "__main__":
    main()
