#!/usr/bin/env python3
"""Benchmark of the file store (issue 3), on one release server in one run.

  * Ingest: a 1 GiB binary STL uploaded through POST /api/v1/assets (raw body, curl)
    against `sha256sum` of the same file: throughput ratio, and the server's peak RSS
    above its idle RSS (VmHWM).
  * Serving: one 1 MiB public blob fetched by `wrk` from the appliance and from nginx
    serving the same file on the same machine: requests/s ratio.
  * Deduplication: a second user uploads 4 MiB files, alternately ones nobody has and
    ones the first user already stored; median upload time ratio (duplicate / new),
    which should be 1: the time must not tell that someone else had the file.

Usage: python3 benches/store_bench.py   (after `cargo build --release`)
Needs Debian's wrk, curl and nginx (installed by this script with apt-get when missing).
"""
import http.client
import json
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

from benchlib import BINARY, PASSWORD, ensure_tools, free_port, status_kib

GIB = 1024 ** 3


def make_stl(path):
    """A binary STL of about 1 GiB: header, triangle count, random facets."""
    triangles = (GIB - 84) // 50
    with open(path, "wb") as f:
        f.write(b"stratamake benchmark".ljust(80, b" "))
        f.write(triangles.to_bytes(4, "little"))
        remaining = triangles * 50
        chunk = os.urandom(4 * 1024 * 1024)
        while remaining:
            n = min(remaining, len(chunk))
            f.write(chunk[:n])
            remaining -= n
    return 84 + triangles * 50


def wrk_rps(url, seconds):
    """Requests per second of 200 answers; any error or other status fails the run."""
    out = subprocess.run(["wrk", "-t2", "-c16", f"-d{seconds}s", url], capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out or "Socket errors" in out:
        sys.exit(f"wrk against {url} saw failures:\n{out}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def stl_bytes(size):
    """A valid binary STL of about `size` bytes with random facets."""
    triangles = (size - 84) // 50
    return b"bench".ljust(80, b" ") + triangles.to_bytes(4, "little") + os.urandom(triangles * 50)


def login(port, username):
    conn = http.client.HTTPConnection("127.0.0.1", port)
    conn.request("POST", "/api/v1/auth/login", json.dumps({"login": username, "password": PASSWORD}),
                 {"content-type": "application/json"})
    return json.loads(conn.getresponse().read())["access_token"]


def upload(conn, token, filename, body):
    """Uploads raw bytes; returns (asset, seconds)."""
    started = time.perf_counter()
    conn.request("POST", f"/api/v1/assets?filename={filename}", body,
                 {"Authorization": f"Bearer {token}", "Content-Type": "application/octet-stream"})
    response = conn.getresponse()
    answer = response.read()
    seconds = time.perf_counter() - started
    assert response.status == 201, answer
    return json.loads(answer)["items"][0], seconds


def main():
    if not os.path.exists(BINARY):
        sys.exit("build first: cargo build --release")
    ensure_tools("wrk", "curl", "nginx")
    work = tempfile.mkdtemp(prefix="stratamake-store-bench-", dir=os.environ.get("BENCH_DIR", "/var/tmp"))
    data = os.path.join(work, "data")
    port = free_port()
    env = dict(os.environ, STRATAMAKE_DATA_DIR=data, STRATAMAKE_LOG="error")
    server = nginx = None
    try:
        big = os.path.join(work, "big.stl")
        size = make_stl(big)
        subprocess.run(["sync"], check=True)
        subprocess.run(["cat", big], stdout=subprocess.DEVNULL, check=True)  # warm the page cache for both
        started = time.perf_counter()
        subprocess.run(["sha256sum", big], stdout=subprocess.DEVNULL, check=True)
        sha_seconds = time.perf_counter() - started

        for name in ("bench", "second"):
            subprocess.run([BINARY, "admin", "create-user", "--admin", "--email", f"{name}@example.org",
                            "--username", name, "--password-stdin"], input=PASSWORD + "\n", text=True, env=env,
                           check=True, stdout=subprocess.DEVNULL)
        server = subprocess.Popen([BINARY, "serve", "--listen", f"127.0.0.1:{port}"], env=env, stdout=subprocess.DEVNULL)
        for _ in range(500):
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/readyz")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.01)
        token = login(port, "bench")
        time.sleep(2)
        idle_rss = status_kib(server.pid, "VmRSS")

        started = time.perf_counter()
        out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST",
                              "-H", f"Authorization: Bearer {token}", "-H", "Content-Type: application/octet-stream",
                              "--data-binary", f"@{big}", f"http://127.0.0.1:{port}/api/v1/assets?filename=big.stl"],
                             capture_output=True, text=True, check=True).stdout
        ingest_seconds = time.perf_counter() - started
        assert out == "201", f"upload answered {out}"
        peak_rss = status_kib(server.pid, "VmHWM")
        os.remove(big)

        # Deduplication: new and already-stored files take turns, so load and order
        # fall on both alike.
        first = http.client.HTTPConnection("127.0.0.1", port)
        second = http.client.HTTPConnection("127.0.0.1", port)
        second_token = login(port, "second")
        new_times, duplicate_times = [], []
        for i in range(int(os.environ.get("DEDUPE_ROUNDS", "15"))):
            stored = stl_bytes(4 * 1024 * 1024)
            upload(first, token, f"seed{i}.stl", stored)
            fresh = stl_bytes(4 * 1024 * 1024)
            pair = [("new", fresh), ("duplicate", stored)]
            for kind, body in pair if i % 2 else reversed(pair):
                _, seconds = upload(second, second_token, f"{kind}{i}.stl", body)
                (new_times if kind == "new" else duplicate_times).append(seconds)

        # Serving: a 1 MiB public file, from the appliance and from nginx.
        body = stl_bytes(1024 * 1024)
        asset, _ = upload(first, token, "mib.stl", body)
        db = sqlite3.connect(os.path.join(data, "stratamake.db"))
        db.execute("UPDATE assets SET visibility = 'public' WHERE id = ?", (asset["id"],))
        db.commit()
        db.close()
        # nginx's workers run as an unprivileged user: the file must be readable to them.
        os.chmod(work, 0o755)
        www = os.path.join(work, "www")
        os.makedirs(www, mode=0o755)
        with open(os.path.join(www, asset["sha256"]), "wb") as f:
            f.write(body)
        os.chmod(os.path.join(www, asset["sha256"]), 0o644)
        nginx_port = free_port()
        conf = os.path.join(work, "nginx.conf")
        with open(conf, "w") as f:
            f.write(f"""worker_processes 2; pid {work}/nginx.pid; error_log {work}/nginx-error.log;
events {{ worker_connections 1024; }}
http {{ access_log off; sendfile on; tcp_nopush on;
  server {{ listen 127.0.0.1:{nginx_port}; root {www};
    location / {{ add_header Cache-Control "public, max-age=31536000, immutable"; etag on; }} }} }}
""")
        nginx = subprocess.Popen(["nginx", "-c", conf, "-g", "daemon off;"], stderr=subprocess.DEVNULL)
        time.sleep(1)
        app_rps = wrk_rps(f"http://127.0.0.1:{port}/blobs/{asset['sha256']}", 8)
        nginx_rps = wrk_rps(f"http://127.0.0.1:{nginx_port}/{asset['sha256']}", 8)
    finally:
        for process in (server, nginx):
            if process:
                process.terminate()
                process.wait()
        shutil.rmtree(work, ignore_errors=True)

    sha_rate = size / sha_seconds / 1e6
    ingest_rate = size / ingest_seconds / 1e6
    print(f"sha256sum of 1 GiB            {sha_seconds:7.2f} s  ({sha_rate:6.0f} MB/s)")
    print(f"upload of 1 GiB through API   {ingest_seconds:7.2f} s  ({ingest_rate:6.0f} MB/s)")
    print(f"ingest ratio (API / sha256sum) {ingest_rate / sha_rate:6.2f}       (target >= 0.8)")
    print(f"peak RSS above idle           {(peak_rss - idle_rss) / 1024:7.1f} MiB (idle {idle_rss / 1024:.1f} MiB; target < 64 MiB)")
    print(f"1 MiB public blob: appliance  {app_rps:7.0f} req/s")
    print(f"1 MiB public blob: nginx      {nginx_rps:7.0f} req/s")
    print(f"serving ratio (appliance / nginx) {app_rps / nginx_rps:5.2f}    (target >= 0.5)")
    new_median, duplicate_median = statistics.median(new_times), statistics.median(duplicate_times)
    print(f"4 MiB upload, new file        {new_median * 1000:7.1f} ms (median of {len(new_times)})")
    print(f"4 MiB upload, already stored  {duplicate_median * 1000:7.1f} ms (median of {len(duplicate_times)})")
    print(f"dedupe timing ratio (duplicate / new) {duplicate_median / new_median:5.2f} (target: 1)")


if __name__ == "__main__":
    main()
