// NumPy .npy: a magic, a version, a Python-literal header, then the array. Arrays of object
// dtype store a pickle after the header, which is scanned like any other pickle.
#include <string>

#include "internal.hpp"
#include "modelseal/error.hpp"

namespace modelseal::scan::detail {

namespace {

[[noreturn]] void bad(const std::string& why) { throw untrusted("npy: " + why); }

// True when a quoted token of the header is an object type code ('O', '|O', '<O8' ...).
// Field names that happen to look like one only cost a needless (and safe) pickle scan.
bool has_object_type(const std::string& header) {
  for (size_t i = 0; i < header.size(); ++i) {
    char q = header[i];
    if (q != '\'' && q != '"') continue;
    size_t end = header.find(q, i + 1);
    if (end == std::string::npos) bad("unterminated string in header");
    std::string tok = header.substr(i + 1, end - i - 1);
    size_t p = 0;
    if (p < tok.size() && (tok[p] == '<' || tok[p] == '>' || tok[p] == '|' || tok[p] == '=')) ++p;
    if (p < tok.size() && tok[p] == 'O') {
      ++p;
      while (p < tok.size() && tok[p] >= '0' && tok[p] <= '9') ++p;
      if (p == tok.size()) return true;
    }
    i = end;
  }
  return false;
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
  if (!has_object_type(header)) {
    r.verdict = Verdict::safe;
    return r;
  }
  if (depth >= kMaxNesting) bad("nested too deeply");
  if (data >= src.size()) bad("object array without data");
  SubSource body(src, data, src.size() - data);
  std::optional<Result> p = scan_pickle(body, true, depth + 1);
  merge_findings(r, *p, "");
  for (Finding& f : r.findings) {
    if (f.member.empty()) f.offset += data;
  }
  add_finding(r, "object array: its data is a pickle (numpy.load needs allow_pickle=True)", "low", data);
  r.verdict = has_serious(r) ? Verdict::unsafe : Verdict::safe;
  return r;
}

}  // namespace modelseal::scan::detail
