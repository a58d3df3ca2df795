#!/usr/bin/env bash
# Validates every mesh file in a folder with external tools and prints one line per check
# plus a closing "validate_meshes: N passed, M failed" line. Exit status 1 if any failed.
#
#   *.glb, *.gltf  Khronos glTF Validator (npm gltf-validator, via validate_gltf.mjs):
#                  0 errors required (warnings are listed; STRICT=1 fails on them too).
#   *.stl          admesh: every facet connected, nothing fixed, removed, added or reversed;
#                  PrusaSlicer --info: "manifold = yes" and no repair counters;
#                  PrusaSlicer --export-gcode succeeds.
#   *.3mf          admesh cannot read 3MF: PrusaSlicer --info as above, PrusaSlicer
#                  --export-stl then admesh on that STL, and --export-gcode.
#
# Needs: node + gltf-validator (from the project's package.json), admesh and prusa-slicer
# (Debian packages); `scripts/setup.sh test` installs them all.
# Usage: tests/tools/validate_meshes.sh DIR
set -u
dir=${1:?usage: validate_meshes.sh DIR}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0
failed=0

ok() { passed=$((passed + 1)); echo "ok   $*"; }
bad() { failed=$((failed + 1)); echo "FAIL $*"; }

# admesh FILE: closed and consistently oriented, judged by admesh's own statistics.
check_admesh() {
    local file=$1 label=$2 out
    if ! out=$(timeout 300 admesh "$file" 2>&1); then
        bad "admesh $label: admesh failed or timed out"
        return
    fi
    local problems
    problems=$(printf '%s\n' "$out" | awk '
        /^Facets with [123] disconnected edges? *:/ || /^Total disconnected facets *:/ {
            split($0, a, ":"); split(a[2], v, " ");
            if (v[1] != 0 || v[2] != 0) print a[1] "=" v[1] "/" v[2]
        }
        /^Number of facets *:/ { split($0, a, ":"); split(a[2], v, " "); if (v[1] != v[2]) print "facet count changed " v[1] "->" v[2] }
        /^(Degenerate facets|Edges fixed|Facets removed|Facets added|Facets reversed|Backwards edges|Normals fixed) *:/ {
            split($0, a, ":"); split(a[2], v, " "); if (v[1] != 0) print a[1] "=" v[1]
        }' | sed 's/  */ /g' | paste -sd ';' -)
    if ! printf '%s\n' "$out" | grep -q '^Total disconnected facets'; then
        bad "admesh $label: no statistics printed"
    elif [ -n "$problems" ]; then
        bad "admesh $label: $problems"
    else
        local parts volume
        parts=$(printf '%s\n' "$out" | sed -n 's/^Number of parts *: *\([0-9]*\).*/\1/p')
        volume=$(printf '%s\n' "$out" | sed -n 's/.*Volume *: *\([-0-9.e+]*\).*/\1/p')
        ok "admesh $label: closed, all facets connected, nothing repaired (parts=$parts volume=$volume)"
    fi
}

# PrusaSlicer --info FILE: manifold = yes and no repair statistics.
check_prusa_info() {
    local file=$1 label=$2 out
    out=$(timeout 300 prusa-slicer --loglevel 1 --info "$file" 2>&1)
    local repairs
    repairs=$(printf '%s\n' "$out" | grep -E '^(open_edges|degenerate_facets|edges_fixed|facets_removed|facets_reversed|facets_added|backwards_edges) = ' | paste -sd ';' -)
    if printf '%s\n' "$out" | grep -q '^manifold = yes' && [ -z "$repairs" ]; then
        ok "prusa-slicer --info $label: manifold = yes"
    else
        bad "prusa-slicer --info $label: $(printf '%s\n' "$out" | grep -E '^manifold|Loading|rror' | paste -sd ';' -) $repairs"
    fi
}

check_prusa_gcode() {
    local file=$1 label=$2 out gcode="$work/$(basename "$file").gcode"
    if out=$(timeout 600 prusa-slicer --loglevel 1 --export-gcode "$file" --output "$gcode" 2>&1) && [ -s "$gcode" ]; then
        ok "prusa-slicer --export-gcode $label: $(grep -c '^G1' "$gcode") G1 moves"
    else
        bad "prusa-slicer --export-gcode $label: $(printf '%s\n' "$out" | tail -n 3 | paste -sd ';' -)"
    fi
}

shopt -s nullglob nocaseglob
gltf_files=("$dir"/*.glb "$dir"/*.gltf)
if [ ${#gltf_files[@]} -gt 0 ]; then
    if out=$(node "$here/validate_gltf.mjs" "${gltf_files[@]}" 2>&1); then
        status=0
    else
        status=$?
    fi
    printf '%s\n' "$out" | grep -vE '^(ok  |FAIL) ' | sed 's/^/    /'
    while IFS= read -r line; do
        case "$line" in
            "ok   "*) ok "gltf-validator ${line#ok   }" ;;
            "FAIL "*) bad "gltf-validator ${line#FAIL }" ;;
        esac
    done < <(printf '%s\n' "$out")
    if [ "$status" -ne 0 ] && ! printf '%s\n' "$out" | grep -q '^FAIL '; then
        bad "gltf-validator could not run: $(printf '%s\n' "$out" | tail -n 2 | paste -sd ';' -)"
    fi
fi

for file in "$dir"/*.stl; do
    label=$(basename "$file")
    check_admesh "$file" "$label"
    check_prusa_info "$file" "$label"
    check_prusa_gcode "$file" "$label"
done

for file in "$dir"/*.3mf; do
    label=$(basename "$file")
    check_prusa_info "$file" "$label"
    exported="$work/$label.stl"
    if timeout 300 prusa-slicer --loglevel 1 --export-stl "$file" --output "$exported" >/dev/null 2>&1 && [ -s "$exported" ]; then
        check_admesh "$exported" "$label (exported by prusa-slicer --export-stl)"
    else
        bad "prusa-slicer --export-stl $label failed"
    fi
    check_prusa_gcode "$file" "$label"
done

echo "validate_meshes: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
