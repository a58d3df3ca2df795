#!/usr/bin/env python3
"""Benchmark of image generation (issue 4), each figure against its baseline in one run.

  * Pipeline overhead: end-to-end time of a generation (prompt to PNG bytes, model
    loaded) against the time spent inside ONNX Runtime `run` calls (target < 3%).
  * Against diffusers: the same model, size, scheduler, steps, guidance and thread
    count through diffusers' OnnxStableDiffusionPipeline (target: faster, ratio < 1).

Usage: python3 benches/generation_bench.py [--model DIR] [--threads N] [--runs N]
Needs `scripts/setup.sh run` (ONNX Runtime) and, for the diffusers side, the reference
venv (torch, diffusers, onnxruntime 1.31.1):
    python3 -m venv .tools/venv-ref
    .tools/venv-ref/bin/pip install -r models/scripts/requirements-reference.txt
(or REFERENCE_PYTHON=/path/to/python). Without it only the overhead is measured.
"""
import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CASES = [
    # width, height, steps, scheduler, guidance
    (64, 64, 4, "euler", 7.5),
    (256, 256, 20, "dpmpp_2m_karras", 7.5),
    (256, 256, 4, "euler_a", 1.0),
]


def rust(model, case, threads, runs):
    width, height, steps, scheduler, guidance = case
    env = dict(os.environ, BENCH_MODEL=model, BENCH_WIDTH=str(width), BENCH_HEIGHT=str(height),
               BENCH_STEPS=str(steps), BENCH_SCHEDULER=scheduler, BENCH_GUIDANCE=str(guidance),
               BENCH_RUNS=str(runs), BENCH_THREADS=str(threads))
    out = subprocess.run(["cargo", "bench", "--quiet", "--bench", "generation"], cwd=ROOT, env=env,
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def diffusers(python, model, case, threads, runs):
    width, height, steps, scheduler, guidance = case
    out = subprocess.run([python, os.path.join(ROOT, "benches", "diffusers_reference.py"), "--model", model,
                          "--width", str(width), "--height", str(height), "--steps", str(steps),
                          "--scheduler", scheduler, "--guidance", str(guidance), "--runs", str(runs),
                          "--threads", str(threads)],
                         cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=os.path.join(ROOT, "models", "tiny-sd"))
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    python = os.environ.get("REFERENCE_PYTHON") or os.path.join(ROOT, ".tools", "venv-ref", "bin", "python")
    have_reference = os.path.exists(python)
    if not have_reference:
        print(f"(no reference venv at {python}: only the pipeline overhead is measured)", file=sys.stderr)
    print(f"model {args.model}, {args.threads} threads, median of {args.runs} runs each")
    print(f"{'case':<34} {'ours s/img':>11} {'ms/step':>8} {'overhead':>9} {'diffusers s/img':>16} {'ratio':>6}")
    for case in CASES:
        ours = rust(args.model, case, args.threads, args.runs)
        label = f"{case[0]}x{case[1]} {case[2]} steps {case[3]} cfg {case[4]}"
        line = (f"{label:<34} {ours['median_seconds_per_image']:>11.4f} "
                f"{ours['median_seconds_per_step'] * 1000:>8.2f} {ours['median_overhead_fraction'] * 100:>8.2f}%")
        if have_reference:
            theirs = diffusers(python, args.model, case, args.threads, args.runs)
            ratio = ours["median_seconds_per_image"] / theirs["median_seconds_per_image"]
            line += f" {theirs['median_seconds_per_image']:>16.4f} {ratio:>6.2f}"
        print(line)
    print("overhead = (end-to-end - time inside ONNX Runtime run) / end-to-end (target < 3%);"
          " ratio = ours / diffusers (target < 1)")


if __name__ == "__main__":
    main()
