#!/usr/bin/env bash
# The node specs (test/nodes) on every Node-RED version the package claims to support, each on the
# Node it needs:
#   3.1  the newest 3.1.x, on this machine's Node (20): the oldest in package.json's node-red.version
#   4.1  the devDependency, on this machine's Node (20): what `npm test` runs too
#   5    the newest 5.x, on Node 22 (its engines want >= 22.9), from the npm registry's `node` package
# The extra versions are installed at test time into .versions/ (git-ignored) with
# `npm install --no-save --prefix`, so they never become the project's dependencies, and are
# reused while they are still the newest. The specs find the runtime through NODE_RED_PATH and the
# Node for the real Node-RED that package.spec.ts starts through NODE_BIN (see test/nodes/harness.ts).
#
# Usage: scripts/test-versions.sh [3.1|4.1|5 ...]   (default: all three)
# Needs `npm ci` done; builds dist/ if it is missing (CI runs it after `npm test`, which builds).
# Exits non-zero if any version fails, or could not be installed, or ran no test.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VERSIONS=$ROOT/.versions
SPECS='test/nodes/**/*.spec.ts'

[ -x node_modules/.bin/mocha ] || {
  echo "test-versions: node_modules is missing; run npm ci first" >&2
  exit 2
}
mkdir -p "$VERSIONS/logs"
# Two runs at once (a developer's and a hook's) would delete each other's installs mid-test.
exec 9>"$VERSIONS/.lock"
flock 9

# The specs load the built nodes (dist/), as Node-RED does.
if [ ! -d dist/nodes ]; then
  echo "test-versions: dist/ is missing; building it"
  npm run build
fi

# The newest version the registry has for a spec such as node-red@~3.1 (npm lists every match, in
# publication order, so sort); empty when the registry cannot be asked (npm then prints an error
# object, which must not be taken for a version).
newest() {
  local listed
  listed=$(npm view "$1" version --json 2>/dev/null) || return 0
  { grep -Eo '"[0-9]+\.[0-9]+\.[0-9]+"' <<<"$listed" || true; } | tr -d '"' | sort -V | tail -n 1
}

# Installs PACKAGE@VERSION... into DIR unless its stamp says exactly those are there. Prints the
# stamp (what is installed). Returns non-zero when the install fails.
ensure() {
  local dir=$1
  shift
  local wanted=() spec version
  for spec in "$@"; do
    version=$(newest "$spec")
    if [ -z "$version" ]; then
      # Offline: what an earlier run installed still tests something real, and the stamp says what.
      if [ -f "$dir/.stamp" ]; then
        echo "test-versions: could not ask the registry for $spec; using what $dir has" >&2
        cat "$dir/.stamp"
        return 0
      fi
      echo "test-versions: could not ask the registry for $spec, and nothing is installed" >&2
      return 1
    fi
    wanted+=("${spec%@*}@$version")
  done
  if [ -f "$dir/.stamp" ] && [ "$(cat "$dir/.stamp")" = "${wanted[*]}" ] && [ -d "$dir/node_modules" ]; then
    echo "${wanted[*]}"
    return 0
  fi
  echo "test-versions: installing ${wanted[*]} into ${dir#"$ROOT"/}" >&2
  # One npm install for everything: another into the same prefix would prune what is not in it.
  # engine-strict off: npm runs on Node 20 here and installs packages that ask for Node 22.
  rm -rf "$dir"
  mkdir -p "$dir"
  npm install --no-save --no-package-lock --no-audit --no-fund --engine-strict=false \
    --loglevel=error --prefix "$dir" "${wanted[@]}" >&2 || return 1
  # Written last: a killed or failed install leaves no stamp, so the next run installs again.
  echo "${wanted[*]}" >"$dir/.stamp"
  echo "${wanted[*]}"
}

results=()
failed=0
total_passed=0
total_failed=0

# Runs the node specs on the runtime at NODE_RED_DIR (empty: the devDependency) with NODE, and
# records a summary line.
run() {
  local name=$1 node=$2 node_red_dir=$3 setup_s=$4
  local node_version red_version log start seconds status passed failing
  node_version=$("$node" --version)
  red_version=$(NODE_RED_DIR=${node_red_dir:-node_modules/node-red} "$node" -p \
    'require(require("path").resolve(process.env.NODE_RED_DIR, "package.json")).version')
  log=$VERSIONS/logs/$name.log
  echo
  echo "=================== Node-RED $red_version on Node $node_version ==================="
  start=$SECONDS
  # mocha's own bin run by the chosen Node, so that the specs (and tsx's require hook from
  # .mocharc.json) run on it, not on the Node that runs this script.
  if (
    if [ -n "$node_red_dir" ]; then
      export NODE_RED_PATH=$node_red_dir NODE_BIN=$node
    else
      unset NODE_RED_PATH NODE_BIN
    fi
    "$node" node_modules/mocha/bin/mocha.js "$SPECS"
  ) 2>&1 | tee "$log"; then status=0; else status=$?; fi
  seconds=$((SECONDS - start))
  passed=$(sed -n 's/^ *\([0-9][0-9]*\) passing.*/\1/p' "$log" | tail -n 1)
  failing=$(sed -n 's/^ *\([0-9][0-9]*\) failing.*/\1/p' "$log" | tail -n 1)
  passed=${passed:-0}
  failing=${failing:-0}
  total_passed=$((total_passed + passed))
  total_failed=$((total_failed + failing))
  local verdict=ok
  if [ "$status" -ne 0 ] || [ "$failing" -ne 0 ]; then
    verdict=FAIL
  elif [ "$passed" -eq 0 ]; then
    verdict="FAIL (ran no test)"
  fi
  [ "$verdict" = ok ] || failed=1
  results+=("Node-RED $red_version on Node $node_version: $verdict, $passed passed, $failing failed (tests ${seconds} s${setup_s:+, install or cache check $setup_s s}; log ${log#"$ROOT"/})")
}

# A version that could not be installed fails the matrix: it is never left out in silence.
not_installed() {
  failed=1
  results+=("Node-RED $1: FAIL, not installed (see above)")
}

system_node=$(command -v node)
# 3.1 and 4.1 run on this machine's Node; the headers say which, and this says when it is not 20.
[[ "$(node --version)" == v20.* ]] ||
  echo "test-versions: warning: 3.1 and 4.1 are meant to run on Node 20, this is $(node --version)" >&2

selected=("$@")
[ ${#selected[@]} -gt 0 ] || selected=(3.1 4.1 5)
for version in "${selected[@]}"; do
  case $version in
    3.1)
      start=$SECONDS
      if ensure "$VERSIONS/nr3" 'node-red@~3.1' >/dev/null; then
        run nr3 "$system_node" "$VERSIONS/nr3/node_modules/node-red" $((SECONDS - start))
      else
        not_installed "3.1"
      fi
      ;;
    4.1)
      run nr4 "$system_node" "" ""
      ;;
    5)
      start=$SECONDS
      node22=$VERSIONS/nr5/node_modules/node/bin/node
      # The node package puts its binary in place in an install script: make sure it did.
      if ensure "$VERSIONS/nr5" 'node-red@^5' 'node@22' >/dev/null &&
        [[ "$("$node22" --version 2>/dev/null)" == v22.* ]]; then
        run nr5 "$node22" "$VERSIONS/nr5/node_modules/node-red" $((SECONDS - start))
      else
        not_installed "5 (with Node 22)"
      fi
      ;;
    *)
      echo "test-versions: unknown version $version (expected 3.1, 4.1 or 5)" >&2
      exit 2
      ;;
  esac
done

echo
echo "Node-RED version matrix (${SPECS}):"
printf '  %s\n' "${results[@]}"
echo "matrix: $total_passed passed, $total_failed failed"
exit "$failed"
