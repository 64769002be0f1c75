#!/usr/bin/env bash
# Builds what Kubernetes' own node conformance tests need, from the same Debian kubernetes source
# the control plane comes from (scripts/build-control-plane.sh, which it runs first), once per
# source version, and prints the directory that holds them:
#   1. test/e2e/generated/bindata.go, which the source tarball lacks: the vendored go-bindata run
#      with hack/generate-bindata.sh's arguments, then gofmt -s, as upstream generates it;
#   2. e2e.test (go test -c ./test/e2e) and agnhost (test/images/agnhost, static), with upstream's
#      version ldflags.
# Everything stays under the control plane's cache (DOCKERLET_CONTROL_PLANE_CACHE overrides it).
# Usage: scripts/build-conformance.sh   (the last line of stdout is the directory)
set -euo pipefail
# shellcheck source=lib/kubernetes-build.sh
source "$(dirname "$0")/lib/kubernetes-build.sh"

CACHE_ROOT=${DOCKERLET_CONTROL_PLANE_CACHE:-/var/cache/dockerlet/control-plane}
BUILD_JOBS=2
say() { echo "build-conformance: $*" >&2; }

bin_dir=$("$(dirname "$0")/build-control-plane.sh" | tail -n1)
work=$(dirname "$bin_dir")
out=$work/conformance
if [ -x "$out/e2e.test" ] && [ -x "$out/agnhost" ]; then
  echo "$out"
  exit 0
fi

kube_build_env "$work" "$CACHE_ROOT"
src=$GOPATH/src/k8s.io/kubernetes
version=$(basename "$work")
cd "$src"

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
rm -rf "$out.tmp"
mkdir -p "$out.tmp"
say "building e2e.test and agnhost v$(kube_upstream_version "$version") ($BUILD_JOBS jobs; about 7 minutes and 1.5 GB of memory cold, seconds warm)"
started=$SECONDS
go test -c -p "$BUILD_JOBS" -trimpath -ldflags "$ldflags" -o "$out.tmp/e2e.test" ./test/e2e
go build -p "$BUILD_JOBS" -trimpath -ldflags "$ldflags" -o "$out.tmp/agnhost" ./test/images/agnhost
rm -rf "$out"
mv "$out.tmp" "$out"
say "built in $((SECONDS - started))s: $("$out/e2e.test" --version 2>/dev/null || true)"
echo "$out"
