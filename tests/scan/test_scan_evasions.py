"""Evasion samples built from the loaders' own behaviour (CPython's pickle, torch.load, joblib,
numpy, tarfile, zipfile, h5py, json): each one is first proven to run a harmless marker under
the real loader, then `modelseal scan` must flag it and `modelseal sign` must refuse it.
Also: random binary data gives no finding above low, and a benign corpus passes.

usage: test_scan_evasions.py  (MODELSEAL_BUILD points at the build folder)"""
import io
import json
import os
import pickle
import random
import struct
import subprocess
import sys
import tarfile
import tempfile
import unittest
import zipfile
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "cli"))
from harness import CliTest, run, write  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "loadtime"))
import lt  # noqa: E402

PY = "/usr/bin/python3"


class Marker:
    """os.system('touch PATH'): the loader ran it when PATH exists."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (os.system, ("touch " + self.path,))


def evil(marker, protocol=2):
    return pickle.dumps(Marker(marker), protocol=protocol)


def tar_header(name, size, typeflag, v7=False, signed=False):
    h = bytearray(512)
    h[0:len(name)] = name
    h[100:108] = b"0000644\0"
    h[108:116] = b"0000000\0"
    h[116:124] = b"0000000\0"
    h[124:136] = b"%011o\0" % size
    h[136:148] = b"00000000000\0"
    h[156:157] = typeflag
    if not v7:
        h[257:265] = b"ustar\x0000"
    h[148:156] = b" " * 8
    total = 256 + sum((x - 256 if x > 127 else x) if signed else x for i, x in enumerate(h) if not 148 <= i < 156)
    h[148:156] = b"%06o\0 " % total
    return bytes(h)


def tar_member(name, data, typeflag=b"0", v7=False, signed=False):
    pad = (-len(data)) % 512
    return tar_header(name, len(data), typeflag, v7, signed) + data + b"\0" * pad


def npy(descr_literal, body):
    return npy_header("{'descr': %s, 'fortran_order': False, 'shape': (1,), }" % descr_literal, body)


def pax_global_size_tar(payload):
    def header(name, size, typeflag):
        t = tarfile.TarInfo(name)
        t.size, t.type = size, typeflag
        return t.tobuf(format=tarfile.USTAR_FORMAT)

    def block(data):
        return data + b"\0" * ((-len(data)) % 512)
    glob = b"9 size=0\n"
    local = b"%d size=%d\n" % (len(b"xx size=%d\n" % len(payload)), len(payload))
    return (header("pax_global", len(glob), tarfile.XGLTYPE) + block(glob) +
            header("a.bin", 512, tarfile.REGTYPE) + bytes(range(256)) * 2 +
            header("pax_local", len(local), tarfile.XHDTYPE) + block(local) +
            header("b.pkl", 0, tarfile.REGTYPE) + block(payload) + b"\0" * 1024)


def npy_header(header, body):
    header = header.encode()
    header += b" " * ((-(10 + len(header) + 1)) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + body


def object_record(marker):
    """The pickle numpy.save writes for a one-record array whose field holds an object."""
    import numpy
    a = numpy.empty(1, dtype=[("x", "O")])
    a[0] = (Marker(marker),)
    return pickle.dumps(a, protocol=2)


def zip_bytes(members):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in members:
            z.writestr(name, data)
    return buf.getvalue()


def zip_parts(name, data):
    """(local header + data, central directory entry) of a one-member zip."""
    z = zip_bytes([(name, data)])
    eocd = z.rindex(b"PK\x05\x06")
    cd_off = struct.unpack_from("<I", z, eocd + 16)[0]
    return z[:cd_off], z[cd_off:eocd]


def zip64_decoy(evil_pickle):
    """The end record names a benign directory; the zip64 record before the locator, which
    zipfile and miniz follow, names the malicious one."""
    a_local, a_cd = zip_parts("data.pkl", evil_pickle)
    b_local, b_cd = zip_parts("data.pkl", pickle.dumps(1))
    b_cd = b_cd[:42] + struct.pack("<I", len(a_local)) + b_cd[46:]
    body = a_local + b_local
    b_cd_off = len(body)
    a_cd_off = b_cd_off + len(b_cd)
    z64_off = a_cd_off + len(a_cd)
    z64 = struct.pack("<IQHHIIQQQQ", 0x06064b50, 44, 45, 45, 0, 0, 1, 1, len(a_cd), a_cd_off)
    loc = struct.pack("<IIQI", 0x07064b50, 0, z64_off, 1)
    eocd = struct.pack("<IHHHHIIH", 0x06054b50, 0, 0, 1, 1, len(b_cd), b_cd_off, 0)
    return body + b_cd + a_cd + z64 + loc + eocd


def safetensors_bytes():
    header = json.dumps({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}).encode()
    header += b" " * ((-len(header)) % 8)
    return struct.pack("<Q", len(header)) + header + b"\0" * 8


# name -> (builder(marker, folder) -> bytes written to folder/name, loader code run as PY -c;
# the loader gets the file as sys.argv[1]).
PICKLE_LOAD = "import pickle,sys; pickle.load(open(sys.argv[1],'rb'))"
SAMPLES = {
    # CPython's text integers: int() spellings for memo keys, and the C unpickler's NUL end.
    "memo_key_spellings.pkl": (lambda m, d: b"cos\nsystem\np 1_0\n0g+10\n(V" + b"touch " + m.encode() + b"\ntR.",
                               PICKLE_LOAD),
    "memo_key_nul.pkl": (lambda m, d: b"cos\nsystem\np7\x00 junk\n0g7\n(Vtouch " + m.encode() + b"\ntR.", PICKLE_LOAD),
    # torch's legacy magic number spelled as INT text: the main pickle runs under torch.load.
    "legacy_magic_int.bin": (lambda m, d: b"I119547037146038801333356\n." + pickle.dumps(1001, protocol=2) +
                             pickle.dumps({}, protocol=2) + evil(m) + pickle.dumps([], protocol=2),
                             "import torch,sys; torch.load(sys.argv[1])"),
    "legacy_magic_long_hex.bin": (lambda m, d: b"L0x1950A86A20F9469CFC6CL\n." + pickle.dumps(1001, protocol=2) +
                                  pickle.dumps({}, protocol=2) + evil(m) + pickle.dumps([], protocol=2),
                                  "import torch,sys; torch.load(sys.argv[1])"),
    # An unregistered extension code never runs, but one registered by an earlier call does.
    "ext_after_copyreg.pkl": (lambda m, d: b"\x80\x02ccopyreg\nadd_extension\n(Vos\nVsystem\nK\x07tR0" +
                              b"\x82\x07(Vtouch " + m.encode() + b"\ntR.", PICKLE_LOAD),
    # Two pickles in one stream: a loader reading twice runs the second.
    "second_pickle.pkl": (lambda m, d: pickle.dumps([1, 2], protocol=2) + evil(m),
                          "import pickle,sys; f=open(sys.argv[1],'rb'); pickle.load(f); pickle.load(f)"),
    # joblib's compressed files, one per compressor it writes.
    **{"joblib_%s.pkl" % c: ((lambda c: lambda m, d: joblib_dump(Marker(m), c, d))(c),
                             "import joblib,sys; joblib.load(sys.argv[1])")
       for c in ("zlib", "gzip", "bz2", "xz", "lzma", "lz4")},
    # joblib's oldest format (before 0.9.3), still read by joblib.load: "ZF", hex length, zlib.
    "joblib_zfile.pkl": (lambda m, d: b"ZF" + (b"0x%x" % len(evil(m))).ljust(19) + zlib.compress(evil(m)),
                         "import joblib,sys; joblib.load(sys.argv[1])"),
    # joblib reads raw array bytes out of the pickle stream after each NumpyArrayWrapper: a
    # payload after the array, one inside an object array (a pickle of its own), and array
    # bytes that pickle.load of the same file reads as opcodes.
    "joblib_after_array.joblib": (lambda m, d: joblib_plain({"w": numpy_arange(37), "hook": Marker(m)}, d),
                                  "import joblib,sys; joblib.load(sys.argv[1])"),
    "joblib_object_array.joblib": (lambda m, d: joblib_plain({"o": object_array(Marker(m))}, d),
                                   "import joblib,sys; joblib.load(sys.argv[1])"),
    "joblib_array_read_by_pickle.joblib": (lambda m, d: joblib_opcodes_as_array(m), PICKLE_LOAD),
    # tarfile: a V7 header, a signed checksum, an unknown type flag read as a regular file.
    "v7_unknown_type.tar": (lambda m, d: tar_member(b"m\xf6del.pkl", evil(m), b"Z", v7=True, signed=True) + b"\0" * 1024,
                            "import tarfile,pickle,sys; t=tarfile.open(sys.argv[1]); "
                            "pickle.load(t.extractfile(t.getmembers()[0]))"),
    # tarfile: a global PAX size applies to a member's data but not to where tarfile looks for
    # the next header, so the member after it is read where a reader applying it would not look.
    "pax_global_size.tar": (lambda m, d: pax_global_size_tar(evil(m)),
                            "import tarfile,pickle,sys; t=tarfile.open(sys.argv[1]); "
                            "pickle.load(t.extractfile('b.pkl'))"),
    # zipfile: an archive appended to a safetensors file, found from the end.
    "appended.safetensors": (lambda m, d: safetensors_bytes() + zip_bytes([("archive/data.pkl", evil(m))]),
                             "import zipfile,pickle,sys; pickle.loads(zipfile.ZipFile(sys.argv[1]).read('archive/data.pkl'))"),
    # zipfile: data prepended to an archive (offsets shifted), and a duplicate name (last wins).
    "prepended.zip": (lambda m, d: b"\0" * 100 + zip_bytes([("data.pkl", evil(m))]),
                      "import zipfile,pickle,sys; pickle.loads(zipfile.ZipFile(sys.argv[1]).read('data.pkl'))"),
    "zip64_decoy.zip": (lambda m, d: zip64_decoy(evil(m)),
                        "import zipfile,pickle,sys; pickle.loads(zipfile.ZipFile(sys.argv[1]).read('data.pkl'))"),
    "duplicate_names.zip": (lambda m, d: zip_bytes([("data.pkl", pickle.dumps(1)), ("data.pkl", evil(m))]),
                            "import zipfile,pickle,sys; pickle.loads(zipfile.ZipFile(sys.argv[1]).read('data.pkl'))"),
    # numpy: object dtype in spellings a token match misses.
    "descr_object_word.npy": (lambda m, d: npy("'object'", evil(m)),
                              "import numpy,sys; numpy.load(sys.argv[1], allow_pickle=True)"),
    "descr_escaped.npy": (lambda m, d: npy("'\\x4f'", evil(m)),
                          "import numpy,sys; numpy.load(sys.argv[1], allow_pickle=True)"),
    "descr_structured.npy": (lambda m, d: npy("[('x', '|O')]", evil(m)),
                             "import numpy,sys; numpy.load(sys.argv[1], allow_pickle=True)"),
    # numpy's header is a Python literal: the key spelled as two adjacent strings, and a field
    # name that reads like a raw descr to a text search.
    "descr_in_field_name.npy": (lambda m, d: npy_header("{'d' 'escr': [(\"descrX:'<f4'\", '|O')], 'fortran_order': False, "
                                                        "'shape': (1,), }", object_record(m)),
                                "import numpy,sys; numpy.load(sys.argv[1], allow_pickle=True)"),
    # HDF5 with a user block that is a pickle: h5py opens it, and so does pickle.load.
    "userblock.h5": (lambda m, d: h5_with_userblock(evil(m), d), PICKLE_LOAD),
}


def joblib_dump(obj, compressor, folder):
    import joblib
    path = os.path.join(folder, "tmp.joblib")
    joblib.dump(obj, path, compress=(compressor, 3))
    with open(path, "rb") as f:
        data = f.read()
    os.unlink(path)
    return data


def joblib_plain(obj, folder):
    import joblib
    path = os.path.join(folder, "tmp.joblib")
    joblib.dump(obj, path)
    with open(path, "rb") as f:
        data = f.read()
    os.unlink(path)
    return data


def numpy_arange(n):
    import numpy
    return numpy.arange(float(n))


def object_array(obj):
    import numpy
    a = numpy.empty(2, dtype=object)
    a[0], a[1] = "x", obj
    return a


def joblib_opcodes_as_array(marker):
    """A NumpyArrayWrapper of uint8 without padding, whose array bytes are opcodes: joblib.load
    returns them as an array, pickle.load runs them."""
    import numpy
    from joblib.numpy_pickle import NumpyArrayWrapper
    data = b"0cos\nsystem\n(Vtouch " + marker.encode() + b"\ntR"
    w = NumpyArrayWrapper(numpy.ndarray, (len(data),), "C", numpy.dtype("u1"), False, None)
    head = pickle.dumps(w, protocol=2)
    assert head.endswith(b"b.")
    return head[:-1] + data + b"."


def h5_with_userblock(payload, folder):
    import h5py
    path = os.path.join(folder, "tmp.h5")
    with h5py.File(path, "w", userblock_size=512) as f:
        f["w"] = [1.0, 2.0]
    with open(path, "r+b") as f:
        f.write(payload)
    with open(path, "rb") as f:
        data = f.read()
    os.unlink(path)
    return data


SCHEMA = os.path.join(os.path.dirname(__file__), "..", "..", "schemas", "scan-report.schema.json")


def scan_json(path):
    """The JSON report of `modelseal scan --json PATH`, checked against its schema."""
    import jsonschema
    r = run("scan", "--json", path)
    doc = json.loads(r.out)
    with open(SCHEMA) as f:
        jsonschema.Draft202012Validator(json.load(f)).validate(doc)
    return r, doc


class Scripted(__import__("torch").nn.Module):
    """A module for torch.jit.script (it needs the class's source, so it lives in this file)."""

    def __init__(self):
        import torch
        super().__init__()
        self.lin = torch.nn.Linear(4, 2)
        self.register_buffer("steps", torch.zeros(3, dtype=torch.int64))
        self.names = ["a", "b"]

    def forward(self, x):
        return self.lin(x).relu()


class Evasions(CliTest):
    def policy_file(self):
        path = os.path.join(self.tmp, "policy.json")
        with open(path, "w") as f:
            json.dump({"keys": [{"type": "ed25519", "path": self.pub}]}, f)
        return path

    def test_each_sample_runs_under_its_loader_and_is_refused(self):
        caught = 0
        for name, (build, loader) in SAMPLES.items():
            with self.subTest(sample=name):
                folder = os.path.join(self.tmp, "m-" + name)
                os.makedirs(folder)
                marker = os.path.join(self.tmp, "ran-" + name)
                path = os.path.join(folder, name)
                write(path, build(marker, self.tmp))
                # The loader really runs the payload.
                p = subprocess.run([PY, "-c", loader, path], capture_output=True, cwd=self.tmp, timeout=120)
                self.assertTrue(os.path.exists(marker), "%s: loader did not run the marker: %s" % (name, p.stderr[-400:]))
                # The scanner flags it, and sign refuses the folder.
                r, report = scan_json(path)
                self.assertEqual(r.rc, 1, "%s: %s" % (name, r.out))
                self.assertEqual(report["files"][0]["verdict"], "unsafe")
                s = run("sign", folder, "-k", self.key, "-q")
                self.assertEqual(s.rc, 1, "%s: sign did not refuse: %s" % (name, s.err))
                self.assertFalse(os.path.exists(os.path.join(folder, "model.sig")))
                # Signed anyway, the shim with MODELSEAL_SCAN=1 refuses the open.
                if os.path.exists(lt.SHIM):
                    s = run("sign", folder, "-k", self.key, "-q", "--insecure-allow-unsafe-content")
                    self.assertEqual(s.rc, 0, s.err)
                    env = lt.clean_env(**lt.shim_preload(), MODELSEAL_POLICY=self.policy_file(),
                                       MODELSEAL_ROOTS=folder, MODELSEAL_SCAN="1")
                    c = lt.run(["cat", path], env=env)
                    self.assertNotEqual(c.returncode, 0, "%s: shim let it through" % name)
                    self.assertIn(b"open refused", c.stderr)
                caught += 1
        print("malicious caught: %d/%d" % (caught, len(SAMPLES)), file=sys.stderr)

    def test_keras_json_as_json_loads_reads_it(self):
        layer = {"class_name": "Dense", "config": {"name": "d"}}
        texts = {
            # Repeated keys: json.loads keeps the last.
            "dup.json": b'{"class_name": "Dense", "config": {"name": "x"}, "class_name": "Lambda"}',
            "bom.json": b"\xef\xbb\xbf" + json.dumps({"class_name": "Lambda", "config": {"name": "x"}}).encode(),
            "utf16.json": json.dumps({"class_name": "Lambda", "config": {"name": "x"}}).encode("utf-16"),
            "utf32be.json": json.dumps({"class_name": "Lambda", "config": {}}).encode("utf-32-be"),
            "nan.json": b'{"w": NaN, "v": -Infinity, "layers": [{"class_name": "Lambda", "config": {}}]}',
            "surrogate.json": b'{"n": "\\ud800", "layers": [{"class_name": "\\u004cambda", "config": {}}]}',
            "deep.json": b'{"a":' * 200 + json.dumps({"class_name": "Lambda"}).encode() + b"}" * 200,
        }
        for name, data in texts.items():
            with self.subTest(doc=name):
                doc = json.loads(data)  # Python reads a Lambda layer in it
                self.assertIn("Lambda", json.dumps(doc))
                path = os.path.join(self.tmp, name)
                write(path, data)
                r, report = scan_json(path)
                self.assertEqual(r.rc, 1, "%s: %s" % (name, r.out))
                self.assertIn("Lambda", json.dumps(report))
        write(os.path.join(self.tmp, "ok.json"), json.dumps(layer).encode("utf-16"))
        self.assertEqual(run("scan", os.path.join(self.tmp, "ok.json")).rc, 0)

    def test_keras_objects_that_reach_outside_the_model(self):
        """Keras's own objects used by the safe_mode bypasses of 2025-2026: a download, a load, safe
        mode switched off, an external SavedModel, a vocabulary read from a path or URL."""
        def model(*layers):
            return {"module": "keras", "class_name": "Sequential", "config": {"name": "s", "layers": list(layers)}}
        configs = {
            "get_file": model({"module": "keras.utils", "class_name": "get_file",
                               "config": {"fname": "/tmp/x", "origin": "http://127.0.0.1:1/x"}}),
            "get_file_function": model({"class_name": "Dense", "config": {"name": "d", "activation": {
                "module": "keras.src.utils.file_utils", "class_name": "function", "config": "get_file"}}}),
            "unsafe_switch": model({"module": "keras.config", "class_name": "enable_unsafe_deserialization",
                                    "config": {}}),
            "tfsm": model({"module": "keras.layers", "class_name": "TFSMLayer",
                           "config": {"name": "t", "filepath": "/srv/other/saved_model"}}),
            "vocab_path": model({"module": "keras.layers", "class_name": "StringLookup",
                                 "config": {"name": "v", "vocabulary": "/etc/passwd"}}),
        }
        for name, cfg in configs.items():
            with self.subTest(config=name):
                path = os.path.join(self.tmp, name + ".json")
                write(path, json.dumps(cfg).encode())
                r, report = scan_json(path)
                self.assertEqual(r.rc, 1, "%s: %s" % (name, r.out))
                want = "vocabulary from a path" if name == "vocab_path" else "reaches outside the model"
                self.assertIn(want, json.dumps(report))
        fine = model({"module": "keras.layers", "class_name": "StringLookup",
                      "config": {"name": "v", "vocabulary": ["a", "b"]}},
                     {"module": "keras.layers", "class_name": "Dense", "config": {"name": "d", "activation": "relu"}})
        write(os.path.join(self.tmp, "fine.json"), json.dumps(fine).encode())
        self.assertEqual(run("scan", os.path.join(self.tmp, "fine.json")).rc, 0)

    def test_hdf5_keras_config_in_any_spelling(self):
        import h5py
        configs = {
            "spaces": '{"class_name" :  "Lambda", "config": {"name": "l"}}',
            "escapes": '{"\\u0063lass_name": "\\u004cambda", "config": {"name": "l"}}',
            "nested": json.dumps({"class_name": "Sequential", "config": {"layers": [
                {"class_name": "Lambda", "config": {"name": "l", "function": "x"}}]}}, indent=3),
        }
        for name, text in configs.items():
            with self.subTest(spelling=name):
                self.assertIn("Lambda", json.dumps(json.loads(text)))  # json.loads sees the layer
                path = os.path.join(self.tmp, name + ".h5")
                with h5py.File(path, "w") as f:
                    f.attrs["model_config"] = text
                    f["w"] = [1.0, 2.0]
                r = run("scan", path)
                self.assertEqual(r.rc, 1, r)
                self.assertIn("Lambda", r.out)
        ok = os.path.join(self.tmp, "ok.h5")
        with h5py.File(ok, "w") as f:
            f.attrs["model_config"] = json.dumps({"class_name": "Dense", "config": {"name": "d"}})
        self.assertEqual(run("scan", ok).rc, 0)

    def test_joblib_arrays_the_scanner_cannot_size_are_unsafe(self):
        import joblib
        import numpy
        from joblib.numpy_pickle import NumpyArrayWrapper

        def wrapper(shape=(3,), protocol=2, replace=(b"", b"")):
            w = NumpyArrayWrapper(numpy.ndarray, shape, "C", numpy.dtype("f4"), False, None)
            head = pickle.dumps(w, protocol=protocol)
            if replace[0]:
                self.assertIn(replace[0], head)
                head = head.replace(*replace)
            return head[:-1] + b"\0" * 12 + b"."

        cases = {
            # numpy.dtype("float32") is the same dtype, spelled otherwise than numpy's reduce does
            "dtype_spelled.joblib": wrapper(replace=(b"X\x02\x00\x00\x00f4", b"X\x07\x00\x00\x00float32")),
            "shape_list.joblib": wrapper(shape=[3]),
            # protocol 4 frames the whole pickle: joblib reads the array from after the frame
            "in_frame.joblib": wrapper(protocol=4),
        }
        for name, data in cases.items():
            with self.subTest(case=name):
                path = os.path.join(self.tmp, name)
                write(path, data)
                if name != "in_frame.joblib":  # joblib.load reads these two as the array they are
                    self.assertEqual(list(joblib.load(path)), [0.0, 0.0, 0.0])
                r = run("scan", path)
                self.assertEqual(r.rc, 1, r.out)
                self.assertIn("the scanner cannot tell where its array data ends", r.out)

    def test_joblib_array_bytes_that_pickle_load_reads_on_the_outer_dict(self):
        # The array bytes are "s.": pickle.load reads them as SETITEM on the dict that holds the
        # wrapper (a value of the stack it goes on from), then STOP; joblib.load as two bytes.
        import joblib
        import numpy
        from joblib.numpy_pickle import NumpyArrayWrapper
        w = NumpyArrayWrapper(numpy.ndarray, (2,), "C", numpy.dtype("u1"), False, None)
        head = pickle.dumps({"a": w}, protocol=2)
        self.assertTrue(head.endswith(b"bs."))
        path = os.path.join(self.tmp, "outer.joblib")
        write(path, head[:-2] + b"s." + b"s.")
        self.assertEqual(bytes(joblib.load(path)["a"]), b"s.")
        self.assertIsInstance(pickle.load(open(path, "rb"))["a"], NumpyArrayWrapper)
        r, report = scan_json(path)
        self.assertEqual(r.rc, 0, r.out)
        self.assertEqual(report["files"][0]["verdict"], "safe")

    def test_archives_no_loader_opens_are_unsafe_unless_skipped(self):
        for name, head in (("m.7z", b"7z\xbc\xaf\x27\x1c\x00\x04"), ("m.rar", b"Rar!\x1a\x07\x01\x00"),
                           ("m.zst", b"\x28\xb5\x2f\xfd")):
            with self.subTest(archive=name):
                path = os.path.join(self.tmp, name)
                write(path, head + os.urandom(200))
                r = run("scan", path)
                self.assertEqual(r.rc, 1, r)
                self.assertIn("no model loader opens it", r.out)
                self.assertEqual(run("scan", "--insecure-skip-archives", path).rc, 0)

    def test_compressed_wrappers_truncated_and_capped(self):
        import gzip
        path = os.path.join(self.tmp, "t.gz")
        whole = gzip.compress(evil(os.path.join(self.tmp, "never")))
        # Truncated inside the stream: what decompresses before the cut still imports os.system.
        write(path, whole[: len(whole) - 12])
        r = run("scan", path)
        self.assertEqual(r.rc, 1, r)
        self.assertIn("system", r.out)
        # Two gzip members: Python's gzip reads both, so does the scanner.
        write(path, gzip.compress(pickle.dumps([1])) + gzip.compress(b"N." + evil("x")))
        r = run("scan", path)
        self.assertEqual(r.rc, 1, r)
        self.assertIn("system", r.out)

    def test_lzma_dictionary_over_the_memory_limit_is_unsafe(self):
        # A legacy .lzma header asking for a 2 GiB dictionary: Python's lzma would allocate it.
        path = os.path.join(self.tmp, "huge.lzma")
        write(path, b"\x5d\x00\x00\x00\x80" + b"\xff" * 8 + os.urandom(64))
        r = run("scan", path)
        self.assertEqual(r.rc, 1, r)
        self.assertIn("decoder memory", r.out)

    def test_random_data_has_no_finding_above_low(self):
        rng = random.Random(19)
        folder = os.path.join(self.tmp, "random")
        # Found by bench_random.py: MARK, INST of a module name no import can find, then junk.
        write(os.path.join(folder, "inst_junk.bin"),
              bytes.fromhex("2869fba36fae17fd9f7bb854392bb30997edd493c53d016eb66c8f09c9aa61cb") + b"\n" +
              b"x.y\n" + rng.randbytes(2000))
        for i in range(300):
            size = rng.choice([1024, 4096, 65536, 1 << 20]) if i % 10 == 0 else rng.randint(1024, 65536)
            write(os.path.join(folder, "r%03d.bin" % i), rng.randbytes(size))
        r, report = scan_json(folder)
        bad = [(f["path"], f["findings"]) for f in report["files"]
               if any(x["severity"] != "low" for x in f["findings"]) or f.get("error")]
        self.assertEqual(bad, [])
        self.assertEqual(r.rc, 0, r.out[-2000:])
        self.sign(folder)

    def test_benign_corpus_passes(self):
        import numpy
        import torch
        folder = os.path.join(self.tmp, "benign")
        os.makedirs(folder)
        t = torch.arange(12, dtype=torch.float32).reshape(3, 4)
        objs = {
            "f32.pt": {"w": t}, "bf16.pt": {"w": t.to(torch.bfloat16)}, "f16.pt": {"w": t.half()},
            "complex.pt": {"w": torch.complex(t, t)}, "int8.pt": {"w": t.to(torch.int8)},
            "bool.pt": {"w": t > 3}, "sparse_coo.pt": {"w": t.to_sparse()},
            "sparse_csr.pt": {"w": t.to_sparse_csr()},
            "quantized.pt": {"w": torch.quantize_per_tensor(t, 0.1, 0, torch.qint8)},
            "param.pt": {"w": torch.nn.Parameter(t)}, "module_state.pt": torch.nn.Linear(4, 2).state_dict(),
            "nested_list.pt": [t, (t, {"a": t})], "scalar.pt": torch.tensor(3.0),
            "per_channel.pt": {"w": torch.quantize_per_channel(t, torch.tensor([0.1, 0.2, 0.3]), torch.tensor([0, 0, 0]),
                                                               0, torch.qint8)},
            "quint8.pt": {"w": torch.quantize_per_tensor(t, 0.1, 3, torch.quint8)},
            "qint32.pt": {"w": torch.quantize_per_tensor(t, 0.1, 0, torch.qint32)},
            "f64_i16_c128.pt": {"a": t.double(), "b": t.short(), "c": torch.complex(t.double(), t.double())},
            "meta.pt": {"w": torch.empty(3, device="meta")}, "transposed.pt": {"w": t.t()},
            "shared_views.pt": (lambda b: [b, b[1:], b.view(2, 6)])(t.clone()),
        }
        # Not in this list: named tensors, nested tensors and sparse CSC/BSR, which this torch
        # (1.13) cannot save, and fp8 dtypes, which it does not have (their globals are allowed).
        lin = torch.nn.Linear(4, 2)
        opt = torch.optim.Adam(lin.parameters())
        lin(t).sum().backward()
        opt.step()
        objs["optimizer.pt"] = opt.state_dict()
        sched = torch.optim.lr_scheduler.StepLR(opt, 1)
        objs["scheduler.pt"] = sched.state_dict()
        for name, obj in objs.items():
            torch.save(obj, os.path.join(folder, name))
            torch.save(obj, os.path.join(folder, "legacy-" + name), _use_new_zipfile_serialization=False)
        numpy.save(os.path.join(folder, "plain.npy"), numpy.arange(10.0))
        numpy.save(os.path.join(folder, "structured.npy"),
                   numpy.zeros(3, dtype=[("O", "<f4"), ("object", "<i8"), ("descr", "S3")]))
        numpy.savez(os.path.join(folder, "arrays.npz"), a=numpy.arange(3), b=numpy.ones((2, 2)))
        numpy.savez_compressed(os.path.join(folder, "arrays_z.npz"), a=numpy.arange(3))
        # TorchScript (torch.jit.save): scripted, traced, and a quantized module whose packed
        # parameters are a TorchBind class with a __setstate__.
        torch.jit.script(Scripted()).save(os.path.join(folder, "scripted.pt"))
        torch.jit.trace(torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2)),
                        torch.randn(1, 1, 5, 5)).save(os.path.join(folder, "traced.pt"))
        q = torch.ao.quantization.quantize_dynamic(torch.nn.Sequential(torch.nn.Linear(4, 4)), {torch.nn.Linear},
                                                   dtype=torch.qint8)
        torch.jit.script(q).save(os.path.join(folder, "quantized_scripted.pt"))
        # KerasHub-style configs and a tokenizer vocabulary, as json.loads and text readers see them.
        write(os.path.join(folder, "keras_hub_config.json"), json.dumps({
            "module": "keras_hub.src.models.gemma.gemma_backbone", "class_name": "GemmaBackbone",
            "config": {"name": "gemma_backbone", "trainable": True, "vocabulary_size": 256000, "num_layers": 18,
                       "num_query_heads": 8, "num_key_value_heads": 1, "hidden_dim": 2048,
                       "intermediate_dim": 32768, "head_dim": 256, "layer_norm_epsilon": 1e-06,
                       "dropout": 0, "dtype": {"module": "keras", "class_name": "DTypePolicy",
                                               "config": {"name": "bfloat16"}, "registered_name": None}},
            "registered_name": "keras_hub>GemmaBackbone"}, indent=4).encode())
        write(os.path.join(folder, "keras_hub_tokenizer.json"), json.dumps({
            "module": "keras_hub.src.models.gemma.gemma_tokenizer", "class_name": "GemmaTokenizer",
            "config": {"name": "gemma_tokenizer", "trainable": True, "dtype": "int32", "proto": None,
                       "sequence_length": None, "add_bos": False, "add_eos": False},
            "registered_name": "keras_hub>GemmaTokenizer", "assets": ["assets/tokenizer/vocabulary.spm"],
            "weights": None}).encode())
        # A legacy Keras HDF5 file as h5py writes it: weights (one dataset compressed) and the
        # model_config and training_config attributes of plain layers.
        import h5py
        with h5py.File(os.path.join(folder, "keras_legacy.h5"), "w") as f:
            f.attrs["model_config"] = json.dumps({"class_name": "Sequential", "config": {"name": "s", "layers": [
                {"class_name": "Dense", "config": {"name": "d", "units": 2, "activation": "relu"}}]}})
            f.attrs["training_config"] = json.dumps({"loss": "mse", "optimizer_config": {"class_name": "Adam"}})
            g = f.create_group("model_weights/d")
            g.create_dataset("kernel:0", data=numpy.ones((4, 2), dtype="<f4"))
            g.create_dataset("bias:0", data=numpy.zeros(2, dtype="<f4"), compression="gzip")
        write(os.path.join(folder, "vocab.txt"), "\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] +
                                                     ["w%d" % i for i in range(3000)] + ["##ing", "café"]).encode())
        import joblib
        arrays = {"f32": numpy.arange(10, dtype="<f4"), "fortran": numpy.asfortranarray(numpy.ones((3, 2))),
                  "unicode": numpy.array(["ab", "c"]), "bytes": numpy.array([b"xy"]), "empty": numpy.zeros((0, 5)),
                  "datetime": numpy.array(["2020-01-01"], dtype="M8[D]"), "bool": numpy.array([True]),
                  "objects": numpy.array([1, "x", None], dtype=object), "scalar": numpy.float32(3),
                  "structured": numpy.zeros(3, dtype=[("O", "<f4"), ("object", "O")]),
                  "big_endian": numpy.arange(5, dtype=">i8"), "f16": numpy.ones(7, dtype="<f2")}
        for p in range(6):  # protocols 0 and 1 build instances with copyreg._reconstructor
            joblib.dump(arrays, os.path.join(folder, "arrays_p%d.joblib" % p), protocol=p)
        joblib.dump(arrays, os.path.join(folder, "arrays.joblib.gz"), compress=("gzip", 3))
        joblib.dump([numpy.dtype("f4"), arrays["f32"]], os.path.join(folder, "dtype_first.joblib"))
        write(os.path.join(folder, "words.txt"), b"cat\ndog\nelephant\nin\nto\nof\nsystem\nos\n")
        write(os.path.join(folder, "config.json"), json.dumps({"hidden_size": 8, "x": float("nan")}).encode())
        write(os.path.join(folder, "model.safetensors"), safetensors_bytes())
        r, report = scan_json(folder)
        blocked = [(f["path"], f["findings"], f.get("error")) for f in report["files"] if f["verdict"] == "unsafe"]
        print("benign passed: %d/%d" % (len(report["files"]) - len(blocked), len(report["files"])), file=sys.stderr)
        self.assertGreaterEqual(len(report["files"]), 30)
        self.assertEqual(blocked, [])
        self.assertEqual(r.rc, 0)


if __name__ == "__main__":
    unittest.main()
