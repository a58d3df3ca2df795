#!/usr/bin/env python3
"""Derive CLIP tokenizer files (vocab.json + merges.txt) from OpenAI's BPE table.

Input: ``bpe_simple_vocab_16e6.txt.gz`` as shipped inside the ``open_clip_torch``
wheel on PyPI (``open_clip/bpe_simple_vocab_16e6.txt.gz``). If no path is
given, the script downloads the wheel with ``pip download --no-deps`` into a
temporary directory and reads the file from it.

Output (same layout as the ``tokenizer/`` folder of Stable Diffusion exports):

* ``merges.txt``: a ``#version: 0.2`` header followed by the 48 894 merge
  rules CLIP actually uses, one ``left right`` pair per line, in rank order.
* ``vocab.json``: 49 408 entries. Ids 0-255 are the byte-level alphabet
  (every byte mapped to a printable unicode character), 256-511 the same
  characters with the ``</w>`` end-of-word marker, 512-49405 the merge
  results in rank order, then ``<|startoftext|>`` = 49406 and
  ``<|endoftext|>`` = 49407.

Usage: make_clip_vocab.py [--bpe PATH] [--out DIR]
"""

from __future__ import annotations

import argparse
import glob
import gzip
import json
import os
import subprocess
import sys
import tempfile
import zipfile

# CLIP's tokenizer has 49408 ids: 256 bytes, 256 bytes + "</w>", the merges
# and two special tokens, so only the first 48894 merge rules are used.
VOCAB_SIZE = 49408
N_BYTES = 256
SPECIAL_TOKENS = ("<|startoftext|>", "<|endoftext|>")
N_MERGES = VOCAB_SIZE - 2 * N_BYTES - len(SPECIAL_TOKENS)
END_OF_WORD = "</w>"

DEFAULT_OUT = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "tiny-sd", "tokenizer"
)


def byte_alphabet() -> list[str]:
    """Return the printable character standing for each byte value 0..255.

    Bytes that are already visible, non-space Latin-1 characters keep their own
    code point; every other byte is assigned, in increasing byte order, the
    next unused code point from 256 upwards.
    """
    visible = set(range(ord("!"), ord("~") + 1))
    visible |= set(range(ord("\u00a1"), ord("\u00ac") + 1))
    visible |= set(range(ord("\u00ae"), ord("\u00ff") + 1))
    table = []
    next_free = 256
    for value in range(N_BYTES):
        if value in visible:
            table.append(chr(value))
        else:
            table.append(chr(next_free))
            next_free += 1
    return table


def visible_order(table: list[str]) -> list[str]:
    """Byte characters in CLIP's id order: visible bytes first, then the rest."""
    shown = [c for c in table if ord(c) < 256]
    remapped = [c for c in table if ord(c) >= 256]
    return shown + remapped


def read_merges(bpe_gz: str) -> list[tuple[str, str]]:
    with gzip.open(bpe_gz, "rb") as handle:
        lines = handle.read().decode("utf-8").split("\n")
    # Line 0 is a header ('"bpe_simple_vocab_16e6.txt#version: 0.2').
    body = lines[1 : 1 + N_MERGES]
    merges = []
    for number, line in enumerate(body, start=2):
        parts = line.split()
        if len(parts) != 2:
            raise SystemExit(f"{bpe_gz}: line {number} is not a merge pair: {line!r}")
        merges.append((parts[0], parts[1]))
    if len(merges) != N_MERGES:
        raise SystemExit(f"{bpe_gz}: expected {N_MERGES} merges, found {len(merges)}")
    return merges


def build_vocab(merges: list[tuple[str, str]]) -> dict[str, int]:
    chars = visible_order(byte_alphabet())
    tokens = list(chars) + [c + END_OF_WORD for c in chars]
    tokens += [left + right for left, right in merges]
    tokens += list(SPECIAL_TOKENS)
    vocab: dict[str, int] = {}
    for token in tokens:
        if token in vocab:
            raise SystemExit(f"duplicate vocabulary entry {token!r}")
        vocab[token] = len(vocab)
    assert len(vocab) == VOCAB_SIZE, len(vocab)
    assert vocab["<|startoftext|>"] == 49406 and vocab["<|endoftext|>"] == 49407
    return vocab


def fetch_bpe(workdir: str) -> str:
    """Download the open_clip_torch wheel (no deps) and extract the BPE file."""
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
         "--dest", workdir, "open_clip_torch"],
        check=True,
    )
    wheels = glob.glob(os.path.join(workdir, "open_clip_torch-*.whl"))
    if not wheels:
        raise SystemExit("pip download produced no open_clip_torch wheel")
    member = "open_clip/bpe_simple_vocab_16e6.txt.gz"
    with zipfile.ZipFile(wheels[0]) as wheel:
        wheel.extract(member, workdir)
    return os.path.join(workdir, member)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bpe", help="path to bpe_simple_vocab_16e6.txt.gz")
    parser.add_argument("--out", default=DEFAULT_OUT, help="output directory")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        bpe_path = args.bpe or fetch_bpe(tmp)
        merges = read_merges(bpe_path)

    vocab = build_vocab(merges)
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)

    with open(os.path.join(out, "vocab.json"), "w", encoding="utf-8") as handle:
        json.dump(vocab, handle, ensure_ascii=False)
        handle.write("\n")
    with open(os.path.join(out, "merges.txt"), "w", encoding="utf-8", newline="\n") as handle:
        handle.write("#version: 0.2\n")
        for left, right in merges:
            handle.write(f"{left} {right}\n")

    print(f"wrote {len(vocab)} vocab entries and {len(merges)} merges to {out}")


if __name__ == "__main__":
    main()
