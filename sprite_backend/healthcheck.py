"""The container's healthcheck: `python -m sprite_backend.healthcheck [URL]` exits 0 when /healthz answers 200.

Django answers 400 to a Host header outside ALLOWED_HOSTS, and a probe from inside the container
would send `127.0.0.1`, which a production ALLOWED_HOSTS rightly leaves out. So the probe sends a
name the service answers to, the first of ALLOWED_HOSTS, and the host check stays whole for everyone
else. (/healthz is exempt from the HTTPS redirect: the probe speaks plain HTTP.)
"""
import os
import sys
import urllib.request

DEFAULT_URL = "http://127.0.0.1:8000/healthz"


def probe_host(allowed_hosts: str) -> str:
    """The first usable name in ALLOWED_HOSTS; `.example.com` allows example.com itself."""
    for entry in allowed_hosts.split(","):
        entry = entry.strip().lstrip(".")
        if entry and entry != "*":
            return entry
    return "localhost"


def main(url: str = DEFAULT_URL) -> int:
    request = urllib.request.Request(url, headers={"Host": probe_host(os.environ.get("ALLOWED_HOSTS", ""))})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return 0 if response.status == 200 else 1
    except Exception as exc:  # any failure is "unhealthy"; say why in `docker inspect`
        print(f"unhealthy: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:2]))
