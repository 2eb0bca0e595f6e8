#!/usr/bin/env bash
# Run every integration test against the binaries in build directory $1.
# Prints each assertion and a closing "N passed, N failed" line.
set -u
BUILD=${1:-build}
export BUILD
cd "$(dirname "$0")/../.." || exit 1
pass=0 fail=0 broken=0
# Sanitizer reports of any program the tests run (daemon, CLI, in pipes
# too) go to files; any such file fails the run.
sanlog=$(mktemp -d /tmp/mailabuse-san.XXXXXX)
chmod 0777 "$sanlog"
export ASAN_OPTIONS="log_path=$sanlog/asan:detect_leaks=1"
export UBSAN_OPTIONS="log_path=$sanlog/ubsan:print_stacktrace=1:halt_on_error=1"
for t in tests/integration/t_*.sh; do
    res=$(mktemp)
    echo "== $t ($BUILD)"
    RESULTS=$res bash "$t"
    if read -r p f <"$res" 2>/dev/null && [ -n "$p" ]; then
        pass=$((pass + p)); fail=$((fail + f))
    else
        echo "not ok - $t did not finish"; broken=$((broken + 1))
    fi
    rm -f "$res"
done
for f in "$sanlog"/*; do
    [ -e "$f" ] || continue
    echo "not ok - sanitizer report $f:"; sed 's/^/#   /' "$f" | head -40
    broken=$((broken + 1))
done
rm -rf "$sanlog"
fail=$((fail + broken))
echo "# integration tests on $BUILD"
echo "integration: $pass passed, $fail failed"
echo "$pass $fail" >"$BUILD/integration.result"
[ "$fail" -eq 0 ]
