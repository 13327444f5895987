#!/usr/bin/env bash
# Installs modelseal into a staging folder (meson install --destdir), then builds a C and a C++
# consumer with nothing but `pkg-config --cflags --libs modelseal-c` (C) and `modelseal` (C++, whose
# Cflags carry the C++20 requirement: the compiler is given no -std) from that staging folder, runs
# both against the installed shared library on the example model, and checks they agree with
# `modelseal verify` (the C++ one also proves the installed headers compile on their own). Then
# imports the Python package from where it was staged and verifies the example through it.
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

# The schemas of the tools' JSON, and the shim's page under the library's name too.
for f in share/modelseal/schemas/verify-report.schema.json share/modelseal/schemas/policy.schema.json \
         share/man/man8/libmodelseal-preload.8 share/man/man8/modelseal-preload.8; do
  [[ -n "$(find "$stage" -path "*/$f")" ]] || { echo "$f was not installed" >&2; exit 1; }
done
want_schemas=$(ls "$src/schemas" | grep -c 'schema.json$')
got_schemas=$(find "$stage" -path '*/share/modelseal/schemas/*.schema.json' | wc -l)
[[ "$want_schemas" == "$got_schemas" ]] || { echo "$got_schemas of $want_schemas schemas installed" >&2; exit 1; }

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
  # (ldd's output is kept whole: grep -q stopping early would make ldd fail under pipefail)
  linked=$(LD_LIBRARY_PATH=$libdir ldd "$stage/$c")
  [[ "$linked" == *"$libdir/libmodelseal.so"* ]] || { echo "$c: not linked to $libdir: $linked" >&2; exit 1; }
  printf 'x' >> "$model/config.json"
  if LD_LIBRARY_PATH=$libdir "$stage/$c" "$model" "$pub" config.json 2>/dev/null; then
    echo "$c accepted a modified model" >&2; exit 1
  fi
  cp "$src/tests/data/example-model/config.json" "$model/config.json"
done

# The Python package: installed into /usr/bin/python3's site packages under the prefix, with a
# _config.py naming the library where meson installs it; imported here from the staging folder.
init=$(find "$stage" -path '*-packages/modelseal/__init__.py' | head -1)
[[ -n "$init" ]] || { echo "the Python package was not installed" >&2; exit 1; }
site=$(dirname "$(dirname "$init")")
for f in py.typed torch.py _config.py _native.py _errors.py; do
  [[ -f "$site/modelseal/$f" ]] || { echo "modelseal/$f was not installed" >&2; exit 1; }
done
# Installed for real, it would be on the interpreter's own path (no PYTHONPATH needed).
/usr/bin/python3 -s -c 'import sys; sys.exit(sys.argv[1] not in sys.path)' "${site#"$stage"}" ||
  { echo "the package went to ${site#"$stage"}, which /usr/bin/python3 does not search" >&2; exit 1; }
installed_lib=$(find "$stage" -name 'libmodelseal.so.[0-9]' | head -1)
PYTHONPATH=$site PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 -s - "$stage" "$model" "$pub" "$want" "$installed_lib" <<'PY'
import os, sys
stage, model, pub, want, installed_lib = sys.argv[1:]
import modelseal
from modelseal import _config
assert modelseal.__file__.startswith(stage), modelseal.__file__
# The one version string, meson.build's, as the installed tools report it.
assert modelseal.__version__ == _config.VERSION and modelseal.__version__[0].isdigit(), modelseal.__version__
# _config names the final location; the staged copy is that path below the staging folder.
assert os.path.isabs(_config.LIBRARY), _config.LIBRARY
assert stage + _config.LIBRARY == installed_lib, (_config.LIBRARY, installed_lib)
if not os.path.exists(_config.LIBRARY):  # not really installed: the error names both places
    try:
        modelseal.library_path()
        raise SystemExit("loaded a library that does not exist")
    except modelseal.ModelsealOSError as e:
        assert "MODELSEAL_LIBRARY" in str(e) and _config.LIBRARY in str(e), str(e)
os.environ["MODELSEAL_LIBRARY"] = installed_lib
m = modelseal.verify(model, public_key=pub)
assert m.root_digest == "sha256:" + want.removeprefix("sha256:"), (m.root_digest, want)
assert m.read("config.json") == open(os.path.join(model, "config.json"), "rb").read()
assert modelseal.library_path() == installed_lib
with open(os.path.join(model, "config.json"), "ab") as f:
    f.write(b"x")
try:
    modelseal.verify(model, public_key=pub)
    raise SystemExit("the Python package accepted a modified model")
except modelseal.NotTrusted as e:
    assert "config.json" in str(e), str(e)
PY
cp "$src/tests/data/example-model/config.json" "$model/config.json"
echo "install: C and C++ consumers built from pkg-config and verified the example against the shared library;"
echo "install: the Python package imported from the staging folder verified it too"
