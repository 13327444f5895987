"""Differential tests, the scanner's view against the loaders' own:
- pickles: the globals CPython's unpickler imports (find_class, recorded without running
  anything) must be exactly the non-allowlisted globals the scanner reports, for pickles of
  every protocol with names built in every way pickle.dumps and hand-made streams build them;
- zips and tars: every member zipfile / tarfile lists is a member the scanner read, and it
  read no other;
- npy: numpy's read_array_header says the dtype holds objects exactly when the scanner reads
  the data as a pickle.
The pickles are generated here; zips, tars and npys also come from the scanner's corpus
(gen_corpus.py).

usage: test_scan_differential.py SCAN_TOOL GEN_CORPUS"""
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


def archive_samples(d):
    """zips, tars and npys of many kinds, written to d."""
    import numpy
    import tarfile
    import zipfile
    out = os.path.join(d, "arch")
    os.makedirs(out)
    dtypes = ["<f4", ">i8", "|b1", "<U7", "|S3", "<M8[ns]", "<c16", "<f2", "object",
              [("O", "<f4"), ("object", "<i8")], [("a", "<f4"), ("b", "O")], [("x", "<i2", (2, 3))],
              [("n", [("deep", "O")])], [("s", "S5"), ("u", "<U2")], "i4,f8", "(2,)f4"]
    for i, dt in enumerate(dtypes):
        a = numpy.zeros(3, dtype=dt)
        numpy.save(os.path.join(out, "a%02d.npy" % i), a, allow_pickle=True)
    # Headers written by hand, as numpy's literal_eval reads them: a repeated key (the last
    # wins), keys spelled as adjacent strings, a field name that reads like a descr.
    obj = pickle.dumps(numpy.array([None, 1], dtype=object), protocol=2)
    for name, header, data in [
            ("dup_last_object", "{'descr': '<f4', 'descr': '|O', 'fortran_order': False, 'shape': (2,), }", obj),
            ("dup_last_raw", "{'descr': '|O', 'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", b"\0" * 8),
            ("split_key", "{'d' 'escr': '<f4', 'fortran_order': False, 'shape': (2,), }", b"\0" * 8),
            ("field_named_descr", "{'descr': [(\"descr': '<f4'\", '|O')], 'fortran_order': False, 'shape': (2,), }",
             pickle.dumps(numpy.zeros(2, dtype=[("descr': '<f4'", "O")]), protocol=2)),
            ("split_key_field_named_descr", "{'d' 'escr': [(\"descrX:'<f4'\", '|O')], 'fortran_order': False, "
             "'shape': (2,), }", pickle.dumps(numpy.zeros(2, dtype=[("descrX:'<f4'", "O")]), protocol=2))]:
        h = header.encode()
        h += b" " * ((-(10 + len(h) + 1)) % 64) + b"\n"
        with open(os.path.join(out, "hand_%s.npy" % name), "wb") as f:
            f.write(b"\x93NUMPY\x01\x00" + len(h).to_bytes(2, "little") + h + data)
    numpy.savez(os.path.join(out, "many.npz"), **{"k%d" % i: numpy.arange(i) for i in range(12)})
    numpy.savez_compressed(os.path.join(out, "many_z.npz"), x=numpy.zeros(4, dtype=object), y=numpy.ones(3))
    for k in range(20):
        names = ["m%d/%s" % (k, "".join(rng.choice("abc/") for _ in range(rng.randint(1, 12))).strip("/") or "x")
                 for _ in range(rng.randint(1, 6))]
        with zipfile.ZipFile(os.path.join(out, "z%02d.zip" % k), "w") as z:
            for j, n in enumerate(names):
                method = zipfile.ZIP_DEFLATED if (k + j) % 2 else zipfile.ZIP_STORED
                z.writestr(zipfile.ZipInfo(n + "/") if j == 0 and k % 5 == 0 else n,
                           b"" if j == 0 and k % 5 == 0 else pickle.dumps([j] * rng.randint(0, 50)),
                           compress_type=method)
        with zipfile.ZipFile(os.path.join(out, "z%02d.zip" % k)) as z:
            with zipfile.ZipFile(os.path.join(out, "nest%02d.zip" % k), "w") as outer:
                outer.writestr("inner.zip", open(os.path.join(out, "z%02d.zip" % k), "rb").read())
                outer.writestr("note.txt", b"x")
        with tarfile.open(os.path.join(out, "t%02d.tar" % k), "w", format=[tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT,
                                                                         tarfile.PAX_FORMAT][k % 3]) as t:
            for j, n in enumerate(names):
                data = pickle.dumps(j)
                info = tarfile.TarInfo(n + ("x" * 120 if k % 3 != 0 and k % 2 == 0 else ""))
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
    return out


def loader_members(path):
    """Members zipfile or tarfile reads (directories left out), or None if neither opens it."""
    import tarfile
    import zipfile
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as z:
                return [n for n in z.namelist() if not n.endswith("/")]
        except Exception:
            return None
    try:
        with tarfile.open(path) as t:
            return [m.name for m in t.getmembers() if m.isfile()]
    except Exception:
        return None


def npy_hasobject(path):
    import numpy
    with open(path, "rb") as f:
        try:
            version = numpy.lib.format.read_magic(f)
            _, _, dtype = numpy.lib.format._read_array_header(f, version)
        except Exception:
            return None
    return dtype.hasobject


def compare_archives(d, gen_corpus):
    subprocess.run(["/usr/bin/python3", gen_corpus, os.path.join(d, "corpus")], check=True, capture_output=True)
    folders = [archive_samples(d), os.path.join(d, "corpus")]
    out = subprocess.run([SCAN, "--json", *folders], capture_output=True, text=True).stdout
    bad = compared = 0
    for f in json.loads(out)["files"]:
        path, members = f["path"], f.get("members", [])
        if path.endswith(".npy"):
            want = npy_hasobject(path)
            if want is None:
                continue
            got = any(x["what"].startswith("array data is a pickle") for x in f["findings"])
            compared += 1
            if want != got:
                bad += 1
                print("DIFF %s: numpy hasobject %s, scanner reads a pickle %s" % (path, want, got))
            continue
        listed = loader_members(path)
        if listed is None or f["format"] in ("pickle", "pytorch-legacy"):
            continue
        compared += 1
        # A member the scanner reports it cannot read (encrypted, an unknown method) is not missed.
        refused = {x.get("member") for x in f["findings"] if "encrypt" in x["what"] or "method" in x["what"]}
        missing = [n for n in listed if n not in members and n not in refused]
        extra = [m for m in members if m not in listed and not any(m.startswith(n + "/") for n in listed)]
        if missing or extra:
            bad += 1
            print("DIFF %s: loader reads %s the scanner did not; the scanner read %s the loader does not list"
                  % (path, missing, extra))
    print("%d archives and npy files compared, %d differ" % (compared, bad))
    return bad


def compare_pickles(d):
    bad = 0
    paths = {}
    os.makedirs(os.path.join(d, "pickles"))
    for name, data in samples():
        p = os.path.join(d, "pickles", name)
        with open(p, "wb") as f:
            f.write(data)
        paths[p] = data
    out = subprocess.run([SCAN, "--json", os.path.join(d, "pickles")], capture_output=True, text=True).stdout
    report = {f["path"]: f for f in json.loads(out)["files"]}
    for p, data in paths.items():
        want = set(cpython_view(data))
        got = {f["what"][len("global "):] for f in report[p]["findings"] if f["what"].startswith("global ")}
        if want != got:
            bad += 1
            print("DIFF %s: cpython %s scanner %s" % (os.path.basename(p), sorted(want), sorted(got)))
    print("%d pickles compared, %d differ" % (len(paths), bad))
    return bad


def main():
    with tempfile.TemporaryDirectory() as d:
        return 1 if compare_archives(d, sys.argv[2]) + compare_pickles(d) else 0


if __name__ == "__main__":
    sys.exit(main())
