#!/usr/bin/python3
"""Generates the scanner's test corpus with the Python standard library only.

    gen_corpus.py OUTDIR     writes the files and OUTDIR/expected.json

expected.json lists, per file: the verdict the scanner must give, the format when it
matters, and a substring that one finding (or the error) must contain.
No sample is committed: every byte is produced here, at test time.
"""
import io
import json
import os
import pickle
import struct
import sys
import tarfile
import types
import zipfile
import zlib

# ---------------------------------------------------------------------------------------
# Stand-ins for torch and numpy, so pickles reference exactly the globals the real
# libraries write, without the libraries.


def fake_module(name):
    mod = types.ModuleType(name)
    sys.modules[name] = mod
    return mod


def fake_function(module, qualname):
    mod = sys.modules.get(module) or fake_module(module)

    def f(*args):
        return args

    f.__module__ = module
    f.__qualname__ = f.__name__ = qualname
    setattr(mod, qualname, f)
    return f


def fake_class(module, qualname):
    mod = sys.modules.get(module) or fake_module(module)
    cls = type(qualname, (), {"__module__": module})
    cls.__qualname__ = qualname
    setattr(mod, qualname, cls)
    return cls


for m in ["torch", "torch._utils", "numpy", "numpy.core", "numpy.core.multiarray", "mypkg"]:
    fake_module(m)
rebuild_tensor_v2 = fake_function("torch._utils", "_rebuild_tensor_v2")
rebuild_parameter = fake_function("torch._utils", "_rebuild_parameter")
FloatStorage = fake_class("torch", "FloatStorage")
np_reconstruct = fake_function("numpy.core.multiarray", "_reconstruct")
np_ndarray = fake_class("numpy", "ndarray")
np_dtype = fake_class("numpy", "dtype")
evil_thing = fake_function("mypkg", "innocent_looking")


class Storage:
    """Pickled by persistent id, as torch.save does."""

    def __init__(self, key, numel):
        self.key, self.numel = key, numel


class Tensor:
    def __init__(self, storage, shape):
        self.storage, self.shape = storage, shape

    def __reduce__(self):
        stride = tuple(int(x) for x in [1] * len(self.shape))
        from collections import OrderedDict
        return (rebuild_tensor_v2, (self.storage, 0, self.shape, stride, False, OrderedDict()))


class TorchPickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            return ("storage", FloatStorage, obj.key, "cpu", obj.numel)
        return None


def torch_pickle(obj, protocol=2):
    buf = io.BytesIO()
    TorchPickler(buf, protocol=protocol).dump(obj)
    return buf.getvalue()


def state_dict(n=3):
    from collections import OrderedDict
    sd = OrderedDict()
    for i in range(n):
        sd["layer%d.weight" % i] = Tensor(Storage(str(i), 4), (2, 2))
    return sd


class Reduce:
    """An object whose unpickling calls func(*args)."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return (self.func, self.args)


# ---------------------------------------------------------------------------------------
# Raw opcode helpers for hand-made streams.

P = pickle


def proto(n):
    return P.PROTO + bytes([n])


def sbu(s):  # SHORT_BINUNICODE
    b = s.encode()
    return b"\x8c" + bytes([len(b)]) + b


def binunicode(s):
    b = s.encode()
    return P.BINUNICODE + struct.pack("<I", len(b)) + b


def binunicode8(s):
    b = s.encode()
    return b"\x8d" + struct.pack("<Q", len(b)) + b


def short_binstring(s):
    return P.SHORT_BINSTRING + bytes([len(s)]) + s.encode()


def binstring(s):
    return P.BINSTRING + struct.pack("<i", len(s)) + s.encode()


def call_with_str_arg(arg="id"):
    return sbu(arg) + b"\x85" + P.REDUCE + P.STOP  # TUPLE1 REDUCE STOP


def stack_global(mod_op, name_op):
    return proto(4) + mod_op + name_op + b"\x93" + call_with_str_arg()


# ---------------------------------------------------------------------------------------
# Containers and formats.


def zip_bytes(members, method=zipfile.ZIP_STORED):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=method) as z:
        for name, data in members:
            z.writestr(zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0)) if method == zipfile.ZIP_STORED
                       else name, data)
    return buf.getvalue()


def torch_zip(data_pkl, extra=(), method=zipfile.ZIP_STORED):
    members = [("archive/data.pkl", data_pkl), ("archive/byteorder", b"little"),
               ("archive/data/0", struct.pack("<4f", 1, 2, 3, 4)), ("archive/version", b"3\n")]
    return zip_bytes(members + list(extra), method)


TORCH_MAGIC = 0x1950A86A20F9469CFC6C


def torch_legacy(main_obj, keys=("0",), sys_info_obj=None, storage_keys_obj=None):
    out = pickle.dumps(TORCH_MAGIC, protocol=2)
    out += pickle.dumps(1001, protocol=2)
    out += pickle.dumps(sys_info_obj if sys_info_obj is not None else
                        {"protocol_version": 1001, "little_endian": True,
                         "type_sizes": {"short": 2, "int": 4, "long": 4}}, protocol=2)
    out += torch_pickle(main_obj)
    out += pickle.dumps(storage_keys_obj if storage_keys_obj is not None else list(keys), protocol=2)
    for _ in keys:
        out += struct.pack("<q", 4) + struct.pack("<4f", 1, 2, 3, 4)
    return out


def npy(descr, shape, data, version=1):
    header = "{'descr': %r, 'fortran_order': False, 'shape': %r, }" % (descr, shape)
    pre = 10 if version == 1 else 12
    pad = 64 - (pre + len(header) + 1) % 64
    header = (header + " " * pad + "\n").encode("latin1")
    size = struct.pack("<H", len(header)) if version == 1 else struct.pack("<I", len(header))
    return b"\x93NUMPY" + bytes([version, 0]) + size + header + data


def object_array_pickle(items):
    """What numpy writes for an object array: pickle.dump(array, protocol=3)."""

    class Arr:
        def __reduce__(self):
            return (np_reconstruct, (np_ndarray, (0,), b"b"),
                    (1, (len(items),), Reduce(np_dtype, "O8", False, True), False, list(items)))

    return pickle.dumps(Arr(), protocol=3)


def safetensors(tensors, metadata=None, trailing=b"", header_override=None, pad=0):
    header, data, off = {}, b"", 0
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + len(raw)]}
        data += raw
        off += len(raw)
    text = header_override if header_override is not None else json.dumps(header).encode()
    text += b" " * pad
    return struct.pack("<Q", len(text)) + text + data + trailing


def gguf_string(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack("<Q", len(b)) + b


def gguf(kvs=None, tensors=None, version=3, alignment=None, trailing=b"", raw_kv=b"", n_kv=None,
         n_tensors=None, offsets=None):
    if kvs is None:
        kvs = [("general.architecture", 8, gguf_string("llama")), ("general.name", 8, gguf_string("tiny")),
               ("llama.block_count", 4, struct.pack("<I", 2)), ("general.flag", 7, b"\x01"),
               ("tokenizer.ggml.tokens", 9, struct.pack("<IQ", 8, 2) + gguf_string("a") + gguf_string("b")),
               ("tokenizer.ggml.scores", 9, struct.pack("<IQ", 6, 2) + struct.pack("<2f", 0.5, 0.25))]
    if alignment is not None:
        kvs = kvs + [("general.alignment", 4, struct.pack("<I", alignment))]
    align = alignment or 32
    if tensors is None:
        tensors = [("tok.weight", [32, 2], 0, 32 * 2 * 4), ("q.weight", [64], 8, 2 * 34), ("norm", [3], 0, 12)]
    body = b""
    for k, t, v in kvs:
        body += gguf_string(k) + struct.pack("<I", t) + v
    body += raw_kv
    infos, off, datas = b"", 0, b""
    for i, (name, dims, typ, nbytes) in enumerate(tensors):
        o = offsets[i] if offsets else off
        infos += gguf_string(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims)
        infos += struct.pack("<I", typ) + struct.pack("<Q", o)
        datas += b"\x11" * nbytes
        padn = (align - nbytes % align) % align
        datas += b"\x00" * padn
        off += nbytes + padn
    head = b"GGUF" + struct.pack("<I", version)
    head += struct.pack("<Q", len(tensors) if n_tensors is None else n_tensors)
    head += struct.pack("<Q", len(kvs) + (1 if raw_kv else 0) if n_kv is None else n_kv)
    out = head + body + infos
    out += b"\x00" * ((align - len(out) % align) % align)
    return out + datas + trailing


def keras_config(lambda_layer=False):
    layers = [{"module": "keras.layers", "class_name": "InputLayer", "config": {"name": "input"}},
              {"module": "keras.layers", "class_name": "Dense", "config": {"name": "dense", "units": 4}}]
    if lambda_layer:
        layers.append({"module": "keras.layers", "class_name": "Lambda",
                       "config": {"name": "lambda", "function": {"class_name": "__lambda__",
                                                                 "config": {"code": "4wEAAAAAAAAA"}}}})
    return json.dumps({"module": "keras", "class_name": "Sequential",
                       "config": {"name": "seq", "layers": layers}}).encode()


def hdf5_like(config):
    sig = b"\x89HDF\r\n\x1a\n"
    return sig + b"\x00" * 1000 + b"model_config\x00" + config + b"\x00" * 2000


def tar_bytes(members):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as t:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 0
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def patch_local_name(z, old, new):
    i = z.index(b"PK\x03\x04" + z[z.index(b"PK\x03\x04") + 4: z.index(b"PK\x03\x04") + 4])  # first local
    at = z.index(old, i)
    assert len(old) == len(new)
    return z[:at] + new + z[at + len(old):]


# ---------------------------------------------------------------------------------------


def build():
    """Returns [(name, bytes, verdict, format or None, expected substring or None)]."""
    c = []

    def add(name, data, verdict, fmt=None, expect=None):
        c.append((name, data, verdict, fmt, expect))

    plain = {"a": [1, 2.5, "x", b"y", (1, 2), None, True], "b": {1, 2}, "c": frozenset([3]),
             "d": bytearray(b"z"), "big": 2 ** 100, "s": "long string " * 40}
    evil = Reduce(os.system, "id")
    for p in range(6):
        add("benign/plain_p%d.pkl" % p, pickle.dumps(plain, protocol=p), "safe", "pickle")
        add("benign/state_dict_p%d.pkl" % p, torch_pickle(state_dict(), protocol=p), "safe", "pickle")
        add("malicious/os_system_p%d.pkl" % p, pickle.dumps({"x": evil}, protocol=p), "unsafe", "pickle", "system")
        add("malicious/eval_p%d.pkl" % p, pickle.dumps(Reduce(eval, "1+1"), protocol=p), "unsafe", "pickle",
            "critical: global " + ("__builtin__" if p < 3 else "builtins") + ".eval")
        add("malicious/unknown_global_p%d.pkl" % p, pickle.dumps(Reduce(evil_thing, 1), protocol=p), "unsafe",
            "pickle", "mypkg.innocent_looking")
    import subprocess, runpy, importlib, marshal, socket, webbrowser, shutil, ctypes
    denied = {"exec": exec, "getattr": getattr, "import": __import__, "popen": subprocess.Popen,
              "runpy": runpy.run_path, "importlib": importlib.import_module, "pickle_loads": pickle.loads,
              "marshal": marshal.loads, "socket": socket.create_connection, "webbrowser": webbrowser.open,
              "shutil": shutil.rmtree, "ctypes": ctypes.CDLL}
    try:
        import pty
        denied["pty"] = pty.spawn
    except ImportError:
        pass
    for name, f in denied.items():
        add("malicious/denied_%s.pkl" % name, pickle.dumps(Reduce(f, "x"), protocol=2), "unsafe", "pickle",
            "critical:")

    # --- bypass techniques, hand-made streams
    add("bypass/stack_global_memo_get.pkl",
        proto(4) + sbu("os") + b"\x94" + sbu("system") + b"\x94" + P.POP + P.POP +
        P.BINGET + b"\x00" + P.BINGET + b"\x01" + b"\x93" + call_with_str_arg(), "unsafe", "pickle", "os.system")
    # MEMOIZE stores at len(memo): after PUT 1, MEMOIZE overwrites key 1.
    add("bypass/memoize_put_mix.pkl",
        proto(4) + sbu("decoy") + P.BINPUT + b"\x01" + P.POP + sbu("os") + b"\x94" + P.POP + sbu("json") +
        P.BINPUT + b"\x00" + P.POP + P.BINGET + b"\x01" + sbu("system") + b"\x93" + call_with_str_arg(),
        "unsafe", "pickle", "os.system")
    add("bypass/long_binput.pkl",
        proto(2) + sbu("subprocess") + P.LONG_BINPUT + struct.pack("<I", 70000) + P.POP +
        P.LONG_BINGET + struct.pack("<I", 70000) + sbu("call") + b"\x93" + call_with_str_arg(),
        "unsafe", "pickle", "subprocess.call")
    add("bypass/put_get_text.pkl",
        b"S'posix'\np7\n0g7\nS'system'\n\x93" + call_with_str_arg(), "unsafe", "pickle", "posix.system")
    add("bypass/string_escapes.pkl", proto(2) + b"S'o\\x73'\nS'sy\\163tem'\n\x93" + call_with_str_arg(),
        "unsafe", "pickle", "os.system")
    add("bypass/unicode_escapes.pkl", b"Vo\\u0073\nV\\u0073ystem\n\x93" + call_with_str_arg(),
        "unsafe", "pickle", "os.system")
    add("bypass/binstring.pkl", proto(2) + binstring("os") + short_binstring("system") + b"\x93" +
        call_with_str_arg(), "unsafe", "pickle", "os.system")
    add("bypass/binunicode8.pkl", stack_global(binunicode("nt"), binunicode8("system")), "unsafe", "pickle",
        "nt.system")
    add("bypass/inst.pkl", b"(S'id'\nios\nsystem\n.", "unsafe", "pickle", "os.system")
    add("bypass/obj.pkl", b"(cos\nsystem\nS'id'\no.", "unsafe", "pickle", "os.system")
    add("bypass/dotted_eval_call.pkl", stack_global(sbu("builtins"), sbu("eval.__call__")), "unsafe", "pickle",
        "builtins.eval.__call__")
    add("bypass/dotted_allowlisted_prefix.pkl",
        stack_global(sbu("collections"), sbu("OrderedDict.__init__.__globals__")), "unsafe", "pickle",
        "critical:")
    add("bypass/builtin_py2_alias.pkl", b"c__builtin__\neval\n(S'1'\ntR.", "unsafe", "pickle", "__builtin__.eval")
    nested_evil = pickle.dumps(Reduce(os.system, "id"), protocol=4)
    add("bypass/nested_pickle_loads.pkl", pickle.dumps(Reduce(pickle.loads, nested_evil), protocol=4),
        "unsafe", "pickle", "pickle@")
    add("bypass/nested_pickle_codecs.pkl", pickle.dumps(Reduce(pickle.loads, nested_evil), protocol=2),
        "unsafe", "pickle", "pickle@")
    # A FRAME that ends inside an opcode: the C unpickler does not care, frame-trusting scanners do.
    body = sbu("os") + sbu("system") + b"\x93" + call_with_str_arg()
    add("bypass/frame_mismatch.pkl", proto(4) + b"\x95" + struct.pack("<Q", 3) + body, "unsafe", "pickle",
        "os.system")
    add("bypass/frame_hides_global.pkl",
        proto(4) + b"\x95" + struct.pack("<Q", 2) + P.EMPTY_DICT + P.POP + b"\x95" + struct.pack("<Q", len(body)) +
        body, "unsafe", "pickle", "os.system")
    add("bypass/concatenated.pkl", pickle.dumps(plain, protocol=4) + pickle.dumps(evil, protocol=4), "unsafe",
        "pickle", "system")
    add("bypass/concatenated_p0.pkl", pickle.dumps([1], protocol=0) + b"cos\nsystem\n(S'id'\ntR.", "unsafe",
        "pickle", "os.system")
    # An unregistered extension code: CPython raises before anything runs.
    add("bypass/ext_registry.pkl", proto(2) + b"\x82\x01" + P.EMPTY_TUPLE + P.REDUCE + P.STOP, "unknown", "pickle",
        "extension")
    add("bypass/ext_after_add_extension.pkl", proto(2) + b"ccopyreg\nadd_extension\n" + P.EMPTY_TUPLE + P.REDUCE +
        P.POP + b"\x82\x01" + P.EMPTY_TUPLE + P.REDUCE + P.STOP, "unsafe", "pickle", "extension")
    add("bypass/build_on_global.pkl",
        proto(2) + b"ccollections\nOrderedDict\n" + P.NONE + P.EMPTY_DICT + sbu("x") + P.NONE + P.SETITEM +
        P.TUPLE2 + P.BUILD + P.STOP, "unsafe", "pickle", "BUILD")
    # Broken before any import: every unpickler fails first, so nothing can run.
    add("bypass/truncated_after_proto.pkl", pickle.dumps(plain, protocol=4)[:40], "unknown", "pickle",
        "not a loadable pickle")
    add("bypass/no_proto_global_then_junk.pkl", b"cos\nsystem\n\xff\xff", "unsafe", "pickle", "os.system")
    add("bypass/protocol_bump.pkl", proto(2) + P.NONE + P.POP + proto(4) + sbu("os") + sbu("system") + b"\x93" +
        call_with_str_arg(), "unsafe", "pickle", "os.system")
    add("bypass/computed_name.pkl",
        proto(4) + b"cbuiltins\nstr\n" + sbu("os") + b"\x85R" + sbu("system") + b"\x93" + call_with_str_arg(),
        "unsafe", "pickle", "computed")
    add("bypass/wrong_extension.safetensors", pickle.dumps(evil, protocol=2), "unsafe", "pickle", "system")

    # --- PyTorch
    add("torch/benign_zip.pt", torch_zip(torch_pickle(state_dict())), "safe", "pytorch-zip")
    add("torch/benign_zip_deflated.pt", torch_zip(torch_pickle(state_dict()), method=zipfile.ZIP_DEFLATED),
        "safe", "pytorch-zip")
    add("torch/malicious_zip.pt", torch_zip(pickle.dumps({"w": evil}, protocol=2)), "unsafe", "pytorch-zip",
        "archive/data.pkl")
    add("torch/malicious_zip_deflated.pt",
        torch_zip(pickle.dumps({"w": evil}, protocol=2), method=zipfile.ZIP_DEFLATED), "unsafe", None, "system")
    add("torch/malicious_other_member.pt",
        torch_zip(torch_pickle(state_dict()), extra=[("archive/extra/hook.bin", pickle.dumps(evil, protocol=2))]),
        "unsafe", "pytorch-zip", "hook.bin")
    good = torch_zip(torch_pickle(state_dict()))
    enc = bytearray(good)
    for sig in (b"PK\x03\x04", b"PK\x01\x02"):
        i = enc.index(sig)
        flag_at = i + (6 if sig == b"PK\x03\x04" else 8)
        enc[flag_at] |= 1
    add("torch/flag_encrypted.pt", bytes(enc), "unsafe", None, "encrypted")
    bad_name = bytearray(good)
    i = bad_name.index(b"archive/data.pkl")  # the first occurrence is the local header's
    bad_name[i:i + 16] = b"archive/data.pkx"
    add("torch/local_name_mismatch.pt", bytes(bad_name), "unsafe", None, "name")
    evil_zip = torch_zip(pickle.dumps({"w": evil}, protocol=2))
    bad_crc = bytearray(evil_zip)
    j = bad_crc.index(b"PK\x01\x02")
    bad_crc[j + 16] ^= 0xFF
    k = bad_crc.index(b"PK\x03\x04")
    bad_crc[k + 14] ^= 0xFF
    add("torch/bad_crc_malicious.pt", bytes(bad_crc), "unsafe", None, "system")
    bad_crc_benign = bytearray(good)
    j = bad_crc_benign.index(b"PK\x01\x02")
    bad_crc_benign[j + 16] ^= 0xFF
    add("torch/bad_crc_benign.pt", bytes(bad_crc_benign), "unsafe", None, "CRC")
    add("torch/benign_legacy.bin", torch_legacy(state_dict(1)), "safe", "pytorch-legacy")
    add("torch/legacy_malicious_main.bin", torch_legacy({"w": evil}), "unsafe", "pytorch-legacy", "system")
    add("torch/legacy_malicious_sysinfo.bin", torch_legacy(state_dict(1), sys_info_obj=evil), "unsafe",
        "pytorch-legacy", "system")
    add("torch/legacy_malicious_keys.bin", torch_legacy(state_dict(1), storage_keys_obj=evil), "unsafe",
        "pytorch-legacy", "system")
    add("torch/legacy_truncated.bin", torch_legacy(state_dict(1))[:120], "unknown", "pytorch-legacy", "5 pickles")
    add("torch/legacy_tar.tar", tar_bytes([("sys_info", pickle.dumps({}, protocol=2)),
                                           ("pickle", pickle.dumps(evil, protocol=2))]), "unsafe", "tar", "system")
    add("torch/zip_in_zip.zip", zip_bytes([("inner.pt", evil_zip)]), "unsafe", None, "system")

    # --- NumPy
    f32 = struct.pack("<4f", 1, 2, 3, 4)
    add("numpy/float.npy", npy("<f4", (4,), f32), "safe", "numpy")
    add("numpy/float_v2.npy", npy("<f4", (2, 2), f32, version=2), "safe", "numpy")
    add("numpy/object_benign.npy", npy("|O", (2,), object_array_pickle([1, "a"])), "safe", "numpy")
    evil_obj = object_array_pickle([evil])
    add("numpy/object_malicious.npy", npy("|O", (1,), evil_obj), "unsafe", "numpy", "system")
    add("numpy/structured_object.npy", npy([("a", "<i4"), ("b", "|O")], (1,), evil_obj), "unsafe", "numpy",
        "system")
    add("numpy/benign.npz", zip_bytes([("a.npy", npy("<f4", (4,), f32)), ("b.npy", npy("<i8", (0,), b""))]),
        "safe", "npz")
    add("numpy/benign_compressed.npz",
        zip_bytes([("a.npy", npy("<f4", (4,), f32 * 100))], zipfile.ZIP_DEFLATED), "safe", "npz")
    add("numpy/object_malicious.npz",
        zip_bytes([("a.npy", npy("<f4", (4,), f32)), ("b.npy", npy("|O", (1,), evil_obj))], zipfile.ZIP_DEFLATED),
        "unsafe", "npz", "b.npy")
    add("numpy/bad_header.npy", b"\x93NUMPY\x01\x00\xff\x00{'descr'", "unsafe", "numpy", "header")

    # --- Keras
    add("keras/benign.keras", zip_bytes([("metadata.json", b'{"keras_version": "3.0.0"}'),
                                         ("config.json", keras_config())], zipfile.ZIP_DEFLATED), "safe", "keras")
    add("keras/lambda.keras", zip_bytes([("metadata.json", b'{"keras_version": "3.0.0"}'),
                                         ("config.json", keras_config(True))], zipfile.ZIP_DEFLATED), "unsafe",
        "keras", "Lambda")
    add("keras/benign.h5", hdf5_like(keras_config()), "safe", "hdf5")
    add("keras/lambda.h5", hdf5_like(keras_config(True)), "unsafe", "hdf5", "Lambda")
    add("keras/lambda_config.json", keras_config(True), "unsafe", "json", "Lambda")
    add("keras/custom_module.json", json.dumps({"module": "os", "class_name": "system", "config": {}}).encode(),
        "unsafe", "json", "os.system")

    # --- safetensors
    t = [("a", "F32", [2, 2], f32), ("b", "BF16", [3], b"\x00" * 6), ("empty", "I64", [0], b""),
         ("c", "U8", [5], b"\x01" * 5)]
    add("safetensors/valid.safetensors", safetensors(t, {"format": "pt"}), "safe", "safetensors")
    add("safetensors/valid_padded.safetensors", safetensors(t, pad=7), "safe", "safetensors")
    add("safetensors/valid.bin", safetensors(t), "safe", "safetensors")

    def st_bad(name, data, expect):
        add("safetensors/bad_%s.safetensors" % name, data, "unsafe", "safetensors", expect)

    good_st = safetensors(t)
    st_bad("header_len_past_end", struct.pack("<Q", len(good_st)) + good_st[8:], "past the end")
    st_bad("not_json", safetensors([], header_override=b"{not json}"), "")
    st_bad("not_object", safetensors([], header_override=b'{"a": 1}'), "not an object")
    st_bad("dtype", safetensors([("a", "F33", [1], b"\x00" * 4)]), "dtype")
    st_bad("shape_size", safetensors([("a", "F32", [3], b"\x00" * 8)]), "need")
    st_bad("trailing", safetensors(t, trailing=b"\x00"), "trailing")
    hdr = {"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
           "b": {"dtype": "F32", "shape": [1], "data_offsets": [2, 6]}}
    st_bad("overlap", safetensors([], header_override=json.dumps(hdr).encode()) + b"\x00" * 6, "overlap")
    hdr = {"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}
    st_bad("hole_at_start", safetensors([], header_override=json.dumps(hdr).encode()) + b"\x00" * 8, "hole")
    hdr = {"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
           "b": {"dtype": "F32", "shape": [1], "data_offsets": [8, 12]}}
    st_bad("hole", safetensors([], header_override=json.dumps(hdr).encode()) + b"\x00" * 12, "hole")
    hdr = {"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}
    st_bad("truncated_data", safetensors([], header_override=json.dumps(hdr).encode()) + b"\x00" * 2, "ends at")
    st_bad("duplicate_key", safetensors([], header_override=b'{"a": {"dtype": "U8", "shape": [1], '
                                                           b'"data_offsets": [0, 1]}, "a": {"dtype": "U8", '
                                                           b'"shape": [1], "data_offsets": [0, 1]}}') + b"\x00", "")
    st_bad("negative_shape", safetensors([], header_override=b'{"a": {"dtype": "U8", "shape": [-1], '
                                                             b'"data_offsets": [0, 0]}}'), "natural")
    st_bad("float_shape", safetensors([], header_override=b'{"a": {"dtype": "U8", "shape": [1.5], '
                                                          b'"data_offsets": [0, 0]}}'), "natural")
    st_bad("reversed_offsets", safetensors([], header_override=b'{"a": {"dtype": "U8", "shape": [0], '
                                                               b'"data_offsets": [4, 0]}}') + b"\x00" * 4, "before")
    st_bad("missing_field", safetensors([], header_override=b'{"a": {"dtype": "U8", "shape": [0]}}'), "lacks")
    st_bad("extra_field", safetensors([], header_override=b'{"a": {"dtype": "U8", "shape": [0], '
                                                          b'"data_offsets": [0, 0], "x": 1}}'), "unknown field")
    st_bad("metadata_value", safetensors([], header_override=b'{"__metadata__": {"a": 1}}'), "__metadata__")
    st_bad("overflow_shape", safetensors([], header_override=b'{"a": {"dtype": "F64", "shape": '
                                                             b'[4294967296, 4294967296], "data_offsets": [0, 0]}}'),
           "overflow")
    huge = struct.pack("<Q", 200 << 20) + b"{" + b" " * 16
    st_bad("huge_header_claim", huge, "past the end")

    # --- GGUF
    add("gguf/valid.gguf", gguf(), "safe", "gguf")
    add("gguf/valid_align64.gguf", gguf(alignment=64), "safe", "gguf")
    add("gguf/valid_v2.gguf", gguf(version=2), "safe", "gguf")
    add("gguf/no_tensors.gguf", gguf(tensors=[]), "safe", "gguf")

    def gg_bad(name, data, expect):
        add("gguf/bad_%s.gguf" % name, data, "unsafe", "gguf", expect)

    gg_bad("version", gguf(version=7), "version")
    gg_bad("tensor_count", gguf(n_tensors=1 << 40), "tensor count")
    gg_bad("kv_count", gguf(n_kv=1 << 40), "key-value count")
    gg_bad("string_len", gguf(raw_kv=gguf_string("k") + struct.pack("<I", 8) + struct.pack("<Q", 1 << 40)),
           "string length")
    gg_bad("array_len", gguf(raw_kv=gguf_string("k") + struct.pack("<IIQ", 9, 6, 1 << 60)), "array")
    gg_bad("value_type", gguf(raw_kv=gguf_string("k") + struct.pack("<I", 99)), "value type")
    gg_bad("bool", gguf(raw_kv=gguf_string("k") + struct.pack("<I", 7) + b"\x02"), "bool")
    gg_bad("alignment", gguf(alignment=24), "power of two")
    gg_bad("unaligned_offset", gguf(offsets=[0, 260, 400]), "aligned")
    gg_bad("offset_gap", gguf(offsets=[0, 288, 416]), "expected")
    gg_bad("offset_overlap", gguf(offsets=[0, 0, 96]), "expected")
    gg_bad("type", gguf(tensors=[("x", [4], 99, 16)]), "unknown type")
    gg_bad("dims", gguf(tensors=[("x", [1, 1, 1, 1, 4], 0, 16)]), "dimensions")
    gg_bad("block", gguf(tensors=[("x", [33], 8, 34)]), "blocks")
    gg_bad("duplicate_tensor", gguf(tensors=[("x", [4], 0, 16), ("x", [4], 0, 16)]), "duplicate")
    gg_bad("trailing", gguf(trailing=b"\x00" * 100), "trailing")
    gg_bad("truncated", gguf()[:-200], "past the end")
    gg_bad("long_name", gguf(tensors=[("x" * 65, [4], 0, 16)]), "64 bytes")

    # --- not model code: must never be unsafe
    add("other/readme.txt", b"This model was trained on public data.\nLicense: MIT\n", "unknown", "unknown")
    add("other/config.json", json.dumps({"architectures": ["BertModel"], "hidden_size": 768}).encode(), "safe",
        "json")
    add("other/tokenizer.json", json.dumps({"version": "1.0", "model": {"vocab": {"a": 0, "b": 1}}}).encode(),
        "safe", "json")
    add("other/vocab.txt", b"[PAD]\n[UNK]\n[CLS]\nthe\nof\n", "unknown", "unknown")
    add("other/starts_with_c.txt", b"config name\nsome value\n", "unknown", None)
    add("other/vocab_c.txt", b"cat\ndog\nelephant\nfish\n", "unknown", "unknown")
    add("other/vocab_i.txt", b"in\nto\nof\nthe\n", "unknown", "unknown")
    add("other/empty", b"", "unknown", "empty")
    add("other/onnx_like.onnx", b"\x08\x07\x12\x07pytorch\x1a\x052.0.0:\x9a\x01\n" + bytes(range(256)) * 4,
        "unknown", "unknown")
    import random
    rnd = random.Random(5)
    add("other/weights_shard.bin", bytes(rnd.getrandbits(8) for _ in range(1 << 16)), "unknown", None)
    add("other/floats.bin", struct.pack("<1024f", *[rnd.uniform(-1, 1) for _ in range(1024)]), "unknown", None)
    add("other/benign.tar", tar_bytes([("a.txt", b"hello"), ("b.pkl", pickle.dumps(plain, protocol=2))]),
        "safe", "tar")
    # Raw weights that happen to start like an opcode (EXT2 here) are data, not pickles.
    add("torch/data_member_like_opcode.pt",
        torch_zip(torch_pickle(state_dict()), extra=[("archive/data/1", b"\x83\xf4\x3d\xbf" + f32)]),
        "safe", "pytorch-zip")
    for b in range(256):
        tail = bytes(rnd.getrandbits(8) for _ in range(rnd.choice([7, 63, 1023])))
        add("other/random/first_byte_%02x.bin" % b, bytes([b]) + tail, "not-unsafe", None, None)
    return c


def main():
    out = sys.argv[1]
    expected = []
    for name, data, verdict, fmt, expect in build():
        path = os.path.join(out, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        expected.append({"path": name, "verdict": verdict, "format": fmt, "expect": expect})
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
    print("%d files" % len(expected))


if __name__ == "__main__":
    main()
