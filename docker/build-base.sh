#!/usr/bin/env bash
# A minimal Debian bookworm with Python 3.11 as a local base image, for machines that cannot pull one (no image
# registry). Cached: does nothing when the image exists. Usage: docker/build-base.sh [TAG]
#
# The pinned lock needs Python >= 3.11.5 (soupsieve) and bookworm's python3 is 3.11.2, so when AG_PYTHON_PREFIX
# names a CPython 3.11 installed under its own prefix (the project's venv base, e.g. a pyenv build), it is copied
# into /usr/local of the image (the interpreter, libpython and the standard library; no site-packages), over
# bookworm's python3 and the shared libraries it brings.
set -euo pipefail
TAG="${1:-autograder-base:bookworm}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
PREFIX="${AG_PYTHON_PREFIX:-}"
if docker image inspect "$TAG" >/dev/null 2>&1; then
    echo "base image $TAG exists"
    exit 0
fi
command -v debootstrap >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq debootstrap >/dev/null; }
root="$(mktemp -d /var/tmp/ag-base-XXXXXX)"
trap 'rm -rf "$root"' EXIT
echo "debootstrap bookworm into $root …"
debootstrap --variant=minbase --include=python3,python3-venv,libsqlite3-0,libssl3,libffi8 bookworm "$root" \
    "$MIRROR" >/dev/null
if [ -n "$PREFIX" ] && [ "$PREFIX" != /usr ]; then
    version="$("$PREFIX/bin/python3" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
    [ "$version" = 3.11 ] || { echo "AG_PYTHON_PREFIX=$PREFIX has Python $version, not 3.11" >&2; exit 1; }
    echo "copying Python $("$PREFIX/bin/python3" -V 2>&1) from $PREFIX into /usr/local …"
    mkdir -p "$root/usr/local/bin" "$root/usr/local/lib"
    cp -a "$PREFIX/bin/python3.11" "$root/usr/local/bin/"
    ln -sf python3.11 "$root/usr/local/bin/python3"
    ln -sf python3 "$root/usr/local/bin/python"
    cp -a "$PREFIX"/lib/libpython3* "$root/usr/local/lib/" 2>/dev/null || true
    tar -C "$PREFIX/lib" --exclude=python3.11/site-packages --exclude=python3.11/test \
        --exclude=python3.11/idlelib --exclude=python3.11/tkinter --exclude=python3.11/turtledemo \
        -c python3.11 | tar -C "$root/usr/local/lib" -x
    mkdir -p "$root/usr/local/lib/python3.11/site-packages"
    chroot "$root" /sbin/ldconfig
    chroot "$root" /usr/local/bin/python3 -c 'import ssl, sqlite3, ctypes, ensurepip, venv, zlib, lzma, bz2'
fi
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
       "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/locale/*
tar -C "$root" --numeric-owner -c . | docker import \
    -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' -c 'ENV LANG=C.UTF-8' \
    -c 'CMD ["python3"]' - "$TAG" >/dev/null
echo "built base image $TAG ($(docker run --rm "$TAG" python3 -V 2>&1))"
