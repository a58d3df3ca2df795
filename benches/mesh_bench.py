#!/usr/bin/env python3
"""Benchmark of 3D model creation (issue 5), against a baseline in the same run.

A 1024x1024 image to a relief at full resolution, simplified to the default level of
detail (0.05 mm), written as GLB with the image embedded as its JPEG texture, as the
product writes it: time per stage (decode, solid = build + simplify, check = the closed-
solid facts, GLB = texture + writing) and in total, peak memory (targets: under 300 ms
and 200 MB), and triangles per second of the full-resolution heightfield. The baseline
does the same job in Python (benches/mesh_reference.py: numpy, fast-simplification,
trimesh), simplifying to the same triangle count our run produced; ratio = ours /
baseline.

Usage: python3 benches/mesh_bench.py [--runs N]
Creates .tools/bench-venv (numpy, pillow, trimesh, fast-simplification) on first use.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import ROOT  # noqa: E402

VENV = os.path.join(ROOT, ".tools", "bench-venv")
PYTHON = os.path.join(VENV, "bin", "python")


def ensure_venv():
    if not os.path.exists(PYTHON):
        subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
    subprocess.run([PYTHON, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    "numpy", "pillow", "trimesh", "fast-simplification"], check=True)


def images(folder):
    """Two 1024x1024 test images, written by the venv's numpy: a photo-like one (gradient,
    soft shapes, grain) and a poster-like one (flat areas, hard edges)."""
    script = r"""
import sys
import numpy as np
from PIL import Image
folder = sys.argv[1]
y, x = np.mgrid[0:1024, 0:1024] / 1024.0
blob = lambda cx, cy, r: np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / r)
rng = np.random.default_rng(7)
photo = 0.25 + 0.3 * x + 0.4 * blob(0.35, 0.4, 0.02) + 0.3 * blob(0.7, 0.65, 0.05) - 0.2 * blob(0.6, 0.25, 0.01)
photo += 0.04 * rng.random(photo.shape)
poster = np.where((x - 0.5) ** 2 + (y - 0.5) ** 2 < 0.1, 0.9, 0.2) + np.where((x > 0.1) & (x < 0.3) & (y > 0.6), 0.5, 0.0)
for name, a in (("photo", photo), ("poster", poster)):
    Image.fromarray((np.clip(a, 0, 1) * 255).astype(np.uint8)).save(f"{folder}/{name}.png")
"""
    subprocess.run([PYTHON, "-c", script, folder], check=True)
    return [(name, os.path.join(folder, f"{name}.png")) for name in ("photo", "poster")]


def ours(image, runs):
    env = dict(os.environ, BENCH_IMAGE=image, BENCH_RUNS=str(runs))
    out = subprocess.run(["cargo", "bench", "--quiet", "--bench", "mesh"], cwd=ROOT, env=env,
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def baseline(image, triangles, runs):
    out = subprocess.run([PYTHON, os.path.join(ROOT, "benches", "mesh_reference.py"), image,
                          str(triangles), str(runs)], capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    ensure_venv()
    stages = ["decode", "solid", "check", "glb", "total"]
    with tempfile.TemporaryDirectory() as folder:
        for name, image in images(folder):
            a = ours(image, args.runs)
            b = baseline(image, a["triangles_out"], args.runs)
            print(f"\n{name}: 1024x1024 -> {a['triangles_in']:,} triangles -> {a['triangles_out']:,} "
                  f"(max error {a['max_error_mm']:.2f} mm), median of {args.runs} runs")
            print(f"{'':<12}" + "".join(f"{s:>12}" for s in stages)
                  + f"{'peak MB':>10}{'GLB MB':>9}{'texture':>9}{'closed':>8}")
            for label, r, closed in (("ours", a, a["closed_solid"]), ("baseline", b, b["watertight"])):
                print(f"{label:<12}" + "".join(f"{r['median_seconds'][s] * 1000:>10.1f}ms" for s in stages)
                      + f"{r['peak_mb']:>10.1f}{r['glb_mb']:>9.2f}{r['texture_mb']:>9.2f}"
                      + f"{'yes' if closed else 'no':>8}")
            ratio = a["median_seconds"]["total"] / b["median_seconds"]["total"]
            print(f"ratio ours/baseline: time {ratio:.2f}, peak memory {a['peak_mb'] / b['peak_mb']:.2f}; "
                  f"full-resolution heightfield {a['heightfield_triangles_per_second'] / 1e6:.1f} M triangles/s")
    print("\nbaseline peak memory is the whole Python process (interpreter and libraries included);"
          " ours is the growth of the bench process during one run.")


if __name__ == "__main__":
    main()
