#!/usr/bin/env bash
# Builds what Kubernetes' own node conformance tests need, from the same Debian kubernetes source
# the control plane comes from (scripts/build-control-plane.sh, which it runs first), once per
# source version, and prints the directory that holds them:
#   1. test/e2e/generated/bindata.go, which the source tarball lacks: the vendored go-bindata run
#      with hack/generate-bindata.sh's arguments, then gofmt -s, as upstream generates it;
#   2. e2e.test (go test -c ./test/e2e) and agnhost (test/images/agnhost, static), with upstream's
#      version ldflags, and the vendored ginkgo CLI that runs e2e.test on parallel nodes;
#   3. the images the tests run, under the names they ask for (scripts/build-conformance-images.sh).
# Each piece is built only when it is missing. Everything stays under the control plane's cache
# (DOCKERLET_CONTROL_PLANE_CACHE overrides it), except the images, which are Docker's.
# Usage: scripts/build-conformance.sh   (the last line of stdout is the directory)
set -euo pipefail
# shellcheck source=lib/kubernetes-build.sh
source "$(dirname "$0")/lib/kubernetes-build.sh"

CACHE_ROOT=${DOCKERLET_CONTROL_PLANE_CACHE:-/var/cache/dockerlet/control-plane}
BUILD_JOBS=2
say() { echo "build-conformance: $*" >&2; }

bin_dir=$("$(dirname "$0")/build-control-plane.sh" | tail -n1)
if [ "$(id -u)" -ne 0 ]; then
  say "must run as root (it writes the control plane's cache and builds images with Docker)"
  exit 1
fi
work=$(dirname "$bin_dir")
out=$work/conformance
images_script=$(cd "$(dirname "$0")" && pwd)/build-conformance-images.sh

kube_build_env "$work" "$CACHE_ROOT"
src=$GOPATH/src/k8s.io/kubernetes
version=$(basename "$work")
cd "$src"
mkdir -p "$out"

bindata=test/e2e/generated/bindata.go
if [ ! -f "$bindata" ]; then
  say "generating $bindata with the vendored go-bindata"
  go build -o "$work/tools/go-bindata" ./vendor/github.com/go-bindata/go-bindata/go-bindata
  "$work/tools/go-bindata" -nometadata -o "$bindata.tmp" -pkg generated \
    -ignore .jpg -ignore .png -ignore .md -ignore 'BUILD(\.bazel)?' \
    "test/conformance/testdata/..." \
    "test/e2e/testing-manifests/..." \
    "test/e2e_node/testing-manifests/..." \
    "test/images/..." \
    "test/fixtures/..."
  gofmt -s -w "$bindata.tmp"
  mv "$bindata.tmp" "$bindata"
fi

ldflags=$(kube_ldflags "$version" "$src")
# build <binary> <what> <package> <go command...>: builds the package into a temporary file, then
# renames it, so that an interrupted build leaves nothing that looks built.
build() {
  local binary=$1 what=$2 package=$3
  shift 3
  [ -x "$out/$binary" ] && return 0
  say "building $binary ($what)"
  local started=$SECONDS
  "$@" -p "$BUILD_JOBS" -trimpath -o "$out/$binary.tmp" "$package"
  mv "$out/$binary.tmp" "$out/$binary"
  say "built $binary in $((SECONDS - started))s"
}
build e2e.test "v$(kube_upstream_version "$version"), $BUILD_JOBS jobs: about 7 minutes and 1.5 GB of memory cold" ./test/e2e go test -c -ldflags "$ldflags"
build agnhost "static, seconds warm" ./test/images/agnhost go build -ldflags "$ldflags"
build ginkgo "the vendored CLI, to run e2e.test on parallel nodes" ./vendor/github.com/onsi/ginkgo/ginkgo go build

"$images_script" "$src" --agnhost "$out/agnhost" >/dev/null
echo "$out"
