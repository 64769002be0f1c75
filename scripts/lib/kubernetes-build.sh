# Sourced, not run: how dockerlet's scripts build Go programs from Debian's kubernetes source
# (scripts/build-control-plane.sh unpacks it): the environment of a GOPATH-mode build with the
# source's own vendor tree, and upstream's version ldflags (hack/lib/version.sh).

# kube_build_env <work dir> <cache root>: GOPATH under the work dir, a shared build cache, no
# network, no cgo.
kube_build_env() {
  export GOPATH=$1/gopath
  export PATH=/usr/lib/go/bin:$PATH
  export GO111MODULE=off CGO_ENABLED=0 GOPROXY=off GOFLAGS='' GOENV=off
  export GOCACHE=$2/go-build
  mkdir -p "$2" "$GOCACHE"
}

# kube_upstream_version <debian version>: Debian's 1.20.5+really1.20.2-1.1+deb12u1 is upstream's 1.20.2.
kube_upstream_version() {
  local upstream=${1#*:}
  upstream=${upstream%-*}
  echo "${upstream##*really}"
}

# kube_ldflags <debian version> <source dir>: the -ldflags that stamp upstream's version into
# client-go's and component-base's version packages, as a release build does.
kube_ldflags() {
  local upstream major minor build_date ldflags package
  upstream=$(kube_upstream_version "$1")
  major=${upstream%%.*}
  minor=${upstream#*.}
  minor=${minor%%.*}
  build_date=$(date -u --date="@$(dpkg-parsechangelog -l "$2/debian/changelog" -STimestamp)" +%Y-%m-%dT%H:%M:%SZ)
  ldflags="-s -w -buildid="
  for package in k8s.io/kubernetes/vendor/k8s.io/client-go/pkg/version k8s.io/kubernetes/vendor/k8s.io/component-base/version; do
    ldflags+=" -X '$package.gitVersion=v$upstream' -X '$package.gitMajor=$major' -X '$package.gitMinor=$minor'"
    ldflags+=" -X '$package.gitTreeState=archive' -X '$package.buildDate=$build_date'"
  done
  echo "$ldflags"
}
