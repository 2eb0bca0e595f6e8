#!/usr/bin/env bash
# The layering check (tests/layers.sh, run by make layers in make check)
# passes on the tree's table and fails, naming each offending reference,
# on a table that puts a module above those using it, on one that leaves
# an object out, and on one naming a layer that does not exist.
. "$(dirname "$0")/lib.sh"
t_init
LAYERS="$TOP/tests/layers.sh"
TABLE="$TOP/tests/layers"

expect_status "the tree's table: no use against the layers" 0 sh "$LAYERS" "$BUILD"
expect_match "says how many objects it checked" '^layers: [0-9]+ objects' "$(cat "$T/last.out")"

# str.o moved from the base layer to a layer of its own on top.
sed -e '/^base /s/ str / /' "$TABLE" >"$T/wrong"
printf 'top base,cli-main,daemon-main str\n' >>"$T/wrong"
expect_status "a module above its users: the check fails" 1 sh "$LAYERS" "$BUILD" "$T/wrong"
expect_match "and names the lower object, the symbol and the higher object" \
    '^layers: log\.o \(base\) uses str_[a-z_]+ of str\.o \(top\)$' "$(cat "$T/last.out")"
expect_match "the configuration's use of it too" '^layers: config\.o \(base\) uses str_' \
    "$(cat "$T/last.out")"
expect_match "and counts them" '^layers: [0-9]+ uses against the layers in the table$' \
    "$(tail -n 1 "$T/last.out")"

# An object in no layer: a new file nobody placed.
sed -e '/^base /s/ sockdiag//' "$TABLE" >"$T/missing"
expect_status "an object in no layer fails" 1 sh "$LAYERS" "$BUILD" "$T/missing"
expect_eq "and is named" "layers: sockdiag.o is in no layer: add it to the table" \
    "$(cat "$T/last.err")"

# A layer that uses one the table does not have.
sed -e 's/^store       base /store       bsae /' "$TABLE" >"$T/typo"
expect_status "a misspelt layer fails" 1 sh "$LAYERS" "$BUILD" "$T/typo"
expect_match "and is named" "layer store uses bsae, which is no layer" "$(cat "$T/last.err")"

# The store using the CLI: what the check is for.
sed -e '/^store /s/$/ ctl_util/' -e '/^cli /s/ ctl_util / /' "$TABLE" >"$T/down"
expect_status "the CLI's helpers placed in the store layer: the check fails" 1 \
    sh "$LAYERS" "$BUILD" "$T/down"
expect_match "ctl_util.o (store) uses the services" '^layers: ctl_util\.o \(store\) uses [a-z_]+ of (lifecycle|notify)\.o \(services\)$' \
    "$(cat "$T/last.out")"
t_finish
