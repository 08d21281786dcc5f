#!/usr/bin/env bash
# run.sh BUILD_DIR PREFIX [LIBDIR] [CONFIG]
#
# Install the build in BUILD_DIR into the scratch PREFIX (wiped first), then
# build tests/consumer/consumer.c against the installed copy twice:
#   1. with `cc $(pkg-config --cflags --libs libfailover)`,
#   2. as a CMake project using find_package(failover) (shared and static).
# Each program is run and must exit 0. LIBDIR is CMAKE_INSTALL_LIBDIR of the
# build (lib, lib64 or lib/<multiarch>). Environment: CC (compiler),
# FO_SANITIZE (sanitizers the library was built with), CMAKE_GENERATOR.
set -euo pipefail

if [ $# -lt 2 ]; then
  echo "usage: $0 BUILD_DIR PREFIX [LIBDIR] [CONFIG]" >&2
  exit 2
fi

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=$(cd "$1" && pwd)
prefix=$2
libdir=${3:-lib}
config=${4:-}
cc=${CC:-cc}

case $prefix in /*) ;; *) prefix=$PWD/$prefix ;; esac
rm -rf "$prefix"
mkdir -p "$prefix"

install_args=(--install "$build" --prefix "$prefix")
if [ -n "$config" ]; then install_args+=(--config "$config"); fi
echo "== cmake ${install_args[*]}"
cmake "${install_args[@]}" >"$prefix/install.log"

san_flags=()
if [ -n "${FO_SANITIZE:-}" ]; then
  san_flags=(-fsanitize="$FO_SANITIZE" -fno-omit-frame-pointer)
fi

# 1. pkg-config
pcdir=$prefix/$libdir/pkgconfig
if [ ! -f "$pcdir/libfailover.pc" ]; then
  echo "run.sh: $pcdir/libfailover.pc not installed" >&2
  exit 1
fi
pc_flags=$(PKG_CONFIG_PATH=$pcdir pkg-config --cflags --libs libfailover)
echo "== pkg-config --cflags --libs libfailover: $pc_flags"
# shellcheck disable=SC2086 # pc_flags is a list of words
"$cc" -std=c11 -Wall -Wextra -pedantic -Werror ${san_flags[@]+"${san_flags[@]}"} \
  -o "$prefix/consumer-pkgconfig" "$here/consumer.c" $pc_flags
echo "== run consumer-pkgconfig"
LD_LIBRARY_PATH=$prefix/$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} \
  "$prefix/consumer-pkgconfig"

# 2. find_package(failover)
cbuild=$prefix/consumer-cmake
cmake_args=(-S "$here" -B "$cbuild" -DCMAKE_PREFIX_PATH="$prefix"
            -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE=Debug)
if [ ${#san_flags[@]} -gt 0 ]; then
  cmake_args+=(-DCMAKE_C_FLAGS="${san_flags[*]}"
               -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=$FO_SANITIZE")
fi
echo "== cmake configure tests/consumer"
cmake "${cmake_args[@]}" >"$prefix/consumer-configure.log" ||
  { cat "$prefix/consumer-configure.log"; exit 1; }
echo "== cmake build tests/consumer"
cmake --build "$cbuild" >"$prefix/consumer-build.log" 2>&1 ||
  { cat "$prefix/consumer-build.log"; exit 1; }
# CMake gives the executables an RPATH to the installed library.
for exe in consumer consumer_static; do
  if [ -x "$cbuild/$exe" ]; then
    echo "== run $exe"
    "$cbuild/$exe"
  fi
done
echo "install_consumer: ok"
