#!/usr/bin/env python3
"""HTTP benchmark of the spine (issue 2), using public load tools on loopback.

Measures, on one release server in one run:
  * start to ready: from process spawn to the first 200 from /readyz;
  * idle memory: VmRSS after start and a few seconds idle;
  * throughput: `wrk` on /healthz and on token-authenticated GET /api/v1/me
    (reported as the ratio me/healthz);
  * latency at a fixed rate: `hey` at 1,000 requests/s on /api/v1/me (p50, p99);
  * enumeration resistance: mean time of a failed sign-in for an existing account
    against one for an account that does not exist (ratio; both verify one argon2 hash).

Usage: python3 benches/http_bench.py [--seconds 10]   (after `cargo build --release`)
Needs Debian's wrk and hey (installed by this script with apt-get when missing).
"""
import argparse
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

from benchlib import BINARY, PASSWORD, ensure_tools, free_port, status_kib


def request(port, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    data = json.dumps(body).encode() if body is not None else None
    hdrs = {"content-type": "application/json"} if data else {}
    hdrs.update(headers or {})
    conn.request(method, path, body=data, headers=hdrs)
    response = conn.getresponse()
    payload = response.read()
    conn.close()
    return response.status, payload


def wrk(url, seconds, token=None):
    cmd = ["wrk", "-t2", "-c32", f"-d{seconds}s", "--latency", url]
    if token:
        cmd[1:1] = ["-H", f"Authorization: Bearer {token}"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(\w+)", out)
    return rps, p99.group(1) + p99.group(2), out


def hey_fixed_rate(url, seconds, token, rate=1000, workers=20):
    cmd = ["hey", "-z", f"{seconds}s", "-c", str(workers), "-q", str(rate // workers),
           "-H", f"Authorization: Bearer {token}", url]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    achieved = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = float(re.search(r"50%+ in ([\d.]+) secs", out).group(1)) * 1000
    p99 = float(re.search(r"99%+ in ([\d.]+) secs", out).group(1)) * 1000
    codes = re.findall(r"\[(\d+)\]\s+(\d+) responses", out)
    return achieved, p50, p99, codes


def failed_logins_ms(port, logins, rounds):
    """Mean time of a failed sign-in per login, the logins taking turns so that load and
    warm-up fall on all of them alike."""
    totals = dict.fromkeys(logins, 0.0)
    for _ in range(rounds):
        for login in logins:
            started = time.perf_counter()
            status, _ = request(port, "POST", "/api/v1/auth/login", {"login": login, "password": "not the password"})
            totals[login] += time.perf_counter() - started
            assert status == 401, status
    return [totals[login] * 1000 / rounds for login in logins]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    if not os.path.exists(BINARY):
        sys.exit("build first: cargo build --release")
    ensure_tools("wrk", "hey")
    data = tempfile.mkdtemp(prefix="stratamake-bench-")
    port = free_port()
    env = dict(os.environ, STRATAMAKE_DATA_DIR=data, STRATAMAKE_LOG="error")

    # Admin account and its database exist before the timed start.
    subprocess.run([BINARY, "admin", "create-user", "--admin", "--email", "bench@example.org",
                    "--username", "bench", "--password-stdin"], input=PASSWORD + "\n",
                   text=True, env=env, check=True, stdout=subprocess.DEVNULL)

    started = time.perf_counter()
    server = subprocess.Popen([BINARY, "serve", "--listen", f"127.0.0.1:{port}"], env=env,
                              stdout=subprocess.DEVNULL)
    while True:
        try:
            if request(port, "GET", "/readyz")[0] == 200:
                break
        except OSError:
            pass
        time.sleep(0.001)
    ready_ms = (time.perf_counter() - started) * 1000
    try:
        time.sleep(3)
        idle_rss = status_kib(server.pid, "VmRSS")
        status, body = request(port, "POST", "/api/v1/auth/login", {"login": "bench", "password": PASSWORD})
        assert status == 200, body
        token = json.loads(body)["access_token"]
        base = f"http://127.0.0.1:{port}"
        health_rps, health_p99, _ = wrk(f"{base}/healthz", args.seconds)
        me_rps, me_p99, _ = wrk(f"{base}/api/v1/me", args.seconds, token)
        achieved, p50, p99, codes = hey_fixed_rate(f"{base}/api/v1/me", args.seconds, token)
        loaded_rss = status_kib(server.pid, "VmRSS")
        # 8 failures each stays under the per-account (10) and per-IP (30) limits.
        known_ms, unknown_ms = failed_logins_ms(port, ["bench", "nobody-at-all"], rounds=8)
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(data, ignore_errors=True)

    print(f"start to ready            {ready_ms:8.1f} ms   (target < 300 ms)")
    print(f"idle RSS                  {idle_rss / 1024:8.1f} MiB  (target < 40 MiB)")
    print(f"RSS after load            {loaded_rss / 1024:8.1f} MiB")
    print(f"wrk /healthz              {health_rps:8.0f} req/s  p99 {health_p99}")
    print(f"wrk /api/v1/me (bearer)   {me_rps:8.0f} req/s  p99 {me_p99}")
    print(f"ratio me / healthz        {me_rps / health_rps:8.2f}       (target >= 0.5)")
    print(f"failed sign-in, known / unknown account {known_ms:6.1f} / {unknown_ms:6.1f} ms  ratio {known_ms / unknown_ms:.2f} (1.0 = indistinguishable)")
    print(f"hey /api/v1/me @1000/s    {achieved:8.0f} req/s  p50 {p50:.2f} ms  p99 {p99:.2f} ms (target p99 < 5 ms)  status {codes}")


if __name__ == "__main__":
    main()
