#!/usr/bin/env python3
"""Validates a StrataMake data export (a ZIP) against the JSON Schemas committed in
src/domains/privacy/export-schema/, with the `jsonschema` package (draft 2020-12).

Checks: manifest.json and every data/<section>.json validate against their committed
schema; the manifest names exactly the data files present; the schemas shipped inside
the ZIP are the committed ones; every file under files/ is in the manifest with its
size and SHA-256, that hash is the `blob_hash` of its asset in data/assets.json, and
every asset has its file. Prints one line per problem and "validate_export: ok" or
"validate_export: N problem(s)"; exit status 1 on any problem.

Usage: tests/tools/validate_export.py EXPORT.zip
"""
import hashlib
import json
import pathlib
import sys
import zipfile

import jsonschema

SCHEMAS = pathlib.Path(__file__).resolve().parents[2] / "src/domains/privacy/export-schema"


def main(path):
    problems = []
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())

        def load(name):
            return json.loads(archive.read(name))

        def validate(name, schema_name):
            schema = json.loads((SCHEMAS / schema_name).read_text())
            validator = jsonschema.Draft202012Validator(schema)
            for error in validator.iter_errors(load(name)):
                where = "/".join(str(p) for p in error.absolute_path)
                problems.append(f"{name}: {where}: {error.message}")

        if "manifest.json" not in names:
            print("FAIL manifest.json is missing")
            return 1
        validate("manifest.json", "manifest.schema.json")
        manifest = load("manifest.json")

        sections = sorted(n for n in names if n.startswith("data/"))
        if sorted(manifest["sections"]) != sections:
            problems.append(f"manifest sections {manifest['sections']} != data files {sections}")
        committed = sorted(p.name for p in SCHEMAS.glob("*.schema.json"))
        for section in sections:
            schema_name = section.removeprefix("data/").removesuffix(".json") + ".schema.json"
            if schema_name not in committed:
                problems.append(f"{section}: no committed schema {schema_name}")
                continue
            validate(section, schema_name)
        for schema_name in committed:
            shipped = f"schema/{schema_name}"
            if shipped not in names:
                problems.append(f"{shipped} is not in the export")
            elif archive.read(shipped) != (SCHEMAS / schema_name).read_bytes():
                problems.append(f"{shipped} differs from the committed schema")
        if "README.md" not in names:
            problems.append("README.md is missing")

        listed = {f["path"]: f for f in manifest["files"]}
        stored = {n for n in names if n.startswith("files/") and not n.endswith("/")}
        if set(listed) != stored:
            problems.append(f"files in the ZIP {sorted(stored)} != manifest {sorted(listed)}")
        assets = {a["id"]: a for a in load("data/assets.json")["assets"]} if "data/assets.json" in names else {}
        for name in sorted(stored & set(listed)):
            data = archive.read(name)
            entry = listed[name]
            digest = hashlib.sha256(data).hexdigest()
            if digest != entry["sha256"]:
                problems.append(f"{name}: SHA-256 {digest} != manifest {entry['sha256']}")
            if len(data) != entry["size"]:
                problems.append(f"{name}: {len(data)} bytes != manifest {entry['size']}")
            asset = assets.get(entry["asset_id"])
            if asset is None:
                problems.append(f"{name}: asset {entry['asset_id']} is not in data/assets.json")
            elif asset["blob_hash"] != digest:
                problems.append(f"{name}: SHA-256 {digest} != its asset's blob_hash {asset['blob_hash']}")
        for asset_id in set(assets) - {f["asset_id"] for f in manifest["files"]}:
            problems.append(f"asset {asset_id} has no file in the export")

    for problem in problems:
        print(f"FAIL {problem}")
    print(f"validate_export: {len(problems)} problem(s)" if problems else "validate_export: ok")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
