#!/usr/bin/env bash
# Builds the VEXxy demo image: a slimmed `debootstrap --variant=minbase bookworm` root plus a
# small POSIX-sh app (/app/run.sh, the entrypoint) that uses some packages and not others,
# packed as an OCI layout (tag `demo`) and an oci-archive with umoci.
#
# Interface
#   ./build.sh            build (or reuse the cache) and print the manifest digest last
#   Outputs, in $VEXXY_DEMO_CACHE_DIR (default <repo>/.cache/demo-image):
#     oci/              OCI image layout, tag `demo`   (skopeo: oci:<dir>/oci:demo)
#     demo.oci.tar      the same layout as an oci-archive (skopeo: oci-archive:<file>:demo)
#     digest            the manifest digest, "sha256:<64 hex>" (no newline at end)
#     rootfs/           the root the layer was made from (for catalogue fixtures; read-only use)
#     packages.tsv      name, version, architecture, source of every installed deb
#     inputs.sha256     the cache key of the finished build (written last)
#   Environment:
#     VEXXY_DEMO_CACHE_DIR   where outputs go (default <repo>/.cache/demo-image)
#     VEXXY_DEMO_MIRROR      Debian mirror (default http://deb.debian.org/debian)
#     VEXXY_DEMO_FORCE=1     rebuild even when the cache key matches
#     SOURCE_DATE_EPOCH      timestamp for every file, layer and config (default 1700000000)
#   Needs root (debootstrap, device-free chroot, ownership kept in the layer), debootstrap,
#   umoci, skopeo, tar, sha256sum.
#
# Cache: the key hashes this script, the app folder and the debootstrap parameters. Debian
# publishes point releases, so two builds on different days may hold newer package versions;
# packages.tsv says which ones this build holds.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../../.." && pwd)
cache_dir=${VEXXY_DEMO_CACHE_DIR:-$repo/.cache/demo-image}
mirror=${VEXXY_DEMO_MIRROR:-http://deb.debian.org/debian}
force=${VEXXY_DEMO_FORCE:-0}
epoch=${SOURCE_DATE_EPOCH:-1700000000}
suite=bookworm
variant=minbase
arch=amd64
tag=demo

log() { printf '[demo-image] %s\n' "$*" >&2; }
die() { printf '[demo-image] error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (debootstrap needs it)"
for tool in debootstrap umoci skopeo tar sha256sum; do
  command -v "$tool" >/dev/null 2>&1 || die "missing tool: $tool"
done

# The key covers everything that decides the image's content.
inputs_key=$(
  {
    printf 'suite=%s variant=%s arch=%s mirror=%s epoch=%s tag=%s\n' "$suite" "$variant" "$arch" "$mirror" "$epoch" "$tag"
    sha256sum "$here/build.sh"
    (cd "$here" && find app -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
    (cd "$here" && find app -printf '%p %m\n' | LC_ALL=C sort)
  } | sha256sum | cut -d' ' -f1
)

mkdir -p "$cache_dir"
if [ "$force" != 1 ] && [ -f "$cache_dir/inputs.sha256" ] \
  && [ "$(cat "$cache_dir/inputs.sha256")" = "$inputs_key" ] \
  && [ -f "$cache_dir/oci/index.json" ] && [ -f "$cache_dir/demo.oci.tar" ] && [ -s "$cache_dir/digest" ]; then
  log "cache hit ($inputs_key)"
  log "oci layout:  $cache_dir/oci:$tag"
  log "oci-archive: $cache_dir/demo.oci.tar"
  cat "$cache_dir/digest"; echo
  exit 0
fi

started=$(date +%s)
log "cache miss: building (key $inputs_key)"
rm -f "$cache_dir/inputs.sha256"
# debootstrap cannot build into, nor cache packages under, a path holding whitespace (its chroot
# and mount handling split on it: "chroot .../clone dir/... /bin/true" fails), so a clone under
# such a path builds in a temp dir outside it and keeps its downloads in /var/cache/vexxy.
case "$cache_dir" in
  *[[:space:]]*)
    work=$(mktemp -d "/var/tmp/vexxy-demo-build.XXXXXX")
    debs=/var/cache/vexxy/demo-image-debs
    ;;
  *)
    work=$(mktemp -d "$cache_dir/.build.XXXXXX")
    debs=$cache_dir/debs
    ;;
esac
# debootstrap mounts proc/sys in the target while it runs; never recurse into a live mount.
unmount_under() {
  local m
  for m in $(awk -v p="$1/" 'index($2, p) == 1 { print $2 }' /proc/mounts | sort -r); do umount -l "$m" || true; done
}
cleanup() { unmount_under "$work"; rm -rf "$work"; }
trap cleanup EXIT
rootfs=$work/rootfs
mkdir -p "$debs"

log "1/6 debootstrap --variant=$variant $suite from $mirror (downloads cached in $debs)"
debootstrap --variant="$variant" --arch="$arch" --cache-dir="$debs" "$suite" "$rootfs" "$mirror" \
  >"$work/debootstrap.log" 2>&1 || { tail -n 30 "$work/debootstrap.log" >&2; die "debootstrap failed (log above)"; }

unmount_under "$rootfs"
log "2/6 slimming (docs, man, locales, apt lists and caches; /var/lib/dpkg kept)"
rm -rf "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* \
  "$rootfs"/usr/share/locale/* "$rootfs"/usr/share/lintian/* \
  "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb \
  "$rootfs"/var/cache/debconf/*-old "$rootfs"/var/cache/ldconfig/aux-cache \
  "$rootfs"/var/lib/dpkg/*-old "$rootfs"/var/log/* "$rootfs"/tmp/* "$rootfs"/var/tmp/* \
  "$rootfs"/dev/* "$rootfs"/proc/* "$rootfs"/sys/* "$rootfs"/run/*
# Files a container runtime provides or that only identify the build host.
rm -f "$rootfs"/etc/hostname "$rootfs"/etc/resolv.conf "$rootfs"/etc/machine-id
: >"$rootfs"/etc/hostname

log "3/6 installing the app (/app/run.sh)"
mkdir -p "$rootfs/app/data"
install -m 0755 "$here/app/run.sh" "$rootfs/app/run.sh"
for f in "$here"/app/data/*; do install -m 0644 "$f" "$rootfs/app/data/"; done

dpkg-query --admindir="$rootfs/var/lib/dpkg" -W \
  -f '${Package}\t${Version}\t${Architecture}\t${source:Package}\t${source:Version}\n' \
  | LC_ALL=C sort >"$work/packages.tsv"
log "    $(wc -l <"$work/packages.tsv") packages installed"

log "4/6 making the layer (sorted, timestamps = $epoch, numeric owners)"
find "$rootfs" -exec touch -h -d "@$epoch" {} +
tar --sort=name --mtime="@$epoch" --numeric-owner --xattrs \
  --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
  -C "$rootfs" -cf "$work/layer.tar" .

log "5/6 umoci: OCI layout $tag"
created=$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ)
umoci init --layout "$work/oci"
umoci new --image "$work/oci:$tag"
umoci raw add-layer --image "$work/oci:$tag" --history.created "$created" \
  --history.created_by "debootstrap --variant=$variant $suite + /app (deploy/local/demo-image/build.sh)" \
  "$work/layer.tar"
umoci config --image "$work/oci:$tag" --created "$created" --author "vexxy demo-image" \
  --os linux --architecture "$arch" \
  --config.entrypoint /app/run.sh \
  --config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --config.workingdir / \
  --config.label org.opencontainers.image.title=vexxy-demo \
  --no-history
umoci gc --layout "$work/oci"
rm -f "$work/layer.tar"

log "6/6 oci-archive and digest"
tar --sort=name --mtime="@$epoch" --owner=0 --group=0 --numeric-owner -C "$work/oci" -cf "$work/demo.oci.tar" .
digest="sha256:$(skopeo inspect --raw "oci:$work/oci:$tag" | sha256sum | cut -d' ' -f1)"
archive_digest="sha256:$(skopeo inspect --raw "oci-archive:$work/demo.oci.tar:$tag" | sha256sum | cut -d' ' -f1)"
[ "$digest" = "$archive_digest" ] || die "oci layout ($digest) and oci-archive ($archive_digest) disagree"
printf '%s' "$digest" >"$work/digest"

# Swap the finished outputs in; the key is written last so a half-finished build is a miss.
rm -rf "$cache_dir/oci" "$cache_dir/rootfs" "$cache_dir/demo.oci.tar"
mv "$work/oci" "$cache_dir/oci"
mv "$rootfs" "$cache_dir/rootfs"
mv "$work/demo.oci.tar" "$cache_dir/demo.oci.tar"
mv "$work/packages.tsv" "$cache_dir/packages.tsv"
mv "$work/digest" "$cache_dir/digest"
printf '%s' "$inputs_key" >"$cache_dir/inputs.sha256"

log "built in $(( $(date +%s) - started )) s"
log "oci layout:  $cache_dir/oci:$tag"
log "oci-archive: $cache_dir/demo.oci.tar"
cat "$cache_dir/digest"; echo
