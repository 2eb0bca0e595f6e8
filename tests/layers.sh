#!/bin/sh
# tests/layers.sh BUILD [TABLE]: check from the objects' symbols (nm) that
# no object of src/ uses a symbol of a layer its own layer does not use
# (TABLE, tests/layers by default, says which), and that every object is
# in a layer.  Lists each offending reference; exits 1 if there is one.
set -u
BUILD=${1:?usage: tests/layers.sh BUILD [TABLE]}
TOP=$(cd "$(dirname "$0")/.." && pwd)
TABLE=${2:-$TOP/tests/layers}
tmp=$(mktemp -d /tmp/mailabuse-layers.XXXXXX) || exit 2
trap 'rm -rf "$tmp"' EXIT

# The objects: one per source file, and the generated notices.
: >"$tmp/objects"
for c in "$TOP"/src/*.c notices.c; do
    n=$(basename "$c" .c)
    if [ ! -f "$BUILD/$n.o" ]; then
        echo "layers: $BUILD/$n.o is not built (make all first)" >&2
        exit 2
    fi
    echo "$n" >>"$tmp/objects"
    nm --defined-only -g "$BUILD/$n.o" | awk -v o="$n" 'NF == 3 { print $3, o }' >>"$tmp/defs"
    nm -u "$BUILD/$n.o" | awk -v o="$n" '{ print o, $NF }' >>"$tmp/uses"
done

# object -> layer (the first layer with a matching pattern), and which
# layers each layer may use (itself, and the closure of its "uses").
awk -v objects="$tmp/objects" '
function allowed(l, m,   k, n, i, u) {
    if (l == m) return 1
    n = split(uses[l], u, ",")
    for (i = 1; i <= n; i++)
        if (u[i] != "-" && allowed(u[i], m)) return 1
    return 0
}
/^[ \t]*(#|$)/ { next }
{
    if ($1 in uses) { print "layers: layer " $1 " twice in the table" > "/dev/stderr"; bad = 1 }
    order[++nl] = $1; uses[$1] = $2
    for (i = 3; i <= NF; i++) pat[$1] = pat[$1] " " $i
}
END {
    for (i = 1; i <= nl; i++) {
        n = split(uses[order[i]], u, ",")
        for (k = 1; k <= n; k++)
            if (u[k] != "-" && !(u[k] in uses)) {
                print "layers: layer " order[i] " uses " u[k] ", which is no layer" > "/dev/stderr"
                bad = 1
            }
    }
    while ((getline o < objects) > 0) {
        layer = ""
        for (i = 1; i <= nl && layer == ""; i++) {
            n = split(pat[order[i]], p, " ")
            for (k = 1; k <= n; k++) {
                re = "^" p[k] "$"; gsub(/\*/, ".*", re); gsub(/\?/, ".", re)
                if (o ~ re) { layer = order[i]; break }
            }
        }
        if (layer == "") {
            print "layers: " o ".o is in no layer: add it to the table" > "/dev/stderr"
            bad = 1
        } else
            print "O", o, layer
    }
    for (i = 1; i <= nl; i++)
        for (k = 1; k <= nl; k++)
            if (allowed(order[i], order[k])) print "A", order[i], order[k]
    exit bad
}' "$TABLE" >"$tmp/layers" || exit 1

# Every use of a symbol another object defines, checked against the layers.
awk -v f1="$tmp/layers" -v f2="$tmp/defs" '
BEGIN {
    while ((getline < f1) > 0) {
        if ($1 == "O") layer[$2] = $3; else ok[$2, $3] = 1
    }
    while ((getline < f2) > 0) def[$1] = $2
}
($2 in def) && def[$2] != $1 {
    from = layer[$1]; to = layer[def[$2]]
    if (!ok[from, to]) {
        printf "layers: %s.o (%s) uses %s of %s.o (%s)\n", $1, from, $2, def[$2], to
        bad++
    }
}
END {
    if (bad) { printf "layers: %d use%s against the layers in the table\n", bad, bad == 1 ? "" : "s"; exit 1 }
}' "$tmp/uses" || exit 1
echo "layers: $(wc -l <"$tmp/objects") objects, each uses only its own layer and those below"
