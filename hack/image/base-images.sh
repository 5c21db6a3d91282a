#!/usr/bin/env bash
# Makes the Dockerfile's base images, debian:bookworm and debian:bookworm-slim, without a
# registry: each is a `debootstrap --variant=minbase` of this machine's Debian mirror (the one
# apt's sources name) imported with `docker import`. The slim one has no documentation, manual
# pages or locales, and dpkg is told to leave them out of packages installed later, as in
# Debian's own slim images. An image docker already has is left alone; the root file systems are
# kept as tarballs in CACHE_DIR, so docker can lose its images without another debootstrap.
#
#   hack/image/base-images.sh
# DOCKER (default /usr/bin/docker) is the client; CACHE_DIR defaults to
# ${XDG_CACHE_HOME:-$HOME/.cache}/heartbeat-operator/base-images; MIRROR overrides the mirror.
# Needs root (debootstrap) and a running docker daemon. Exits 0 when both images exist.
set -euo pipefail

DOCKER="${DOCKER:-/usr/bin/docker}"
CACHE_DIR="${CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/heartbeat-operator/base-images}"
SUITE=bookworm

log() { echo "base-images: $*" >&2; }

# apt_sources: "URI SUITE COMPONENTS..." for every source of this machine, from both formats
# (/etc/apt/sources.list one-line entries and deb822 *.sources stanzas).
apt_sources() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -f "$f" ]] || continue
    sed -E -n 's/^[[:space:]]*deb[[:space:]]+(\[[^]]*\][[:space:]]+)?//p' "$f"
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f "$f" ]] || continue
    awk '
      function flush() {
        if (types ~ /(^| )deb( |$)/ && enabled != "no")
          for (u = 1; u <= nu; u++) for (s = 1; s <= ns; s++) print uris[u], suites[s], comps
        types = ""; enabled = ""; comps = ""; nu = 0; ns = 0
      }
      /^[[:space:]]*$/ { flush(); next }
      /^#/ { next }
      { key = tolower($1); sub(/:$/, "", key); $1 = ""; sub(/^ +/, "") }
      key == "types" { types = $0 }
      key == "enabled" { enabled = tolower($0) }
      key == "uris" { nu = split($0, uris, " ") }
      key == "suites" { ns = split($0, suites, " ") }
      key == "components" { comps = $0 }
      END { flush() }' "$f"
  done
}

mirror() {
  [[ -n "${MIRROR:-}" ]] && { echo "$MIRROR"; return; }
  apt_sources | awk -v s="$SUITE" '$2 == s { print $1; exit }'
}

# make_rootfs VARIANT TARBALL: debootstrap, the image's apt sources, clean-up, tar.
make_rootfs() {
  local variant="$1" tarball="$2" root mirror_uri
  mirror_uri="$(mirror)"
  [[ -n "$mirror_uri" ]] || { log "no '$SUITE' source in apt's sources: set MIRROR"; return 1; }
  root="$(mktemp -d "${TMPDIR:-/tmp}/base-image-$variant.XXXXXX")"
  ROOTFS="$root"
  log "debootstrap --variant=minbase $SUITE from $mirror_uri ($variant; log: $root.log)"
  if ! debootstrap --variant=minbase "$SUITE" "$root" "$mirror_uri" >"$root.log" 2>&1; then
    tail -n 20 "$root.log" >&2
    return 1
  fi
  rm -f "$root.log"
  # The image sees the same suites as this machine (updates and security included).
  apt_sources | awk -v s="$SUITE" '$2 ~ "^" s "(-|$)" { print "deb " $0 }' | sort -u >"$root/etc/apt/sources.list"
  if [[ "$variant" == slim ]]; then
    cat >"$root/etc/dpkg/dpkg.cfg.d/slim" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
CFG
    find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
    find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
    rm -rf "$root"/usr/share/{man,info,locale,lintian}/*
  fi
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
    "$root"/var/log/*.log "$root"/tmp/*
  mkdir -p "$(dirname "$tarball")"
  tar --numeric-owner --xattrs -C "$root" -cf "$tarball.part" . && mv "$tarball.part" "$tarball"
  rm -rf "$root"
  ROOTFS=""
}

ROOTFS=""   # the root file system being made, removed at exit
trap '[[ -z "$ROOTFS" ]] || rm -rf "$ROOTFS" "$ROOTFS.log"' EXIT

for variant in full slim; do
  tag="debian:$SUITE"; [[ "$variant" == slim ]] && tag="debian:$SUITE-slim"
  if "$DOCKER" image inspect "$tag" >/dev/null 2>&1; then
    log "$tag exists"
    continue
  fi
  tarball="$CACHE_DIR/$SUITE-$variant.tar"
  [[ -s "$tarball" ]] || make_rootfs "$variant" "$tarball"
  "$DOCKER" import --change 'CMD ["bash"]' --message "debootstrap --variant=minbase $SUITE ($variant)" \
    "$tarball" "$tag" >/dev/null
  log "$tag imported from $tarball ($(du -h "$tarball" | cut -f1))"
done
