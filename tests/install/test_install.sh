#!/usr/bin/env bash
# Installs modelseal into a staging folder (meson install --destdir), then builds a C and a C++
# consumer with nothing but `pkg-config --cflags --libs modelseal-c` (C) and `modelseal` (C++, whose
# Cflags carry the C++20 requirement: the compiler is given no -std) from that staging folder, runs
# both against the installed shared library on the example model, and checks they agree with
# `modelseal verify` (the C++ one also proves the installed headers compile on their own).
set -euo pipefail
build=$1 src=$2
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
meson install -C "$build" --destdir "$stage" --quiet >/dev/null
pcdir=$(dirname "$(find "$stage" -name modelseal.pc | head -1)")
export PKG_CONFIG_PATH=$pcdir PKG_CONFIG_SYSROOT_DIR=$stage
libdir=$(dirname "$(find "$stage" -name 'libmodelseal.so' | head -1)")
cc -std=c11 -Wall -Wextra -Werror -o "$stage/consumer-c" "$src/tests/install/consumer.c" \
  $(pkg-config --cflags --libs modelseal-c)
c++ -Wall -Wextra -Werror -o "$stage/consumer-cpp" "$src/tests/install/consumer.cpp" \
  $(pkg-config --cflags --libs modelseal)
# No header outside the installed ones was used: the staged include folder holds no internals.
if find "$stage" -path '*include/modelseal/*' \( -name 'json.hpp' -o -name 'formats.hpp' -o -name 'content.hpp' \) | grep -q .; then
  echo "internal headers were installed" >&2; exit 1
fi

model="$stage/example-model"
cp -r "$src/tests/data/example-model" "$model"
cp "$src/tests/data/golden/example-model.sig" "$model/model.sig"
pub="$src/keys-example/example-NOT-FOR-PRODUCTION.pub"
want=$("$build/tools/modelseal-verify" "$model" -p "$pub" --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["root_digest"])')
size=$(stat -c %s "$model/config.json")
for c in consumer-c consumer-cpp; do
  got=$(LD_LIBRARY_PATH=$libdir "$stage/$c" "$model" "$pub" config.json)
  [[ "$got" == "$want $size" ]] || { echo "$c printed '$got', expected '$want $size'" >&2; exit 1; }
  # It really ran against the staged shared library.
  LD_LIBRARY_PATH=$libdir ldd "$stage/$c" | grep -q "$libdir/libmodelseal.so" || { echo "$c: not linked to $libdir" >&2; exit 1; }
  printf 'x' >> "$model/config.json"
  if LD_LIBRARY_PATH=$libdir "$stage/$c" "$model" "$pub" config.json 2>/dev/null; then
    echo "$c accepted a modified model" >&2; exit 1
  fi
  cp "$src/tests/data/example-model/config.json" "$model/config.json"
done
echo "install: C and C++ consumers built from pkg-config and verified the example against the shared library"
