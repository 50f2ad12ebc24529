#!/usr/bin/env bash
# Mutation testing with gremlins (github.com/go-gremlins/gremlins): each
# mutant of a package is tested by every test that can notice it, the
# protocol tests of internal/server included (integration mode), and the
# kill rate per package is printed. Not run in CI (too slow); run it before
# resolving an issue that touches these packages, and record the figures in
# docs/testing.md.
#
#   scripts/mutation.sh [-b BUDGET] [-w WORKERS] [-d REF] [PKG ...]
#
#   PKG      internal/oauth, internal/token, internal/session,
#            internal/store/sqlstore (default: all four)
#   -b       time budget per package for timeout(1), e.g. 30m (default 2h);
#            a package cut short reports the mutants tested so far
#   -w       gremlins workers (default: the number of CPUs)
#   -d REF   only mutants on lines changed since REF (gremlins --diff)
#
# Integration mode makes gremlins run "go test ./..." for every mutant. A
# shim named go, first on PATH, narrows that to the packages whose tests
# exercise the mutated package (below) and adds -short, under which the
# suites use SQLite only and skip Chromium and node: the rules those runs
# check are checked on SQLite too, and a mutant costs seconds, not minutes.
set -euo pipefail
cd "$(dirname "$0")/.."

GREMLINS_VERSION=v0.6.0
budget=2h
workers=$(nproc)
diff=
while getopts "b:w:d:" opt; do
  case $opt in
    b) budget=$OPTARG ;;
    w) workers=$OPTARG ;;
    d) diff=$OPTARG ;;
    *) sed -n '2,21p' "$0"; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
pkgs=("$@")
[ ${#pkgs[@]} -gt 0 ] || pkgs=(internal/session internal/token internal/oauth internal/store/sqlstore)

# The packages whose tests can notice a mutant of each package.
tests_for() {
  case $1 in
    internal/session) echo "./internal/session ./internal/web ./internal/server" ;;
    internal/token) echo "./internal/token ./internal/server" ;;
    internal/oauth) echo "./internal/oauth ./internal/server" ;;
    internal/store/sqlstore) echo "./internal/store/sqlstore ./internal/server" ;;
    *) echo "./$1 ./internal/server" ;;
  esac
}

gobin=$(go env GOPATH)/bin
if ! "$gobin/gremlins" --version 2>/dev/null | grep -q .; then
  echo "== installing gremlins $GREMLINS_VERSION"
  go install "github.com/go-gremlins/gremlins/cmd/gremlins@$GREMLINS_VERSION"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
real_go=$(command -v go)
cat >"$work/go" <<SHIM
#!/usr/bin/env bash
# Narrows "go test ... ./..." to \$MUTATION_TESTS, with -short, and never
# from the test cache: gremlins times the coverage run to set each
# mutant's timeout.
if [ "\$1" = test ] && [ "\${@: -1}" = ./... ]; then
  set -- "\${@:1:\$#-1}"
  exec "$real_go" "\$@" -count=1 -short \$MUTATION_TESTS
fi
exec "$real_go" "\$@"
SHIM
chmod +x "$work/go"

summary=()
for pkg in "${pkgs[@]}"; do
  log="$work/$(echo "$pkg" | tr / _).log"
  echo "== $pkg (tests: $(tests_for "$pkg"); budget $budget)"
  args=(unleash --integration --coverpkg "./$pkg" --workers "$workers" --timeout-coefficient 3
        --exclude-files '_test\.go$' "./$pkg")
  [ -z "$diff" ] || args+=(--diff "$diff")
  set +e
  PATH="$work:$PATH" MUTATION_TESTS="$(tests_for "$pkg")" timeout "$budget" "$gobin/gremlins" "${args[@]}" 2>&1 | tee "$log"
  set -e
  killed=$(grep -c '^ *KILLED ' "$log" || true)
  lived=$(grep -c '^ *LIVED ' "$log" || true)
  timedout=$(grep -c '^ *TIMED OUT ' "$log" || true)
  notcovered=$(grep -c '^ *NOT COVERED ' "$log" || true)
  tested=$((killed + lived))
  rate=-
  [ "$tested" -eq 0 ] || rate=$(awk "BEGIN { printf \"%.1f%%\", 100 * $killed / $tested }")
  summary+=("$(printf '%-26s killed %4d  lived %4d  timed out %3d  not covered %4d  kill rate %s' "$pkg" "$killed" "$lived" "$timedout" "$notcovered" "$rate")")
  { grep '^ *LIVED ' "$log" || true; } | sed "s|^|  $pkg: |" >>"$work/survivors"
done

echo
echo "== kill rate (killed / (killed + lived))"
printf '%s\n' "${summary[@]}"
if [ -s "$work/survivors" ]; then
  echo
  echo "== survivors"
  cat "$work/survivors"
fi
