"""Async requests queued past their deadline: is every row finished once, and in time?

    DATABASE_URL=postgres://... REDIS_URL=redis://.../N .venv/bin/python bench/async_deadlines.py

The service runs under gunicorn with one job worker (`manage.py worker`: RQ's forking worker,
one job at a time) against the local upstream (tests/upstream.py), which takes `--latency`
seconds per answer. SPRITE_LITELLM_TOTAL_TIMEOUT is `--deadline` (15 s), so of `--requests`
(40) async requests sent at once, the first few are served, one is running at its deadline, and
the rest are still queued at theirs. Clients poll every row (GET /v1/generations/<id>, which also
runs the reaper's check on read) every 0.25 s and record each status they see.

Reported, from the rows: outcomes; how late each row was finished after its stored deadline;
rows seen in more than one final state, or going back from one; upstream calls started after
their row's deadline. The Redis database given is emptied (FLUSHDB) first: give it one of its own.
"""
import argparse
import collections
import concurrent.futures
import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.service import free_port, prepare, service_env, start_gunicorn  # noqa: E402
from tests.upstream import FakeOpenAI  # noqa: E402

FINAL = {"succeeded", "failed"}


def call(port: int, token: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def rows_of(env: dict, ids: list[str]) -> list[tuple]:
    import psycopg

    with psycopg.connect(env["DATABASE_URL"]) as db:
        return db.execute(
            "select r.id::text, r.status, r.error_code, extract(epoch from r.finished_at - r.deadline), "
            "(select count(*) from generation_generationattempt a where a.request_id = r.id "
            " and a.started_at > r.deadline) "
            "from generation_generationrequest r where r.id::text = any(%s)", (ids,)).fetchall()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--deadline", type=float, default=15.0)
    parser.add_argument("--latency", type=float, default=2.0)
    parser.add_argument("--grace", type=float, default=30.0, help="SPRITE_INTERRUPT_GRACE")
    args = parser.parse_args()

    with FakeOpenAI(latency=args.latency) as upstream:
        env = service_env(upstream.base_url, GUNICORN_WORKERS="1", SPRITE_LITELLM_TOTAL_TIMEOUT=f"{args.deadline:g}",
                          SPRITE_LITELLM_MAX_RETRIES="3", SPRITE_INTERRUPT_GRACE=f"{args.grace:g}")
        if not env.get("REDIS_URL"):
            raise SystemExit("set REDIS_URL: async requests need the job queue")
        import redis

        redis.Redis.from_url(env["REDIS_URL"]).flushdb()
        token = prepare(env)
        port = free_port()
        server = start_gunicorn(env, port)
        worker = subprocess.Popen([sys.executable, "manage.py", "worker"], cwd=ROOT, env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(8)  # the worker loads LiteLLM before taking jobs
            with concurrent.futures.ThreadPoolExecutor(args.requests) as pool:
                answers = list(pool.map(lambda i: call(port, token, "/v1/generate", {
                    "prompt": f"slime {i}", "size": 16, "async": True}), range(args.requests)))
            ids = [body["id"] for status, body in answers if status == 202]
            seen: dict[str, list[str]] = collections.defaultdict(list)
            started = time.monotonic()
            while time.monotonic() - started < args.deadline + args.grace + 60:
                with concurrent.futures.ThreadPoolExecutor(8) as pool:
                    for pk, (status, body) in zip(ids, pool.map(lambda pk: call(port, token, f"/v1/generations/{pk}"),
                                                                ids)):
                        if status == 200 and (not seen[pk] or seen[pk][-1] != body["status"]):
                            seen[pk].append(body["status"])
                if all(seen[pk] and seen[pk][-1] in FINAL for pk in ids):
                    break
                time.sleep(0.25)
        finally:
            worker.terminate()
            server.terminate()
            worker.wait(timeout=30)
            server.wait(timeout=30)

    rows = rows_of(env, ids)
    outcomes = collections.Counter(f"{status} {code}".strip() for _, status, code, _, _ in rows)
    late = [lateness for *_, lateness, _ in rows if lateness is not None]
    twice = [pk for pk in ids if sum(s in FINAL for s in seen[pk]) > 1 or
             any(seen[pk][i] == "queued" and "running" in seen[pk][:i] for i in range(len(seen[pk])))]
    print(f"{len(answers)} sent, {len(ids)} accepted (202); upstream latency {args.latency:g} s, "
          f"deadline {args.deadline:g} s, grace {args.grace:g} s")
    print("| outcome | rows |\n| --- | --- |")
    for outcome, count in sorted(outcomes.items()):
        print(f"| {outcome} | {count} |")
    print(f"rows unfinished: {sum(1 for r in rows if r[3] is None)}")
    print(f"finished after the deadline, s: max {max(late):.2f}, rows later than +2 s: {sum(x > 2 for x in late)}")
    print(f"rows seen in two final states or going back: {len(twice)} {twice[:3]}")
    print(f"upstream calls: {len(upstream.calls)}; started after their row's deadline: {sum(r[4] for r in rows)}")
    print("status sequences seen:", dict(collections.Counter(" > ".join(s) for s in seen.values())))


if __name__ == "__main__":
    main()
