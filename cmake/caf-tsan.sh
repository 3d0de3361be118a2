#!/usr/bin/env bash
# Builds libcaf_core and libcaf_io 0.17.6 with ThreadSanitizer into PREFIX
# (once), at -O1 with line tables (what TSan's reports need, in half the
# time of -O2 -g).
#
# ThreadSanitizer needs every library that synchronizes threads instrumented:
# with Debian's uninstrumented libcaf_core, each message handed from one
# thread to another through CAF's mailboxes is reported as a data race. So the
# TSan build uses CAF built from Debian's own source package of the installed
# version. Nothing is added to the system's apt sources: the source index
# lives in a scratch directory.
set -euo pipefail
prefix=$(realpath -m "$1")
[ -f "$prefix/lib/libcaf_io.so" ] && exit 0

version=$(dpkg-query -W -f='${source:Upstream-Version}' libcaf-dev)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat > "$work/debsrc.sources" <<SRC
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
apt_opts=(-o "Dir::Etc::sourcelist=$work/debsrc.sources" -o "Dir::Etc::sourceparts=-"
          -o "Dir::State::Lists=$work/lists" -o "APT::Sandbox::User=root")
mkdir -p "$work/lists/partial"
apt-get "${apt_opts[@]}" -qq update
# The upstream tarball is all we need (Debian's packaging patches only touch
# the build for its own layout).
(cd "$work" && apt-get "${apt_opts[@]}" -qq source --download-only \
  "actor-framework=$(dpkg-query -W -f='${source:Version}' libcaf-dev)" \
  > "$work/source.log" 2>&1 || true)
tarball="$work/actor-framework_${version}.orig.tar.gz"
[ -f "$tarball" ] || { echo "caf-tsan: could not fetch $tarball" >&2; exit 1; }
tar -xzf "$tarball" -C "$work"
# The upstream header misses an include (Debian's package patches it in).
sed -i '0,/^#include </s//#include <limits>\n#include </' \
  "$work/actor-framework-$version/libcaf_io/caf/io/network/receive_buffer.hpp"
cmake -S "$work/actor-framework-$version" -B "$work/build" -G Ninja \
  -DCMAKE_CXX_COMPILER=clang++-14 \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS=-fsanitize=thread" \
  -DCMAKE_SHARED_LINKER_FLAGS=-fuse-ld=lld \
  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG" \
  -DCMAKE_INSTALL_PREFIX="$prefix" -DCAF_NO_OPENSSL=yes \
  -DCAF_NO_EXAMPLES=yes -DCAF_NO_UNIT_TESTS=yes -DCAF_NO_TOOLS=yes \
  -DCAF_NO_PYTHON=yes -DCAF_NO_OPENCL=yes -DCAF_NO_AUTO_LIBCPP=yes \
  -DCAF_NO_COMPILER_CHECK=yes -DCAF_NO_SUMMARY=yes > "$work/configure.log"
cmake --build "$work/build" -j "$(nproc)" > "$work/build.log" \
  || { tail -50 "$work/build.log" >&2; exit 1; }
cmake --install "$work/build" > /dev/null
