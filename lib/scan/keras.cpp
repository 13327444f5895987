// Keras: Lambda layers (and serialized Python lambdas) run code when a model is rebuilt from
// its config. Configs are found in JSON documents (.keras config.json, tfjs model.json,
// standalone configs) and in HDF5 files (the model_config attribute, searched as bytes).
#include <cstring>
#include <string>
#include <vector>

#include "internal.hpp"
#include "modelseal/error.hpp"
#include "modelseal/json.hpp"

namespace modelseal::scan::detail {

namespace {

bool keras_module(const std::string& m) {
  for (const char* ok : {"keras", "tensorflow", "tf_keras"}) {
    size_t n = std::strlen(ok);
    if (m.compare(0, n, ok) == 0 && (m.size() == n || m[n] == '.')) return true;
  }
  return false;
}

void check_object(const json& obj, Result& r) {
  auto str = [&](const char* k) -> std::string {
    auto it = obj.find(k);
    return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  std::string cls = str("class_name");
  std::string layer;
  if (auto c = obj.find("config"); c != obj.end() && c->is_object()) {
    if (auto n = c->find("name"); n != c->end() && n->is_string()) layer = n->get<std::string>();
  }
  if (cls == "Lambda") add_finding(r, "keras Lambda layer '" + layer + "' runs Python code", "high", 0);
  if (cls == "__lambda__") add_finding(r, "keras serialized Python lambda", "critical", 0);
  if (str("function_type") == "lambda") add_finding(r, "keras marshalled Python function", "critical", 0);
  std::string module = str("module");
  if (!module.empty() && !cls.empty() && !keras_module(module)) {
    const char* sev = global_severity(module, cls);
    if (sev) add_finding(r, "keras config imports " + module + "." + cls, sev, 0);
  }
}

}  // namespace

std::optional<Result> scan_json(const Source& src) {
  if (src.size() > kMaxJsonText) return std::nullopt;
  std::string head = src.peek(0, 64);
  size_t first = head.find_first_not_of(" \t\r\n");
  if (first == std::string::npos || (head[first] != '{' && head[first] != '[')) return std::nullopt;
  json doc;
  try {
    doc = parse_json_strict(src.read_string(0, static_cast<size_t>(src.size())), "json");
  } catch (const Error& e) {
    if (e.status() == Status::io) throw;
    return std::nullopt;
  }
  Result r;
  r.format = "json";
  // Depth is bounded by the parser (kMaxJsonDepth); walk with an explicit stack anyway.
  std::vector<const json*> todo{&doc};
  while (!todo.empty()) {
    const json* j = todo.back();
    todo.pop_back();
    if (j->is_object()) check_object(*j, r);
    if (j->is_structured()) {
      for (const json& child : *j) {
        if (child.is_structured()) todo.push_back(&child);
      }
    }
  }
  r.verdict = has_serious(r) ? Verdict::unsafe : Verdict::safe;
  return r;
}

Result scan_hdf5(const Source& src) {
  static const char* const kMarkers[] = {
      "\"class_name\": \"Lambda\"", "\"class_name\":\"Lambda\"", "\"__lambda__\"",
      "\"function_type\": \"lambda\"", "\"function_type\":\"lambda\"",
  };
  constexpr size_t kOverlap = 32;
  Result r;
  r.format = "hdf5";
  std::vector<char> buf((1u << 20) + kOverlap);
  uint64_t off = 0;
  size_t carried = 0;
  while (off < src.size()) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(1u << 20, src.size() - off));
    src.read(off, buf.data() + carried, n);
    size_t have = carried + n;
    uint64_t base = off - carried;
    for (const char* m : kMarkers) {
      size_t mlen = std::strlen(m);
      for (const char* p = buf.data(); (p = static_cast<const char*>(memmem(p, have - static_cast<size_t>(p - buf.data()), m, mlen)));) {
        uint64_t at = base + static_cast<uint64_t>(p - buf.data());
        // Matches inside the carried overlap were already reported.
        if (at + mlen > off) add_finding(r, std::string("keras config in HDF5 has ") + m, "high", at);
        ++p;
      }
    }
    carried = std::min(have, kOverlap);
    std::memmove(buf.data(), buf.data() + have - carried, carried);
    off += n;
  }
  r.verdict = has_serious(r) ? Verdict::unsafe : Verdict::safe;
  return r;
}

}  // namespace modelseal::scan::detail
