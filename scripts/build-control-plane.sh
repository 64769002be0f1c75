#!/usr/bin/env bash
# Builds kube-apiserver, kube-controller-manager and kube-scheduler from Debian's kubernetes source package, once
# per source version, and prints the directory that holds them. The tests of cluster mode need a
# real control plane, but Debian 12 builds only kubectl (kubernetes-client) from that source and
# no registry but Debian's and npm's is reachable, so they are built here with Debian's Go. The
# binaries never go into the repository: everything (source, Go build cache, binaries) stays
# under /var/cache/dockerlet/control-plane (DOCKERLET_CONTROL_PLANE_CACHE overrides it).
#   1. a deb-src entry for the Debian archives the host already uses, added when missing;
#   2. Debian's golang-go, dpkg-dev and golang-github-modern-go-reflect2-dev, installed when missing;
#   3. the source, from `apt-get source kubernetes`, unpacked as $GOPATH/src/k8s.io/kubernetes
#      (it builds in GOPATH mode with its own vendor tree), with two gaps filled and one upstream
#      bug fixed:
#      - the vendored github.com/modern-go/reflect2 1.0.1 breaks at run time under Go >= 1.18,
#        so Debian's 1.0.2 replaces it;
#      - pkg/generated/openapi/zz_generated.openapi.go is not in the tarball (upstream generates
#        it at build time), so the vendored openapi-gen generates it with the inputs and flags
#        of Makefile.generated_files;
#      - the node lifecycle controller of some 1.18 to 1.20 releases (1.20 before 1.20.5 among
#        them) may stop tainting failed nodes NoExecute until it restarts, so their pods are not
#        evicted (kubernetes/kubernetes#94183): upstream's fix (kubernetes/kubernetes#96876, in
#        1.20.5) is applied; Debian's "1.20.5+really1.20.2" is 1.20.2's source;
#   4. the commands, built with CGO_ENABLED=0 and upstream's tags and version ldflags.
# If every binary of the current source version is already built, with the fixes of step 3, it
# prints at once.
# Usage: scripts/build-control-plane.sh   (the last line of stdout is the bin directory)
#        scripts/build-control-plane.sh --source-fixes   (prints what a build records in
#        <bin dir>/.source-fixes: binaries whose record differs were built before a fix)
set -euo pipefail

# What step 3 changes in the source, recorded beside the binaries: binaries built before a fix
# was added here are built again. Only the words are compared: change a fix's word when what it
# changes changes.
SOURCE_FIXES="reflect2-1.0.2 openapi noexecute-taint-queue"
case "${1-}" in
  --source-fixes) echo "$SOURCE_FIXES"; exit 0 ;;
  "") ;;
  *) echo "usage: $0 [--source-fixes]" >&2; exit 2 ;;
esac

# shellcheck source=lib/kubernetes-build.sh
source "$(dirname "$0")/lib/kubernetes-build.sh"

CACHE_ROOT=${DOCKERLET_CONTROL_PLANE_CACHE:-/var/cache/dockerlet/control-plane}
COMMANDS=(kube-apiserver kube-controller-manager kube-scheduler)
DEB_SRC_FILE=/etc/apt/sources.list.d/dockerlet-deb-src
REFLECT2_DEBIAN=/usr/share/gocode/src/github.com/modern-go/reflect2
BUILD_JOBS=2

say() { echo "build-control-plane: $*" >&2; }

# The version `apt-get source kubernetes` would fetch, empty when no deb-src entry offers it.
source_version() {
  { apt-get source --print-uris -qq kubernetes 2>/dev/null || true; } | sed -n 's/.* kubernetes_\(.*\)\.dsc .*/\1/p' | head -n1
}
built() { # built <bin dir>
  local command
  for command in "${COMMANDS[@]}"; do [ -x "$1/$command" ] || return 1; done
  [ "$(cat "$1/.source-fixes" 2>/dev/null)" = "$SOURCE_FIXES" ]
}

version=$(source_version)
if [ -n "$version" ] && built "$CACHE_ROOT/$version/bin"; then
  echo "$CACHE_ROOT/$version/bin"
  exit 0
fi

stale=""
if [ -n "$version" ] && [ -x "$CACHE_ROOT/$version/bin/kube-apiserver" ]; then
  stale="the control plane in $CACHE_ROOT/$version/bin is incomplete or was built without the fixes '$SOURCE_FIXES'"
fi
if [ "$(id -u)" -ne 0 ]; then
  if [ -n "$stale" ]; then
    say "$stale; run $0 as root once to build it again (faster than the first build: the Go build cache is kept)"
  else
    say "must run as root (it adds a deb-src entry, installs packages and writes $CACHE_ROOT)"
  fi
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive

# One build at a time on a host (two cluster ups, a test run beside one): the second waits, then
# finds the binaries built.
mkdir -p "$CACHE_ROOT"
exec 9>"$CACHE_ROOT/.build.lock"
if ! flock -n 9; then
  say "another build of the control plane runs; waiting for it"
  flock 9
fi
if [ -n "$version" ] && built "$CACHE_ROOT/$version/bin"; then
  echo "$CACHE_ROOT/$version/bin"
  exit 0
fi
if [ -n "$stale" ]; then say "$stale: building it again"; fi

# 1. A deb-src entry for the Debian archives already in use: deb822 stanzas (.sources) and
#    one-line entries (.list) whose URIs are Debian's, with deb turned into deb-src.
if [ -z "$version" ]; then
  if ! grep -qsE '^[[:space:]]*deb-src[[:space:]]|^Types:.*deb-src' /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
    /etc/apt/sources.list.d/*.sources; then
    say "adding deb-src entries for Debian's archives ($DEB_SRC_FILE.*)"
    stanzas=$(for file in /etc/apt/sources.list.d/*.sources; do
      [ -f "$file" ] || continue
      awk 'BEGIN { RS = ""; ORS = "\n\n" }
        /(^|\n)Types:[^\n]*deb([ \t\n]|$)/ && /(^|\n)URIs:[^\n]*debian\.org/ && !/(^|\n)Enabled:[ \t]*no/ {
          gsub(/(^|\n)Types:[^\n]*/, "\nTypes: deb-src"); sub(/^\n/, ""); print }' "$file"
    done)
    lines=$(for file in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
      if [ -f "$file" ]; then sed -n 's/^[ \t]*deb\([ \t].*debian\.org.*\)/deb-src\1/p' "$file"; fi
    done | sort -u)
    if [ -z "$stanzas" ] && [ -z "$lines" ]; then
      say "found no Debian archive in /etc/apt/sources.list{,.d/} to take deb-src entries from"
      exit 1
    fi
    if [ -n "$stanzas" ]; then printf '%s\n' "$stanzas" >"$DEB_SRC_FILE.sources"; fi
    if [ -n "$lines" ]; then printf '%s\n' "$lines" >"$DEB_SRC_FILE.list"; fi
  fi
  say "updating apt's lists"
  apt-get update -qq
  version=$(source_version)
  if [ -z "$version" ]; then
    say "apt-get source kubernetes offers no version, even with deb-src entries"
    exit 1
  fi
  if built "$CACHE_ROOT/$version/bin"; then
    echo "$CACHE_ROOT/$version/bin"
    exit 0
  fi
fi

# 2. Packages.
packages=()
for package in golang-go dpkg-dev golang-github-modern-go-reflect2-dev; do
  dpkg -s "$package" >/dev/null 2>&1 || packages+=("$package")
done
if [ "${#packages[@]}" -gt 0 ]; then
  say "installing ${packages[*]} from Debian"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
fi

work=$CACHE_ROOT/$version
bin_dir=$work/bin
export GOPATH=$work/gopath
src=$GOPATH/src/k8s.io/kubernetes
# Debian's Go first, whatever else is on PATH; GOPATH mode, no cgo, no network, no user settings.
export PATH=/usr/lib/go/bin:$PATH
export GO111MODULE=off CGO_ENABLED=0 GOPROXY=off GOFLAGS='' GOENV=off
export GOCACHE=$CACHE_ROOT/go-build
mkdir -p "$CACHE_ROOT" "$GOCACHE"

# 3. The source. apt-get source unpacks it (with Debian's patches) into a scratch directory,
#    which moves into place whole, so an interrupted run leaves no half-unpacked tree.
if [ ! -d "$src" ]; then
  say "fetching and unpacking Debian's kubernetes $version source"
  rm -rf "$work/download"
  mkdir -p "$work/download" "$(dirname "$src")"
  # apt downloads as _apt when that user can write here, and warns otherwise.
  if id _apt >/dev/null 2>&1; then chown _apt "$work/download"; fi
  (cd "$work/download" && apt-get source -qq kubernetes="$version" >/dev/null 2>&1) || {
    say "apt-get source kubernetes=$version failed; rerun by hand to see why:"
    say "  cd $work/download && apt-get source kubernetes=$version"
    exit 1
  }
  unpacked=$(find "$work/download" -mindepth 1 -maxdepth 1 -type d -name 'kubernetes-*')
  mv "$unpacked" "$src"
  rm -rf "$work/download"
fi
cd "$src"

if ! cmp -s "$REFLECT2_DEBIAN/reflect2.go" vendor/github.com/modern-go/reflect2/reflect2.go; then
  say "replacing the vendored modern-go/reflect2 with Debian's $(dpkg-query -W -f '${Version}' golang-github-modern-go-reflect2-dev)"
  rm -f vendor/github.com/modern-go/reflect2/*.go vendor/github.com/modern-go/reflect2/*.s
  cp -L "$REFLECT2_DEBIAN"/*.go "$REFLECT2_DEBIAN"/*.s vendor/github.com/modern-go/reflect2/
fi

# Each pass that sees a node NotReady takes the node out of the NoExecute tainter's dedup set but
# leaves its earlier entry in the queue, so a node NotReady while the tainter waits for its rate
# limiter gets copies. Once it is Ready, one copy stays at the queue's head until that same node
# fails, and meanwhile no other node of its zone is tainted NoExecute. Nodes that start NotReady
# together (dockerlet nodes waiting for their pod subnets) trip it. Upstream's fix
# (kubernetes/kubernetes#96876) takes the node out of both; no SetRemove call is left after it.
lifecycle=pkg/controller/nodelifecycle/node_lifecycle_controller.go
if [ ! -f "$lifecycle" ]; then
  say "$lifecycle is not in this source: the step that fixes the NoExecute taint queue needs updating"
  exit 1
fi
if grep -q 'zoneNoExecuteTainter\[.*\]\.SetRemove(node\.Name)' "$lifecycle"; then
  say "applying upstream's fix of the NoExecute taint queue to $lifecycle"
  sed -i 's/\(zoneNoExecuteTainter\[.*\]\)\.SetRemove(node\.Name)/\1.Remove(node.Name)/' "$lifecycle"
fi
if grep -q '\.SetRemove(' "$lifecycle"; then
  say "$lifecycle still calls SetRemove: upstream's fix of the NoExecute taint queue did not apply to this source; this step needs updating"
  exit 1
fi

openapi_file=pkg/generated/openapi/zz_generated.openapi.go
if [ ! -f "$work/openapi.done" ]; then
  say "building openapi-gen and generating $openapi_file"
  go build -p "$BUILD_JOBS" -o "$work/tools/openapi-gen" ./vendor/k8s.io/kube-openapi/cmd/openapi-gen
  # As Makefile.generated_files does for its KUBE target: every directory of the tree (staging
  # named as its vendor/ alias, the rest of vendor/ left out) with a Go file carrying a
  # '// +k8s:' tag line and a +k8s:openapi-gen= tag, but code-generator and sample-apiserver.
  input_dirs=$(find -H . \( -path './_*' -o -path './.*' -o -path ./vendor \) -prune -o \
    -type f -name '*.go' -print0 |
    xargs -0 awk 'FNR == 1 { tag = gen = done = 0 } /^\/\/ *\+k8s:/ { tag = 1 } /\+k8s:openapi-gen=/ { gen = 1 }
      tag && gen && !done { print FILENAME; done = 1 }' |
    sed -e 's|^\./||' -e 's|/[^/]*$||' -e 's|^staging/src/|vendor/|' |
    grep -v -e '^vendor/k8s.io/code-generator/' -e '^vendor/k8s.io/sample-apiserver/' |
    LC_ALL=C sort -u | sed 's|^|k8s.io/kubernetes/|' | paste -sd, -)
  rm -f "$openapi_file"
  "$work/tools/openapi-gen" \
    --logtostderr \
    --input-dirs "$input_dirs" \
    --output-package k8s.io/kubernetes/pkg/generated/openapi \
    --output-file-base zz_generated.openapi \
    --go-header-file vendor/k8s.io/code-generator/hack/boilerplate.go.txt \
    --report-filename "$work/openapi-violations.report" 2>"$work/openapi-gen.log" || {
    say "openapi-gen failed; see $work/openapi-gen.log"
    exit 1
  }
  # Upstream fails when the API rule report differs from its known list; here it only tells,
  # since it would mean the inputs above drifted from upstream's.
  if ! diff -q "$work/openapi-violations.report" api/api-rules/violation_exceptions.list >/dev/null; then
    say "warning: openapi-gen's API rule report differs from api/api-rules/violation_exceptions.list"
  fi
  touch "$work/openapi.done"
fi

# 4. The commands, with upstream's build tags and version ldflags (hack/lib/golang.sh and
#    hack/lib/version.sh). Debian's version 1.20.5+really1.20.2-... is upstream's v1.20.2.
upstream=$(kube_upstream_version "$version")
ldflags=$(kube_ldflags "$version" "$src")
say "building ${COMMANDS[*]} v$upstream with $(go version | cut -d' ' -f3) ($BUILD_JOBS jobs; 5 to 15 minutes cold, seconds warm)"
rm -rf "$work/bin.tmp"
mkdir -p "$work/bin.tmp" "$bin_dir"
started=$SECONDS
go build -p "$BUILD_JOBS" -trimpath -tags selinux,notest -ldflags "$ldflags" -o "$work/bin.tmp/" \
  "${COMMANDS[@]/#/./cmd/}"
for command in "${COMMANDS[@]}"; do mv "$work/bin.tmp/$command" "$bin_dir/$command"; done
rmdir "$work/bin.tmp"
echo "$SOURCE_FIXES" > "$bin_dir/.source-fixes"
say "built in $((SECONDS - started))s: $("$bin_dir/kube-apiserver" --version)"
echo "$bin_dir"
