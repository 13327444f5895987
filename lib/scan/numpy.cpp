// NumPy .npy: a magic, a version, a Python-literal header, then the array. Arrays of object
// dtype store a pickle after the header, which is scanned like any other pickle.
#include <cctype>
#include <optional>
#include <string>
#include <string_view>

#include "internal.hpp"
#include "modelseal/error.hpp"

namespace modelseal::scan::detail {

namespace {

[[noreturn]] void bad(const std::string& why) { throw untrusted("npy: " + why); }

// The descr of the header when it is one plain quoted string (numpy writes that for every
// non-structured dtype), read without escapes; nullopt for anything else: a list (structured
// dtype), escapes, a repeated key. Python's literal_eval and np.dtype accept many spellings
// ('object', 'O8', '\\x4f', comma strings, nested fields), so only this one form is trusted.
std::optional<std::string> plain_descr(const std::string& header) {
  if (header.find('\\') != std::string::npos) return std::nullopt;
  size_t at = header.find("descr");
  if (at == std::string::npos || header.find("descr", at + 1) != std::string::npos) return std::nullopt;
  size_t q = header.find_first_not_of(" ", at + 6);
  if (q == std::string::npos || header[q] != ':') return std::nullopt;
  q = header.find_first_not_of(" ", q + 1);
  if (q == std::string::npos || (header[q] != '\'' && header[q] != '"')) return std::nullopt;
  size_t end = header.find(header[q], q + 1);
  if (end == std::string::npos) return std::nullopt;
  return header.substr(q + 1, end - q - 1);
}

// A type code numpy reads as raw bytes: [<>|=] letter digits, e.g. '<f4', '|b1', '<U8', '<M8[ns]'.
bool raw_type(const std::string& d) {
  static constexpr std::string_view kRaw = "?bBhHiIlLqQpPefdgFDGSUVaumMc";
  size_t p = 0;
  if (p < d.size() && std::string_view("<>|=").find(d[p]) != std::string_view::npos) ++p;
  if (p >= d.size() || kRaw.find(d[p]) == std::string_view::npos) return false;
  ++p;
  while (p < d.size() && d[p] >= '0' && d[p] <= '9') ++p;
  if (p < d.size() && d[p] == '[' && d.back() == ']') {
    for (size_t i = p + 1; i + 1 < d.size(); ++i) {
      if (!std::isalnum(static_cast<unsigned char>(d[i]))) return false;
    }
    return true;
  }
  return p == d.size();
}

}  // namespace

Result scan_npy(const Source& src, int depth) {
  Result r;
  r.format = "numpy";
  Reader in(src);
  in.skip(6);  // "\x93NUMPY", checked by the caller
  int major = in.byte();
  in.byte();
  uint64_t len = major == 1 ? in.le(2) : (major == 2 || major == 3) ? in.le(4) : 0;
  if (major < 1 || major > 3) bad("unsupported format version " + std::to_string(major));
  if (len > in.remaining()) bad("header length past the end of the file");
  if (len > (1u << 20)) bad("header longer than 1 MiB");
  std::string header = src.read_string(in.pos(), static_cast<size_t>(len));
  size_t open = header.find_first_not_of(" ");
  size_t close = header.find_last_not_of(" \n");
  if (open == std::string::npos || header[open] != '{' || header[close] != '}' || header.back() != '\n') {
    bad("header is not a dictionary literal");
  }
  if (header.find("descr") == std::string::npos || header.find("shape") == std::string::npos) {
    bad("header lacks descr or shape");
  }
  uint64_t data = in.pos() + len;
  std::optional<std::string> descr = plain_descr(header);
  if (descr && raw_type(*descr)) {
    r.verdict = Verdict::safe;
    return r;
  }
  // Object dtypes, and every spelling the scanner does not positively know as raw data: the
  // data is read the way numpy.load(allow_pickle=True) would read an object array.
  if (depth >= kMaxNesting) bad("nested too deeply");
  if (data >= src.size()) {
    r.verdict = Verdict::safe;
    return r;
  }
  SubSource body(src, data, src.size() - data);
  std::optional<Result> p = scan_pickle(body, false, depth + 1);
  if (p) {
    merge_findings(r, *p, "");
    for (Finding& f : r.findings) {
      if (f.member.empty()) f.offset += data;
    }
    add_finding(r, "array data is a pickle (numpy.load needs allow_pickle=True)", "low", data);
  } else if (!descr) {
    add_finding(r, "dtype spelled in a form the scanner reads as possibly object; its data is not a pickle", "low", data);
  }
  r.verdict = has_serious(r) ? Verdict::unsafe : Verdict::safe;
  return r;
}

}  // namespace modelseal::scan::detail
