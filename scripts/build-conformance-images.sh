#!/usr/bin/env bash
# Builds, on this host, the container images that Kubernetes' [NodeConformance] e2e tests run,
# under the names the tests ask for, since no registry but Debian's and npm's is reachable. The
# names come from the source tree's test/utils/image/manifest.go (for v1.20.2):
#   agnhost      k8s.gcr.io/e2e-test-images/agnhost:2.21   the given agnhost binary on the Debian
#                base, laid out as test/images/agnhost/Dockerfile does (/agnhost, /agnhost-2,
#                porter's certificate, /uploads, ports 80 8080 8081 9376, ENTRYPOINT /agnhost,
#                CMD pause); no CoreDNS (Debian 12 has no package of it; only DNS tests use it);
#   busybox      docker.io/library/busybox:1.29             Debian's busybox-static and its
#                applet links in /bin, as the official image lays them out;
#   nginx        docker.io/library/nginx:1.14-alpine        Debian's nginx-light on the Debian
#                base, serving its default page on port 80 (IPv4 only: a pod may have no IPv6),
#                in the foreground, logging to stdout and stderr;
#   nonewprivs   gcr.io/kubernetes-e2e-test-images/nonewprivs:1.0
#                test/images/nonewprivs built with Go, setuid and setgid root at
#                /usr/local/bin/nnp on the busybox layout, CMD nnp (as its Dockerfile says);
#   pause        k8s.gcr.io/pause:3.2                       build/pause/linux/pause.c compiled
#                statically with gcc, alone in the image, ENTRYPOINT /pause.
# The Debian base (dockerlet.local/debian-conformance-base:<codename>) is debootstrap's minbase
# of the host's release, from the mirror the host's apt sources name, plus what agnhost's
# Dockerfile installs (curl, netcat-openbsd, iproute2, dnsutils, iperf, bash) and nginx-light,
# without apt lists, caches or documentation. It is the slow step (40 s to a few minutes, with
# the mirror's speed) and is kept, so it runs once per machine. Packages this needs (debootstrap, gcc, libc6-dev, busybox-static,
# golang-go) are installed from Debian when missing.
# Every image is built only when its tag is missing (--force rebuilds all, the base included, and
# removes the images it replaced if they were this script's and nothing uses them). All carry
# the label dockerlet.local/built-by=build-conformance-images. Work files live in one temporary
# directory, removed on exit; images are made with `docker import` of a tarball, or with
# `docker build --force-rm` of a temporary context that has no RUN step.
# Usage: scripts/build-conformance-images.sh <kubernetes source dir> [--agnhost <static binary>] [--force]
#   --agnhost is needed only when the agnhost image is missing (or with --force). Build it with
#   (GOPATH mode, in the source tree):  CGO_ENABLED=0 GO111MODULE=off go build -o agnhost ./test/images/agnhost
# Progress and the summary go to stderr; stdout gets the five image names, one a line.
# DOCKERLET_DEBIAN_MIRROR overrides the mirror taken from the apt sources.
set -euo pipefail
set -o errtrace

BUILT_BY_LABEL=dockerlet.local/built-by=build-conformance-images
LOCK_FILE=/run/lock/dockerlet-build-conformance-images.lock
GO_CACHE=${DOCKERLET_CONTROL_PLANE_CACHE:-/var/cache/dockerlet/control-plane}/go-build
# What test/images/agnhost/Dockerfile installs (bind-tools is dnsutils here), and nginx.
BASE_PACKAGES=(bash curl netcat-openbsd iproute2 dnsutils iperf nginx-light)
# PATH as the official busybox and nginx images set it.
IMAGE_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
# The images, by their manifest.go key, in build order.
KEYS=(Agnhost BusyBox Nginx Nonewprivs Pause)

say() { echo "build-conformance-images: $*" >&2; }
die() {
  say "$*"
  exit 1
}
usage() { sed -n 's/^# Usage: scripts\//usage: /p; /^#   --agnhost/,/^#   (GOPATH/s/^#//p' "$0" >&2; }

src=""
agnhost_bin=""
force=0
while [ $# -gt 0 ]; do
  case "$1" in
    --agnhost)
      [ $# -ge 2 ] || { say "--agnhost needs a path"; usage; exit 2; }
      agnhost_bin=$2
      shift 2
      ;;
    --agnhost=*) agnhost_bin=${1#*=}; shift ;;
    --force) force=1; shift ;;
    -h | --help) usage; exit 0 ;;
    -*) say "unknown option $1"; usage; exit 2 ;;
    *)
      [ -z "$src" ] || { say "unexpected argument $1 (the source dir is already $src)"; usage; exit 2; }
      src=$1
      shift
      ;;
  esac
done
if [ -z "$src" ]; then
  say "missing the Kubernetes source dir (scripts/build-control-plane.sh unpacks it as <cache>/gopath/src/k8s.io/kubernetes)"
  usage
  exit 2
fi

if [ "$(id -u)" -ne 0 ]; then
  die "must run as root (it installs packages, runs debootstrap and talks to dockerd)"
fi
# One run at a time: two would build the same tags at once.
mkdir -p "$(dirname "$LOCK_FILE")"
exec 9>"$LOCK_FILE"
if ! flock -n 9; then
  say "waiting for another run to finish ($LOCK_FILE)"
  flock 9
fi

src_arg=$src
src=$(cd "$src" 2>/dev/null && pwd) || die "no such directory: $src_arg"
manifest=$src/test/utils/image/manifest.go
[ -f "$manifest" ] || die "$src is not a Kubernetes source tree: no test/utils/image/manifest.go"
docker info >/dev/null 2>&1 || die "no Docker daemon answers (scripts/setup-host.sh starts one)"

# manifest_image <key>: the image the tests run for configs[<key>] (its registry variable's
# default in initReg, as when KUBE_TEST_REPO_LIST is unset).
manifest_image() {
  local fields registry_var name version registry
  fields=$(sed -nE "s/^[[:space:]]*configs\[$1\][[:space:]]*=[[:space:]]*Config\{([A-Za-z0-9]+),[[:space:]]*\"([^\"]+)\",[[:space:]]*\"([^\"]+)\"\}.*/\1 \2 \3/p" "$manifest")
  read -r registry_var name version <<<"$fields" || true
  [ -n "${version:-}" ] || die "$manifest has no configs[$1] = Config{registry, \"name\", \"version\"}"
  registry=$(sed -nE "s/^[[:space:]]*${registry_var^}:[[:space:]]*\"([^\"]+)\",?[[:space:]]*$/\1/p" "$manifest" | head -n1)
  [ -n "$registry" ] || die "$manifest: no default for $registry_var (${registry_var^}) in initReg"
  echo "$registry/$name:$version"
}
invalid_registry=$(sed -nE 's/^[[:space:]]*InvalidRegistry:[[:space:]]*"([^"]+)".*/\1/p' "$manifest" | head -n1)
declare -A image
for key in "${KEYS[@]}"; do
  image[$key]=$(manifest_image "$key")
  case "${image[$key]}" in
    "${invalid_registry:-invalid.com/invalid}"/*) die "configs[$key] is on the invalid registry (${image[$key]}); refusing to build it" ;;
  esac
done

# The Debian base: the host's release, from the host's mirror.
# shellcheck source=/dev/null
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
[ -n "$codename" ] || die "/etc/os-release names no VERSION_CODENAME; this builds the Debian base of the host's release"
BASE_IMAGE=dockerlet.local/debian-conformance-base:$codename

# debian_mirror: the first URI of an enabled deb source for <codename> in the host's apt sources
# (deb822 .sources stanzas, then one-line entries).
debian_mirror() {
  local uri file
  if [ -n "${DOCKERLET_DEBIAN_MIRROR:-}" ]; then
    echo "$DOCKERLET_DEBIAN_MIRROR"
    return
  fi
  for file in /etc/apt/sources.list.d/*.sources; do
    [ -f "$file" ] || continue
    uri=$(awk -v suite="$codename" 'BEGIN { RS = ""; FS = "\n" }
      {
        types = uris = suites = ""; enabled = 1
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^Types:/) types = " " substr($i, 7) " "
          else if ($i ~ /^URIs:/) uris = substr($i, 6)
          else if ($i ~ /^Suites:/) suites = " " substr($i, 8) " "
          else if ($i ~ /^Enabled:[ \t]*no/) enabled = 0
        }
        gsub(/[ \t]+/, " ", types); gsub(/[ \t]+/, " ", suites)
        if (enabled && types ~ / deb / && suites ~ (" " suite " ")) { split(uris, u, " "); if (u[1] != "") { print u[1]; exit } }
      }' "$file")
    if [ -n "$uri" ]; then
      echo "$uri"
      return
    fi
  done
  for file in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$file" ] || continue
    uri=$(sed -nE "s/^[[:space:]]*deb[[:space:]]+(\[[^]]*\][[:space:]]+)?([^[:space:]]+)[[:space:]]+${codename}[[:space:]].*/\2/p" "$file" | head -n1)
    if [ -n "$uri" ]; then
      echo "$uri"
      return
    fi
  done
}

present() { docker image inspect "$1" >/dev/null 2>&1; }
image_id() { docker image inspect -f '{{.Id}}' "$1" 2>/dev/null || true; }

# What to build.
declare -A status
todo=()
for key in "${KEYS[@]}"; do
  if [ "$force" = 1 ] || ! present "${image[$key]}"; then
    todo+=("$key")
    status[$key]=missing
  else
    status[$key]=present
  fi
done
needs() { [ "${status[$1]}" = missing ]; }
need_base=0
if needs Agnhost || needs Nginx; then
  if [ "$force" = 1 ] || ! present "$BASE_IMAGE"; then need_base=1; fi
fi

# Fail before any slow step on what is missing from the command line.
if needs Agnhost; then
  [ -n "$agnhost_bin" ] || die "${image[Agnhost]} is missing: pass --agnhost <path>, a static agnhost built from $src/test/images/agnhost"
  if [ ! -f "$agnhost_bin" ] || [ ! -x "$agnhost_bin" ]; then die "--agnhost $agnhost_bin: not an executable file"; fi
  [ "$(head -c4 "$agnhost_bin" | od -An -c | tr -d ' ')" = '177ELF' ] || die "--agnhost $agnhost_bin: not an ELF binary"
  if ! { ldd "$agnhost_bin" 2>&1 || true; } | grep -qE 'not a dynamic executable|statically linked'; then
    die "--agnhost $agnhost_bin is dynamically linked; build it with CGO_ENABLED=0"
  fi
fi
for key in Pause Nonewprivs; do
  if needs "$key"; then
    case $key in
      Pause) file=$src/build/pause/linux/pause.c ;;
      Nonewprivs) file=$src/test/images/nonewprivs/nnp.go ;;
    esac
    [ -f "$file" ] || die "${image[$key]} is missing and $file, its source, is not there"
  fi
done
if [ "$need_base" = 1 ]; then
  mirror=$(debian_mirror)
  [ -n "$mirror" ] || die "found no deb source for $codename in /etc/apt/sources.list{,.d/} (set DOCKERLET_DEBIAN_MIRROR)"
fi

if [ "${#todo[@]}" -eq 0 ]; then
  say "all ${#KEYS[@]} images present (--force rebuilds them)"
fi

# Packages.
packages=()
if [ "$need_base" = 1 ]; then command -v debootstrap >/dev/null 2>&1 || packages+=(debootstrap); fi
if needs Pause; then
  command -v gcc >/dev/null 2>&1 || packages+=(gcc)
  dpkg -s libc6-dev >/dev/null 2>&1 || packages+=(libc6-dev)
fi
if needs BusyBox || needs Nonewprivs; then dpkg -s busybox-static >/dev/null 2>&1 || packages+=(busybox-static); fi
if needs Nonewprivs; then [ -x /usr/lib/go/bin/go ] || packages+=(golang-go); fi
if [ "${#packages[@]}" -gt 0 ]; then
  say "installing ${packages[*]} from Debian"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
fi

# Work files, and their removal whatever happens. Mounts under it (debootstrap's, if it was
# interrupted) go first, and rm stays on this file system.
work=""
cleanup() {
  [ -n "$work" ] && [ -d "$work" ] || return 0
  local mount_point
  awk -v dir="$work/" 'index($2, dir) == 1 { print $2 }' /proc/self/mounts | sort -r | while read -r mount_point; do
    umount -l "$mount_point" 2>/dev/null || true
  done
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT
trap 'say "failed (line $LINENO: $BASH_COMMAND)${current:+ while building $current}"' ERR
work=$(mktemp -d "${TMPDIR:-/var/tmp}/dockerlet-conformance-images.XXXXXX")
current=""

# import_root <dir> <tag> <Dockerfile instruction>...: the directory as a single-layer image.
import_root() {
  local dir=$1 tag=$2 change
  shift 2
  local changes=(--change "LABEL $BUILT_BY_LABEL")
  for change in "$@"; do changes+=(--change "$change"); done
  tar --numeric-owner -C "$dir" -c . | docker import "${changes[@]}" - "$tag" >/dev/null
}
# build_context <dir> <tag>: docker build of a context whose Dockerfile has no RUN step.
build_context() {
  if ! DOCKER_BUILDKIT=0 docker build --force-rm --quiet --label "$BUILT_BY_LABEL" -t "$2" "$1" >"$work/build.log" 2>&1; then
    sed 's/^/  /' "$work/build.log" >&2
    die "docker build of $2 failed"
  fi
}
# busybox_root <dir>: busybox-static with every applet linked in /bin, and the official image's
# users, groups and directories.
busybox_root() {
  local root=$1 applet
  mkdir -p "$root"/{bin,dev,etc,home,proc,root,sys,tmp,usr/sbin,var/spool/mail,var/www}
  chmod 1777 "$root/tmp"
  chmod 700 "$root/root"
  cp /bin/busybox "$root/bin/busybox"
  for applet in $("$root/bin/busybox" --list); do
    [ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"
  done
  cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
sync:x:4:100:sync:/bin:/bin/sync
mail:x:8:8:mail:/var/spool/mail:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
operator:x:37:37:Operator:/var:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
EOF
  cat >"$root/etc/group" <<'EOF'
root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
adm:x:4:
tty:x:5:
disk:x:6:
wheel:x:10:root
mail:x:12:
www-data:x:33:
users:x:100:
nogroup:x:65534:
EOF
}

build_base() {
  local root=$work/base log=$work/debootstrap.log
  say "  base $BASE_IMAGE: debootstrap --variant=minbase $codename from $mirror (the slow step, once per machine)"
  if ! debootstrap --variant=minbase --components=main "$codename" "$root" "$mirror" >"$log" 2>&1; then
    tail -n 20 "$log" | sed 's/^/  /' >&2
    die "debootstrap of $codename from $mirror failed"
  fi
  # Packages through apt in the new root, with no service started (policy-rc.d says no).
  printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
  chmod 755 "$root/usr/sbin/policy-rc.d"
  cp -L /etc/resolv.conf "$root/etc/resolv.conf"
  say "  base $BASE_IMAGE: installing ${BASE_PACKAGES[*]}"
  if ! { chroot "$root" apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive chroot "$root" apt-get install -y -qq --no-install-recommends "${BASE_PACKAGES[@]}" &&
    chroot "$root" apt-get clean; } >"$log" 2>&1; then
    tail -n 20 "$log" | sed 's/^/  /' >&2
    die "installing ${BASE_PACKAGES[*]} in the $codename root failed"
  fi
  rm -f "$root/usr/sbin/policy-rc.d" "$root/etc/resolv.conf" "$root/etc/hostname"
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/var/cache/debconf/*-old \
    "$root"/var/lib/dpkg/*-old "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* \
    "$root"/usr/share/locale/* "$root"/tmp/* "$root"/var/tmp/*
  find "$root/var/log" -type f -delete
  [ ! -f "$root/etc/machine-id" ] || : >"$root/etc/machine-id"
  import_root "$root" "$BASE_IMAGE" "ENV PATH=$IMAGE_PATH" 'CMD ["bash"]'
  rm -rf --one-file-system "$root"
}

build_agnhost() {
  local ctx=$work/agnhost
  mkdir -p "$ctx/rootfs/uploads" "$ctx/rootfs/usr/local/bin"
  cp "$agnhost_bin" "$ctx/rootfs/agnhost"
  chmod 755 "$ctx/rootfs/agnhost"
  # entrypoint-tester's tests run /agnhost-2 in place of the entrypoint.
  ln -s agnhost "$ctx/rootfs/agnhost-2"
  cp "$src/test/images/agnhost/porter/localhost.crt" "$src/test/images/agnhost/porter/localhost.key" "$ctx/rootfs/"
  ln -s /usr/bin/iperf "$ctx/rootfs/usr/local/bin/iperf"
  cat >"$ctx/Dockerfile" <<EOF
FROM $BASE_IMAGE
COPY rootfs/ /
# 80: test-webserver; 8080: netexec, nettest, resource-consumer; 8081: netexec; 9376: serve-hostname
EXPOSE 80 8080 8081 9376
ENTRYPOINT ["/agnhost"]
CMD ["pause"]
EOF
  build_context "$ctx" "${image[Agnhost]}"
}

build_busybox() {
  busybox_root "$work/busybox"
  import_root "$work/busybox" "${image[BusyBox]}" "ENV PATH=$IMAGE_PATH" 'CMD ["sh"]'
}

build_nginx() {
  local ctx=$work/nginx
  mkdir -p "$ctx/rootfs/etc/nginx/sites-available" "$ctx/rootfs/var/log/nginx"
  # Debian's default site without its [::]:80 listener: nginx exits when a pod has no IPv6.
  cat >"$ctx/rootfs/etc/nginx/sites-available/default" <<'EOF'
server {
	listen 80 default_server;
	root /var/www/html;
	index index.html index.htm index.nginx-debian.html;
	server_name _;
	location / {
		try_files $uri $uri/ =404;
	}
}
EOF
  ln -s /dev/stdout "$ctx/rootfs/var/log/nginx/access.log"
  ln -s /dev/stderr "$ctx/rootfs/var/log/nginx/error.log"
  cat >"$ctx/Dockerfile" <<EOF
FROM $BASE_IMAGE
COPY rootfs/ /
EXPOSE 80
STOPSIGNAL SIGTERM
CMD ["nginx", "-g", "daemon off;"]
EOF
  build_context "$ctx" "${image[Nginx]}"
}

build_nonewprivs() {
  local root=$work/nonewprivs gopath=""
  busybox_root "$root"
  mkdir -p "$root/usr/local/bin" "$GO_CACHE"
  case "$src" in */src/k8s.io/kubernetes) gopath=${src%/src/k8s.io/kubernetes} ;; esac
  (cd "$src/test/images/nonewprivs" &&
    PATH=/usr/lib/go/bin:$PATH GOPATH=${gopath:-$work/gopath} GO111MODULE=off CGO_ENABLED=0 GOPROXY=off GOFLAGS='' \
      GOENV=off GOCACHE=$GO_CACHE go build -trimpath -ldflags '-s -w' -o "$root/usr/local/bin/nnp" .)
  # As its Dockerfile: chmod +s, so that nnp shows whether privilege escalation happened.
  chmod 6755 "$root/usr/local/bin/nnp"
  import_root "$root" "${image[Nonewprivs]}" "ENV PATH=$IMAGE_PATH" 'CMD ["nnp"]'
}

build_pause() {
  local dir=$work/pause tag
  mkdir -p "$dir/root"
  tag=$(sed -nE 's/^TAG[[:space:]]*\??=[[:space:]]*([^[:space:]]+).*/\1/p' "$src/build/pause/Makefile" 2>/dev/null | head -n1)
  # build/pause/Makefile's CFLAGS; linux/orphan.c beside it is a test helper, not in the image.
  gcc -Os -Wall -Werror -static -DVERSION="v${tag:-unknown}-dockerlet" -o "$dir/root/pause" "$src/build/pause/linux/pause.c"
  strip "$dir/root/pause"
  import_root "$dir/root" "${image[Pause]}" 'ENTRYPOINT ["/pause"]'
}

started=$SECONDS
replaced=() # image ids a --force run untagged, removed at the end
index=0
for key in "${KEYS[@]}"; do
  index=$((index + 1))
  tag=${image[$key]}
  if ! needs "$key"; then
    say "[$index/${#KEYS[@]}] $tag: present"
    continue
  fi
  say "[$index/${#KEYS[@]}] $tag: building"
  step_started=$SECONDS
  if { [ "$key" = Agnhost ] || [ "$key" = Nginx ]; } && [ "$need_base" = 1 ]; then
    current=$BASE_IMAGE
    old=$(image_id "$BASE_IMAGE")
    build_base
    say "  base $BASE_IMAGE: built in $((SECONDS - step_started))s"
    [ -z "$old" ] || replaced+=("$old")
    need_base=0
  fi
  current=$tag
  old=$(image_id "$tag")
  "build_${key,,}"
  status[$key]="built in $((SECONDS - step_started))s"
  [ -z "$old" ] || replaced+=("$old")
done
current=""

# Images a --force run replaced: removed when they carry this script's label, have no tag left
# and no container uses them; the newest first, so that a child goes before its base.
for ((i = ${#replaced[@]} - 1; i >= 0; i--)); do
  id=${replaced[$i]}
  [ "$(docker image inspect -f '{{len .RepoTags}}' "$id" 2>/dev/null || echo gone)" = 0 ] || continue
  [ "$(docker image inspect -f '{{index .Config.Labels "dockerlet.local/built-by"}}' "$id" 2>/dev/null)" = build-conformance-images ] || continue
  if docker image rm "$id" >/dev/null 2>&1; then
    say "removed the replaced image ${id#sha256:}"
  else
    say "kept the replaced image ${id#sha256:} (in use)"
  fi
done

say "summary ($((SECONDS - started))s):"
for key in "${KEYS[@]}"; do
  size=$(docker image inspect -f '{{.Size}}' "${image[$key]}")
  say "$(printf '  %-52s %7.1f MB  %s' "${image[$key]}" "$(awk -v b="$size" 'BEGIN { print b / 1000000 }')" "${status[$key]}")"
done
if present "$BASE_IMAGE"; then
  say "$(printf '  %-52s %7.1f MB  %s' "$BASE_IMAGE" "$(awk -v b="$(docker image inspect -f '{{.Size}}' "$BASE_IMAGE")" 'BEGIN { print b / 1000000 }')" "(base of agnhost and nginx)")"
fi
for key in "${KEYS[@]}"; do echo "${image[$key]}"; done
