"""/healthz while slow clients hold connections: the real gunicorn (1 worker x 4 threads) on PostgreSQL.

N clients send their headers and a body one byte a second (chunked, with or without a token);
meanwhile /healthz is asked every 0.5 s. Prints how long each /healthz took and how each slow
client was answered.

    DATABASE_URL=postgres://... .venv/bin/python bench/slow_clients.py --clients 16 [--token] [--root CHECKOUT]
"""
import argparse
import http.client
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.service import ROOT, free_port, migrate_and_token, percentile  # noqa: E402


def slow_client(port: int, token: str | None, outcome: list, stop: threading.Event) -> None:
    sock = socket.create_connection(("127.0.0.1", port), timeout=120)
    head = ["POST /v1/generate HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json",
            "Transfer-Encoding: chunked", *([f"Authorization: Bearer {token}"] if token else [])]
    try:
        sock.sendall("\r\n".join(head).encode() + b"\r\n\r\n")
        sock.setblocking(False)
        while not stop.is_set():
            try:
                if sock.recv(1, socket.MSG_PEEK):
                    break  # answered
            except BlockingIOError:
                pass
            sock.sendall(b"1\r\n \r\n")
            stop.wait(1.0)
        sock.setblocking(True)
        response = http.client.HTTPResponse(sock)
        response.begin()
        outcome.append(response.status)
    except OSError as exc:
        outcome.append(type(exc).__name__)
    finally:
        sock.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--token", action="store_true", help="the slow clients send a valid token")
    parser.add_argument("--seconds", type=float, default=15.0, help="how long the slow clients keep sending")
    parser.add_argument("--root", type=Path, default=ROOT)
    args = parser.parse_args()
    env = {**os.environ, "DEBUG": "false", "SECRET_KEY": "bench-only-secret-key-not-for-production-0123456789",
           "ALLOWED_HOSTS": "127.0.0.1", "SECURE_SSL_REDIRECT": "false", "REDIS_URL": ""}
    token = migrate_and_token(env)
    port = free_port()
    proc = subprocess.Popen([str(Path(sys.executable).parent / "gunicorn"), "sprite_backend.wsgi:application",
                             "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}", "--workers", "1",
                             "--threads", "4", "--access-logfile", "/dev/null"], cwd=args.root, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(600):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        time.sleep(1.0)
        stop, outcomes = threading.Event(), []
        threads = [threading.Thread(target=slow_client, args=(port, token if args.token else None, outcomes, stop),
                                    daemon=True) for _ in range(args.clients)]
        for thread in threads:
            thread.start()
        time.sleep(0.5)
        took, end = [], time.monotonic() + args.seconds
        while time.monotonic() < end:
            start = time.perf_counter()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=args.seconds)
            try:
                conn.request("GET", "/healthz")
                status = conn.getresponse().status
            except TimeoutError:
                status = f"no answer in {args.seconds:g} s"
            conn.close()
            took.append(time.perf_counter() - start)
            if status != 200:
                print(f"/healthz: {status}")
                break
            time.sleep(0.5)
        stop.set()
        gone = time.monotonic() + args.seconds
        for thread in threads:
            thread.join(timeout=max(0.0, gone - time.monotonic()))
    finally:
        proc.terminate()
        proc.wait()
    answers = {str(o): outcomes.count(o) for o in sorted(set(outcomes), key=str)}
    print(f"clients={args.clients} token={args.token} healthz n={len(took)} p50={percentile(took, 0.5):.3f} s "
          f"max={max(took):.3f} s; slow clients answered: {answers}")


if __name__ == "__main__":
    main()
