#!/usr/bin/env python3
"""The baseline of the mesh benchmark: the same job done the way a Python script would do
it — Pillow decodes the image, numpy builds the closed relief (top grid, walls, and a fan
for the flat bottom), fast-simplification (Fast Quadric Mesh Simplification, C++) reduces
it to a given triangle count, trimesh checks it (watertight, volume, bounds) and writes
the GLB with the source image embedded as its JPEG base-colour texture, as the product
does for reliefs. "solid" is building plus simplifying, as in ours. Prints one JSON line
with the median time of each stage, the peak memory of the process and whether the
result is watertight (trimesh's check).

Run by benches/mesh_bench.py inside its venv: mesh_reference.py IMAGE TRIANGLES RUNS
"""
import json
import resource
import statistics
import sys
import time

import fast_simplification
import numpy as np
import trimesh
from PIL import Image

WIDTH_MM, BASE_MM, HEIGHT_MM = 100.0, 2.0, 4.0


def relief(gray):
    """A closed solid: the height grid on top, vertical walls, a fan for the bottom."""
    rows, cols = gray.shape
    xs = np.linspace(0, WIDTH_MM, cols)
    ys = np.linspace(WIDTH_MM * rows / cols, 0, rows)
    gx, gy = np.meshgrid(xs, ys)
    top = np.stack([gx, gy, BASE_MM + gray * HEIGHT_MM], axis=-1).reshape(-1, 3)
    idx = np.arange(rows * cols).reshape(rows, cols)
    a, b, c, d = idx[:-1, :-1], idx[:-1, 1:], idx[1:, :-1], idx[1:, 1:]
    faces = [np.stack([a, c, b], -1).reshape(-1, 3), np.stack([b, c, d], -1).reshape(-1, 3)]
    ring = np.concatenate([idx[0, :], idx[1:, -1], idx[-1, -2::-1], idx[-2:0:-1, 0]])
    below = top[ring].copy()
    below[:, 2] = 0.0
    base = len(top)
    lower = base + np.arange(len(ring))
    upper_next, lower_next = np.roll(ring, -1), np.roll(lower, -1)
    faces.append(np.stack([ring, upper_next, lower], -1))
    faces.append(np.stack([upper_next, lower_next, lower], -1))
    centre = base + len(ring)
    faces.append(np.stack([lower, lower_next, np.full_like(lower, centre)], -1))
    middle = np.array([[WIDTH_MM / 2, WIDTH_MM * rows / cols / 2, 0.0]])
    return np.concatenate([top, below, middle]), np.concatenate(faces)


def run(path, triangles):
    started = time.perf_counter()
    image = Image.open(path)
    image.load()
    gray = np.asarray(image.convert("L"), dtype=np.float64) / 255.0
    decoded = time.perf_counter()
    points, faces = relief(gray)
    points, faces = fast_simplification.simplify(points, faces, target_count=triangles)
    simplified = time.perf_counter()
    mesh = trimesh.Trimesh(points, faces, process=False)
    watertight, volume, bounds = bool(mesh.is_watertight), mesh.volume, mesh.bounds
    checked = time.perf_counter()
    # The texture: the image in RGB, mapped over the top (x, y) and copied down the walls.
    # trimesh writes an image as JPEG when its format says so (else as PNG).
    texture = image.convert("RGB")
    texture.format = "JPEG"
    depth = WIDTH_MM * gray.shape[0] / gray.shape[1]
    uv = np.clip(points[:, :2] / [WIDTH_MM, depth], 0.0, 1.0)
    mesh.visual = trimesh.visual.TextureVisuals(uv=uv, image=texture)
    glb = mesh.export(file_type="glb")
    written = time.perf_counter()
    assert volume > 0 and bounds is not None
    return {
        "decode": decoded - started,
        "solid": simplified - decoded,
        "check": checked - simplified,
        "glb": written - checked,
        "total": written - started,
        "triangles_in": 2 * (gray.shape[0] - 1) * (gray.shape[1] - 1),
        "triangles_out": len(faces),
        "watertight": watertight,
        "glb_mb": len(glb) / 1e6,
        "texture_mb": embedded_image_bytes(glb) / 1e6,
    }


def embedded_image_bytes(glb):
    """Bytes of the images a GLB embeds (the byteLength of the buffer views they use)."""
    length = int.from_bytes(glb[12:16], "little")
    tree = json.loads(glb[20:20 + length])
    views = tree.get("bufferViews", [])
    return sum(views[image["bufferView"]]["byteLength"] for image in tree.get("images", []))


def main():
    path, triangles, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    run(path, triangles)
    results = [run(path, triangles) for _ in range(runs)]
    stages = ["decode", "solid", "check", "glb", "total"]
    print(json.dumps({
        "impl": "numpy + fast-simplification + trimesh",
        "median_seconds": {s: statistics.median(r[s] for r in results) for s in stages},
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6,
        "triangles_out": results[-1]["triangles_out"],
        "watertight": results[-1]["watertight"],
        "glb_mb": results[-1]["glb_mb"],
        "texture_mb": results[-1]["texture_mb"],
    }))


if __name__ == "__main__":
    main()
