"""Differential test: the globals CPython's own unpickler imports (find_class, recorded without
running anything) must be exactly the non-allowlisted globals the scanner reports, for pickles
of every protocol with names built in every way pickle.dumps and hand-made streams build them.

usage: test_scan_differential.py SCAN_TOOL"""
import io
import json
import os
import pickle
import pickletools
import random
import subprocess
import sys
import tempfile
import types

SCAN = sys.argv[1]
rng = random.Random(19)


class Recorder(pickle.Unpickler):
    """CPython's C unpickler; globals are recorded and replaced by a harmless callable."""

    def __init__(self, f):
        super().__init__(f)
        self.seen = []

    def find_class(self, module, name):
        self.seen.append(module + "." + name)
        return lambda *a, **k: None

    def persistent_load(self, pid):
        return None


def cpython_view(data):
    seen = []
    f = io.BytesIO(data)
    while f.tell() < len(data):
        u = Recorder(f)
        try:
            u.load()
        except Exception:
            seen += u.seen
            break
        seen += u.seen
    return seen


def make_module(i):
    name = "pkg%d_%s" % (i, "".join(rng.choice("abcxyz") for _ in range(4)))
    mod = types.ModuleType(name)
    sys.modules[name] = mod
    fn_name = "f_" + "".join(rng.choice("klmnop") for _ in range(5))

    def fn(*a):
        return None
    fn.__module__, fn.__qualname__, fn.__name__ = name, fn_name, fn_name
    setattr(mod, fn_name, fn)
    return fn


class Call:
    def __init__(self, fn, arg):
        self.fn, self.arg = fn, arg

    def __reduce__(self):
        return (self.fn, (self.arg,))


def samples():
    for i in range(120):
        fns = [make_module(i * 10 + k) for k in range(rng.randint(1, 3))]
        obj = {"k%d" % j: Call(rng.choice(fns), "x" * rng.randint(0, 300)) for j in range(rng.randint(1, 4))}
        obj["shared"] = [obj["k0"]] * 2  # memo GETs
        proto = i % 6
        data = pickle.dumps(obj, protocol=proto)
        if i % 3 == 0:
            data = pickletools.optimize(data)
        if i % 7 == 0:
            data += pickle.dumps([Call(fns[0], "y")], protocol=rng.randint(0, 5))  # a second pickle
        yield "gen%03d_p%d.pkl" % (i, proto), data
    # Hand-made spellings: text memo keys in int() forms, GLOBAL and INST, STACK_GLOBAL via memo.
    yield "hand_memo.pkl", b"cmodA\nfnA\np 1_0\n0g+10\n(S'a'\ntR."
    yield "hand_inst.pkl", b"(S'a'\nimodB\nfnB\n."
    yield "hand_stack.pkl", b"\x80\x04\x8c\x04modC\x94\x8c\x03fnC\x94h\x00h\x01\x93)R."


def main():
    bad = 0
    with tempfile.TemporaryDirectory() as d:
        paths = {}
        for name, data in samples():
            p = os.path.join(d, name)
            with open(p, "wb") as f:
                f.write(data)
            paths[p] = data
        out = subprocess.run([SCAN, "--json", d], capture_output=True, text=True).stdout
        report = {f["path"]: f for f in json.loads(out)["files"]}
        for p, data in paths.items():
            want = set(cpython_view(data))
            got = {f["what"][len("global "):] for f in report[p]["findings"] if f["what"].startswith("global ")}
            if want != got:
                bad += 1
                print("DIFF %s: cpython %s scanner %s" % (os.path.basename(p), sorted(want), sorted(got)))
        print("%d pickles compared, %d differ" % (len(paths), bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
