#!/usr/bin/env bash
# Sets up this host for dockerlet, idempotently; npm start, npm test and .ci/run all use it.
#   1. Debian's docker.io (with iptables), conntrack (the proxy clears stale UDP entries with it),
#      socat (port forwarding runs it in the pod's network namespace) and busybox-static,
#      installed when missing;
#   2. a Docker daemon, started when none answers;
#   3. the local images (no registry is reachable): dockerlet.local/busybox:1.35 and the pod
#      sandbox image dockerlet.local/pause:3.10, both from busybox-static; with --for-bench (and
#      so --for-tests) also dockerlet.local/node:<version>, busybox plus this host's node binary
#      and its libraries (servers and clients busybox cannot be, such as a UDP echo server or
#      the DNS benchmark's load generator);
#   4. the service CIDR guard: filter-table REJECT rules so that nothing addressed to the
#      service CIDR, or to the test nodes' service range, leaves the host unless a proxy rule
#      rewrote it (see docs/architecture.md).
# With --for-bench it also installs what the benchmarks use (Debian's podman and catatonit, the
# baseline; iperf3 and wrk, the load generators) and builds dockerlet.local/iperf3:<version>
# (busybox plus the host's iperf3, the server side). --for-tests implies --for-bench (the test
# suite smoke-tests the benchmark harness) and adds Debian's docker-registry (with apache2-utils'
# htpasswd, for a registry that wants a login), etcd-server, and
# kube-apiserver and kube-controller-manager (scripts/build-control-plane.sh: about 5 minutes the
# first time on a machine, cached after) for the cluster-mode tests.
set -euo pipefail

SERVICE_CIDR=${DOCKERLET_SERVICE_CIDR:-10.96.0.0/16}
# Where the library's test nodes take their ClusterIPs (library/address-slices.ts), beside it.
TEST_NODE_SERVICE_RANGE=10.97.0.0/16
BUSYBOX_IMAGE=dockerlet.local/busybox:1.35
PAUSE_IMAGE=dockerlet.local/pause:3.10
GUARD_CHAIN=DOCKERLET-SERVICE-GUARD
for_tests=0
for_bench=0
for arg in "$@"; do
  case "$arg" in
    --for-tests) for_tests=1; for_bench=1 ;;
    --for-bench) for_bench=1 ;;
    *) echo "setup-host.sh: unknown argument $arg (use --for-tests or --for-bench)" >&2; exit 2 ;;
  esac
done

say() { echo "setup-host: $*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
  say "must run as root (it installs packages, starts dockerd and programs iptables)"
  exit 1
fi

# 1. Packages.
packages=()
command -v dockerd >/dev/null 2>&1 || packages+=(docker.io)
command -v iptables >/dev/null 2>&1 || packages+=(iptables)
command -v conntrack >/dev/null 2>&1 || packages+=(conntrack)
command -v socat >/dev/null 2>&1 || packages+=(socat)
dpkg -s busybox-static >/dev/null 2>&1 || packages+=(busybox-static)
if [ "$for_tests" = 1 ]; then
  command -v docker-registry >/dev/null 2>&1 || packages+=(docker-registry)
  command -v etcd >/dev/null 2>&1 || packages+=(etcd-server)
  command -v htpasswd >/dev/null 2>&1 || packages+=(apache2-utils)
fi
if [ "$for_bench" = 1 ]; then
  command -v podman >/dev/null 2>&1 || packages+=(podman)
  command -v catatonit >/dev/null 2>&1 || packages+=(catatonit)
  command -v iperf3 >/dev/null 2>&1 || packages+=(iperf3)
  command -v wrk >/dev/null 2>&1 || packages+=(wrk)
fi
if [ "${#packages[@]}" -gt 0 ]; then
  say "installing ${packages[*]} from Debian"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
fi
# The registry and etcd packages start services (:5000, :2379) where an init system runs; tests
# run their own, on ports of their own.
if [ "$for_tests" = 1 ] && command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  systemctl disable --now docker-registry etcd >/dev/null 2>&1 || true
fi

# 2. The Docker daemon.
if ! docker info >/dev/null 2>&1; then
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    say "starting docker.service"
    systemctl start docker
  else
    say "starting dockerd (log: /var/log/dockerd.log)"
    nohup dockerd >>/var/log/dockerd.log 2>&1 </dev/null &
  fi
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 0.5
  done
  if ! docker info >/dev/null 2>&1; then
    say "the Docker daemon did not come up; see /var/log/dockerd.log"
    exit 1
  fi
fi

# 3. Local images, built from busybox-static's single binary.
build_image() { # build_image <tag> <docker import --change>...; EXTRA_FILES: host files to copy in too
  local tag=$1
  shift
  docker image inspect "$tag" >/dev/null 2>&1 && return 0
  local root
  root=$(mktemp -d)
  for file in ${EXTRA_FILES:-}; do
    mkdir -p "$root$(dirname "$file")"
    cp -L "$file" "$root$file"
  done
  mkdir -p "$root/bin" "$root/etc" "$root/tmp" "$root/root" "$root/var/www"
  chmod 1777 "$root/tmp"
  cp /bin/busybox "$root/bin/busybox"
  for applet in $("$root/bin/busybox" --list); do
    [ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
  local changes=(--change 'ENV PATH=/bin')
  for change in "$@"; do changes+=(--change "$change"); done
  tar -C "$root" -c . | docker import "${changes[@]}" - "$tag" >/dev/null
  rm -rf "$root"
  say "built $tag"
}
build_image "$BUSYBOX_IMAGE" 'CMD ["/bin/sh"]'
# The sandbox only holds the pod's namespaces: it sleeps, reaps, and exits at once on TERM.
build_image "$PAUSE_IMAGE" 'ENTRYPOINT ["/bin/sh", "-c", "trap \"exit 0\" TERM INT; while :; do sleep 3600 & wait $!; done"]'
# A host binary and the shared libraries it loads, as ldd lists them.
with_libraries() { echo "$1 $(ldd "$1" | grep -o '/[^ ]*' | tr '\n' ' ')"; }
if [ "$for_bench" = 1 ]; then
  node_bin=$(command -v node)
  EXTRA_FILES=$(with_libraries "$node_bin") \
    build_image "dockerlet.local/node:$(node --version | tr -d v)" "ENV PATH=/bin:$(dirname "$node_bin")"
  EXTRA_FILES=$(with_libraries "$(command -v iperf3)") \
    build_image "dockerlet.local/iperf3:$(dpkg-query -W -f '${Version}' iperf3 | cut -d- -f1)" "ENV PATH=/bin:/usr/bin"
fi

# 4. The service CIDR guard. Packets a proxy rule DNATs no longer carry a service address when
#    they reach the filter table; anything else addressed to the service CIDR is refused here.
iptables -w -N "$GUARD_CHAIN" 2>/dev/null || true
iptables -w -F "$GUARD_CHAIN"
for guarded in "$SERVICE_CIDR" "$TEST_NODE_SERVICE_RANGE"; do
  iptables -w -A "$GUARD_CHAIN" -d "$guarded" -p tcp -j REJECT --reject-with tcp-reset
  iptables -w -A "$GUARD_CHAIN" -d "$guarded" -j REJECT --reject-with icmp-port-unreachable
done
ensure_jump() { # ensure_jump <chain> <match...>
  local chain=$1
  shift
  iptables -w -C "$chain" "$@" -j "$GUARD_CHAIN" 2>/dev/null || iptables -w -I "$chain" 1 "$@" -j "$GUARD_CHAIN"
}
ensure_jump OUTPUT '!' -o lo
ensure_jump FORWARD
# Docker re-inserts its own FORWARD rules on top when it restarts; DOCKER-USER always runs first.
if iptables -w -n -L DOCKER-USER >/dev/null 2>&1; then ensure_jump DOCKER-USER; fi
# 5. For the cluster-mode tests: kube-apiserver and kube-controller-manager, built once per
#    machine from Debian's source and cached outside the repository.
if [ "$for_tests" = 1 ]; then
  say "control plane binaries in $("$(dirname "$0")/build-control-plane.sh" | tail -n1)"
fi
say "ready: $(docker version --format 'Docker {{.Server.Version}}'), images $BUSYBOX_IMAGE $PAUSE_IMAGE, service CIDR guard on $SERVICE_CIDR and $TEST_NODE_SERVICE_RANGE"
