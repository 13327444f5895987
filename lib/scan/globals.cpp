// The pickle globals policy: an allowlist of what rebuilds tensors and plain containers;
// everything else is unsafe, and a denylist of known code-execution gadgets makes it critical.
#include <array>
#include <string>
#include <string_view>

#include "internal.hpp"

namespace modelseal::scan::detail {

namespace {

// "module.name" pairs that only rebuild tensors, arrays, dtypes and containers.
constexpr std::string_view kAllowed[] = {
    "collections.OrderedDict", "collections.defaultdict", "_collections.OrderedDict",
    "builtins.set", "builtins.frozenset", "builtins.bytearray", "builtins.slice",
    "builtins.complex", "__builtin__.set", "__builtin__.frozenset", "__builtin__.bytearray",
    "__builtin__.slice", "__builtin__.complex", "_codecs.encode",
    "copyreg._reconstructor", "copy_reg._reconstructor", "builtins.object", "__builtin__.object",
    "torch._utils._rebuild_tensor", "torch._utils._rebuild_tensor_v2",
    "torch._utils._rebuild_tensor_v3", "torch._utils._rebuild_parameter",
    "torch._utils._rebuild_parameter_with_state", "torch._utils._rebuild_sparse_tensor",
    "torch._utils._rebuild_sparse_csr_tensor", "torch._utils._rebuild_nested_tensor",
    "torch._utils._rebuild_device_tensor_from_numpy", "torch._utils._rebuild_meta_tensor_no_storage",
    "torch._utils._rebuild_wrapper_subclass", "torch._utils._rebuild_qtensor",
    "torch._tensor._rebuild_from_type", "torch._tensor._rebuild_from_type_v2",
    "torch.Tensor", "torch.nn.parameter.Parameter", "torch.Size", "torch.device",
    "torch.storage.UntypedStorage", "torch.storage.TypedStorage", "torch.UntypedStorage",
    "torch.FloatStorage", "torch.DoubleStorage", "torch.HalfStorage", "torch.BFloat16Storage",
    "torch.LongStorage", "torch.IntStorage", "torch.ShortStorage", "torch.CharStorage",
    "torch.ByteStorage", "torch.BoolStorage", "torch.ComplexFloatStorage",
    "torch.ComplexDoubleStorage", "torch.QInt8Storage", "torch.QUInt8Storage",
    "torch.QInt32Storage", "torch.QUInt4x2Storage", "torch.QUInt2x4Storage",
    "torch.serialization._get_layout",  // a lookup among torch's layouts (sparse tensors)
    "torch.strided", "torch.sparse_coo", "torch.sparse_csr", "torch.per_tensor_affine",
    "torch.per_channel_affine",
    "numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct",
    "numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar", "numpy.ndarray",
    "numpy.dtype", "numpy.core.numeric._frombuffer", "numpy._core.numeric._frombuffer",
    "numpy.dtypes.Float32DType", "numpy.dtypes.Float64DType", "numpy.dtypes.Int64DType",
    "numpy.dtypes.Int32DType", "numpy.dtypes.Float16DType", "numpy.dtypes.UInt8DType",
    "numpy.dtypes.BoolDType",
    // Only a record of an array's shape and dtype; the emulator reads the raw array bytes that
    // joblib's unpickler takes from the stream after it (pickle.cpp, joblib_array).
    "joblib.numpy_pickle.NumpyArrayWrapper",
    // TorchScript's type tags (torch/jit/_pickle.py: each returns its argument).
    "torch.jit._pickle.build_intlist", "torch.jit._pickle.build_tensorlist",
    "torch.jit._pickle.build_doublelist", "torch.jit._pickle.build_boollist",
    "torch.jit._pickle.build_tensor_from_id", "torch.jit._pickle.restore_type_tag",
};

// torch dtypes (torch.float32 ...), pickled as plain globals by _rebuild_tensor_v3.
constexpr std::string_view kTorchDtypes[] = {
    "float64", "float32", "float16", "bfloat16", "int64", "int32", "int16", "int8",
    "uint8", "uint16", "uint32", "uint64", "bool", "complex32", "complex64", "complex128",
    "float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz", "qint8", "quint8",
    "qint32", "quint4x2",
};

// Modules (and their submodules) whose globals run code, touch the system or load more code.
constexpr std::string_view kDeniedModules[] = {
    "os", "posix", "nt", "posixpath", "ntpath", "subprocess", "_posixsubprocess", "sys",
    "runpy", "importlib", "imp", "pkgutil", "zipimport", "pickle", "_pickle", "cPickle",
    "marshal", "ctypes", "_ctypes", "cffi", "socket", "_socket", "ssl", "webbrowser", "pty",
    "shutil", "commands", "popen2", "platform", "multiprocessing", "code", "codeop", "pdb",
    "bdb", "timeit", "trace", "profile", "cProfile", "asyncio", "threading", "_thread",
    "signal", "tempfile", "io", "_io", "types", "operator", "_operator", "functools",
    "dill", "cloudpickle", "joblib", "requests", "urllib", "urllib2", "http", "httplib",
    "ftplib", "smtplib", "telnetlib", "xmlrpc", "shelve", "antigravity", "this", "idlelib", "turtle",
    "tkinter", "ensurepip", "venv", "distutils", "setuptools", "pip", "site",
};

// Attributes of builtins that evaluate code or reach arbitrary objects.
constexpr std::string_view kDeniedBuiltins[] = {
    "eval", "exec", "execfile", "compile", "open", "file", "getattr", "setattr", "delattr",
    "__import__", "globals", "locals", "vars", "input", "raw_input", "breakpoint", "apply",
    "reload", "exit", "help",
};

// Single gadgets in otherwise unremarkable packages.
constexpr std::string_view kDeniedGlobals[] = {
    "torch.load", "torch.serialization.load", "torch.storage._load_from_bytes",
    "torch.jit.load", "torch.hub.load", "torch.utils.cpp_extension.load_inline",
    "numpy.load", "numpy.testing._private.utils.runstring", "numpy.f2py.compile",
};

std::string_view head(std::string_view dotted) { return dotted.substr(0, dotted.find('.')); }

template <size_t N>
bool contains(const std::string_view (&set)[N], std::string_view s) {
  for (std::string_view x : set) {
    if (x == s) return true;
  }
  return false;
}

}  // namespace

const char* global_severity(std::string_view module, std::string_view name) {
  std::string full = std::string(module) + "." + std::string(name);
  if (contains(kAllowed, full)) return nullptr;
  // TorchScript (torch.jit.save): `__torch__.*` names classes compiled from the archive's code/
  // by torch.jit.load's C++ unpickler, which imports no Python; no Python module of that name
  // exists, so pickle.load fails there before anything runs.
  if (module == "__torch__" || module.starts_with("__torch__.")) return nullptr;
  if (module == "torch" && contains(kTorchDtypes, name)) return nullptr;

  std::string_view top = head(module);
  bool builtin = top == "builtins" || top == "__builtin__" || top == "__builtins__";
  if (builtin && contains(kDeniedBuiltins, head(name))) return "critical";
  if (contains(kDeniedModules, top)) return "critical";
  for (std::string_view g : kDeniedGlobals) {
    if (full == g || (full.size() > g.size() && full.starts_with(g) && full[g.size()] == '.')) {
      return "critical";
    }
  }
  // A dotted attribute path walks from an object to anything reachable from it.
  if (name.find('.') != std::string_view::npos) return "critical";
  return "high";
}

}  // namespace modelseal::scan::detail
