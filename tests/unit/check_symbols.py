"""The exported dynamic symbols of libmodelseal.so are exactly the committed list
(tests/data/libmodelseal.symbols, one demangled name a line): an accidental export, or a removed
one, fails here. After a deliberate change of the API, regenerate the list with
    /usr/bin/python3 tests/unit/check_symbols.py build/lib/libmodelseal.so --write"""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
LIST = os.path.join(HERE, "..", "data", "libmodelseal.symbols")


def exported(lib):
    out = subprocess.run(["nm", "-D", "--defined-only", "--demangle", lib], capture_output=True, text=True,
                         check=True).stdout
    names = set()
    for line in out.splitlines():
        parts = line.split(" ", 2)
        if len(parts) == 3 and parts[1] not in ("A",):   # A: the version node itself
            names.add(parts[2].split("@")[0])
    return sorted(names)


def main():
    lib = sys.argv[1]
    have = exported(lib)
    if "--write" in sys.argv:
        with open(LIST, "w") as f:
            f.write("".join(n + "\n" for n in have))
        print(f"wrote {len(have)} symbols to {LIST}")
        return 0
    with open(LIST) as f:
        want = [l.rstrip("\n") for l in f if l.strip()]
    extra = sorted(set(have) - set(want))
    missing = sorted(set(want) - set(have))
    for n in extra:
        print("exported but not in the list:", n)
    for n in missing:
        print("in the list but not exported:", n)
    internal = [n for n in have if not (n.startswith("modelseal_") or "modelseal::" in n)]
    for n in internal:
        print("outside the C API and the modelseal namespace:", n)
    print(f"{len(have)} symbols exported, {len(extra)} unexpected, {len(missing)} missing")
    return 1 if extra or missing or internal else 0


if __name__ == "__main__":
    sys.exit(main())
