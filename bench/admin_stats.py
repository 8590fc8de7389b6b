"""How long the admin's request list with its statistics takes over many rows.

Run by hand (not in CI). It builds a throwaway database, fills it with `--rows`
request rows spread over 30 days, then GETs the changelist as a superuser
through Django's test Client, several times per filter, and prints min/median
and the query count as a markdown table:

    .venv/bin/python bench/admin_stats.py                  # SQLite, in a temporary file
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/sprites_bench .venv/bin/python bench/admin_stats.py

On PostgreSQL the database named in DATABASE_URL is created and dropped by the
script, so its name must contain "bench" (a guard against dropping real data).

The database gets every migration, indexes included. To judge another index,
pass it with `--sql "CREATE INDEX ..."` and read the queries it should speed up
with `--slowest 5`. Settings are tests.settings (DEBUG on, like a developer's run).
"""
import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MODELS = [("openai/gpt-image-2", 60), ("offline/pixel-sprite", 20), ("openai/gpt-image-1.5", 15), ("azure/dall-e-3", 5)]
# USD of one priced image (gpt-image with 40 prompt tokens in LiteLLM's map; dall-e-3 per image).
PRICES = {"openai/gpt-image-2": Decimal("0.00836"), "offline/pixel-sprite": Decimal(0),
          "openai/gpt-image-1.5": Decimal("0.00660"), "azure/dall-e-3": Decimal("0.04")}
ERRORS = [("rate_limit_exceeded", 50), ("upstream_timeout", 20), ("upstream_error", 15), ("upstream_unavailable", 10),
          ("content_policy_violation", 5)]
STATUSES = [("succeeded", 80), ("failed", 17), ("running", 2), ("queued", 1)]


def pick(rng: random.Random, weighted: list[tuple[str, int]]) -> str:
    return rng.choices([v for v, _ in weighted], weights=[w for _, w in weighted])[0]


@contextmanager
def throwaway_database():
    """Points DATABASE_URL at a fresh database for the duration, and removes it after."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        with tempfile.TemporaryDirectory() as folder:
            os.environ["DATABASE_URL"] = f"sqlite:///{folder}/bench.sqlite3"
            yield "SQLite"
        return
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if "bench" not in name:
        sys.exit(f"refusing to create and drop {name!r}: use a database name containing 'bench'")
    maintenance = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield "PostgreSQL"
    finally:
        from django.db import connections

        connections.close_all()
        with psycopg.connect(maintenance, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


def fill(rows: int, image_bytes: int, seed: int = 1) -> None:
    from django.contrib.auth.models import User
    from django.utils import timezone

    from generation.models import GenerationAttempt, GenerationRequest

    rng = random.Random(seed)
    users = [User.objects.create_user(f"plugin{i}") for i in range(20)]
    now, span = timezone.now(), timedelta(days=30).total_seconds()
    image = bytes(rng.getrandbits(8) for _ in range(image_bytes)) or None
    created_at = GenerationRequest._meta.get_field("created_at")
    created_at.auto_now_add = False  # the rows need their own times, spread over the month
    try:
        for start in range(0, rows, 5000):
            batch = []
            for _ in range(min(5000, rows - start)):
                status = pick(rng, STATUSES)
                finished = status in ("succeeded", "failed")
                retries = min(int(rng.expovariate(1.2)), 7)
                fallback = finished and rng.random() < 0.08
                batch.append(GenerationRequest(
                    user=rng.choice(users), prompt=f"a {rng.choice(['red', 'blue', 'green'])} sprite {rng.random()}",
                    style="pixel", size=64, status=status, created_at=now - timedelta(seconds=rng.random() * span),
                    model_requested=MODELS[0][0], model_used=pick(rng, MODELS) if finished else "",
                    attempts=retries + 1 + fallback if finished else 0, retries=retries if finished else 0,
                    fallback_used=fallback, wait_ms=int(sum(rng.random() * 1000 * 2**i for i in range(retries))),
                    latency_ms=int(rng.lognormvariate(7.5, 0.6)) if finished else None,
                    error_code=pick(rng, ERRORS) if status == "failed" else "",
                    image_png=image if status == "succeeded" else None,
                ))
            attempts = attempts_of(rng, batch)  # sets each request's cost first
            GenerationRequest.objects.bulk_create(batch)
            GenerationAttempt.objects.bulk_create(attempts)
    finally:
        created_at.auto_now_add = True


def attempts_of(rng: random.Random, requests: list) -> list:
    """One attempt row per upstream call, priced where the schema has costs (unknown for timeouts)."""
    from generation.models import GenerationAttempt

    priced = any(f.name == "cost_usd" for f in GenerationAttempt._meta.get_fields())
    attempts = []
    for row in requests:
        for number in range(1, row.attempts + 1):
            last = number == row.attempts
            model = row.model_used if last or not row.fallback_used else MODELS[0][0]
            outcome = ("succeeded" if row.status == "succeeded" else "rate_limited") if last else \
                rng.choice(["rate_limited", "rate_limited", "server_error", "timeout"])
            cost = {"succeeded": PRICES[model], "timeout": None}.get(outcome, Decimal(0))
            attempts.append(GenerationAttempt(request=row, number=number, started_at=row.created_at, model=model,
                                              outcome=outcome, duration_ms=500, **({"cost_usd": cost} if priced else {})))
        if priced:
            known = [a.cost_usd for a in attempts[-row.attempts:] if a.cost_usd is not None] if row.attempts else []
            row.cost_usd = sum(known, Decimal(0)) if known else None
    return attempts


def measure(client, url: str, runs: int) -> tuple[float, float, list[dict]]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(url)  # warm caches: templates, the database's buffers
    times = []
    for _ in range(runs):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code)
        assert "generation-stats" in response.content.decode()
    return min(times), statistics.median(times), queries.captured_queries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--image-bytes", type=int, default=1500, help="stored PNG size of a succeeded row")
    parser.add_argument("--sql", action="append", default=[], help="SQL to run after filling, e.g. a candidate index")
    parser.add_argument("--slowest", type=int, default=0, help="also print each case's N slowest queries")
    args = parser.parse_args()

    with throwaway_database() as engine:
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
        import django

        django.setup()
        from django.contrib.auth.models import User
        from django.core.management import call_command
        from django.db import connection
        from django.test import Client
        from django.utils import timezone

        call_command("migrate", verbosity=0)
        started = time.perf_counter()
        fill(args.rows, args.image_bytes)
        with connection.cursor() as cursor:
            for sql in args.sql:
                cursor.execute(sql)
            if connection.vendor == "postgresql":
                cursor.execute("VACUUM ANALYZE generation_generationrequest")
                cursor.execute("VACUUM ANALYZE generation_generationattempt")
            else:
                cursor.execute("ANALYZE")
        print(f"{engine}: {args.rows} rows written in {time.perf_counter() - started:.1f} s\n")

        client = Client(HTTP_HOST="127.0.0.1")  # an allowed host of the real settings
        client.force_login(User.objects.create_superuser("bench-admin"))
        today = timezone.localdate()
        base = "/admin/generation/generationrequest/"
        cases = {
            "all rows": base,
            "status = failed": base + "?status__exact=failed",
            "model = offline/pixel-sprite": base + "?model_used=offline/pixel-sprite",
            "one day (date hierarchy)": base + f"?created_at__day={today.day}&created_at__month={today.month}"
                                               f"&created_at__year={today.year}",
            "search a prompt word": base + "?q=blue",
        }
        print(f"| {engine}, {args.rows} rows | min ms | median ms | queries |")
        print("| --- | ---: | ---: | ---: |")
        slowest = []
        for label, url in cases.items():
            fastest, median, queries = measure(client, url, args.runs)
            print(f"| {label} | {fastest:.0f} | {median:.0f} | {len(queries)} |")
            ranked = sorted(queries, key=lambda q: -float(q["time"]))[:args.slowest]
            slowest += [f"{label}: {float(q['time']) * 1000:.0f} ms {q['sql'][:300]}" for q in ranked]
        print("", *slowest, sep="\n")


if __name__ == "__main__":
    main()
