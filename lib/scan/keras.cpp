// Keras: Lambda layers (and serialized Python lambdas) run code when a model is rebuilt from
// its config. Configs are found in JSON documents (.keras config.json, tfjs model.json,
// standalone configs) and in HDF5 files (the model_config attribute, searched as bytes).
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "internal.hpp"
#include "modelseal/error.hpp"
#include "modelseal/json.hpp"

namespace modelseal::scan::detail {

namespace {

// Keras 3's deserializer imports a config's "module" itself only inside its own packages (and
// KerasHub's, KerasNLP's and KerasCV's, whose classes their registered names resolve to).
bool keras_module(const std::string& m) {
  for (const char* ok : {"keras", "tensorflow", "tf_keras", "keras_hub", "keras_nlp", "keras_cv"}) {
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
  // Keras's own objects that reach outside the model when a config is rebuilt, safe_mode or
  // not (the 2025-2026 safe_mode bypasses): functions that download, load or switch safe_mode
  // off, TFSMLayer (loads a TensorFlow SavedModel from a path), and lookup layers whose
  // vocabulary is a path or URL rather than a list.
  std::string fn = cls == "function" ? str("config") : cls;
  static constexpr std::string_view kGadgets[] = {"get_file", "enable_unsafe_deserialization", "load_model",
                                                  "load_weights", "TFSMLayer", "func_load"};
  for (std::string_view g : kGadgets) {
    if (fn == g) add_finding(r, "keras config calls " + (module.empty() ? fn : module + "." + fn) +
                                    ", which reaches outside the model at load", "high", 0);
  }
  if (cls == "StringLookup" || cls == "IntegerLookup" || cls == "TextVectorization") {
    auto c = obj.find("config");
    if (c != obj.end() && c->is_object()) {
      auto v = c->find("vocabulary");
      if (v != c->end() && v->is_string()) {
        add_finding(r, "keras " + cls + " '" + layer + "' reads its vocabulary from a path or URL at load", "high", 0);
      }
    }
  }
}

// json.loads(bytes) picks the encoding from a BOM or the pattern of NUL bytes in the first
// four (json.detect_encoding); returns the text as UTF-8, or nullopt when Python cannot decode it.
std::optional<std::string> python_json_text(const std::string& b) {
  auto u = [&](size_t i) { return i < b.size() ? static_cast<unsigned char>(b[i]) : 256u; };
  std::string enc = "utf-8";
  size_t skip = 0;
  if (u(0) == 0xEF && u(1) == 0xBB && u(2) == 0xBF) skip = 3;
  else if ((u(0) == 0xFF && u(1) == 0xFE && u(2) == 0 && u(3) == 0)) enc = "utf-32le", skip = 4;
  else if (u(0) == 0 && u(1) == 0 && u(2) == 0xFE && u(3) == 0xFF) enc = "utf-32be", skip = 4;
  else if (u(0) == 0xFF && u(1) == 0xFE) enc = "utf-16le", skip = 2;
  else if (u(0) == 0xFE && u(1) == 0xFF) enc = "utf-16be", skip = 2;
  else if (b.size() >= 4 && u(0) == 0) enc = u(1) == 0 ? "utf-32be" : "utf-16be";
  else if (b.size() >= 4 && u(1) == 0) enc = (u(2) || u(3)) ? "utf-16le" : "utf-32le";
  else if (b.size() == 2 && u(0) == 0) enc = "utf-16be";
  else if (b.size() == 2 && u(1) == 0) enc = "utf-16le";
  if (enc == "utf-8") return b.substr(skip);
  size_t unit = enc.starts_with("utf-32") ? 4 : 2;
  bool be = enc.ends_with("be");
  if ((b.size() - skip) % unit) return std::nullopt;
  auto get = [&](size_t at) {
    uint32_t v = 0;
    for (size_t k = 0; k < unit; ++k) {
      uint32_t byte = static_cast<unsigned char>(b[at + (be ? k : unit - 1 - k)]);
      v = (v << 8) | byte;
    }
    return v;
  };
  std::string out;
  for (size_t i = skip; i < b.size(); i += unit) {
    uint32_t cp = get(i);
    if (unit == 2 && cp >= 0xD800 && cp <= 0xDBFF) {
      if (i + unit >= b.size()) return std::nullopt;
      uint32_t lo = get(i + unit);
      if (lo < 0xDC00 || lo > 0xDFFF) return std::nullopt;
      cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
      i += unit;
    } else if ((cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) {
      return std::nullopt;  // Python's strict codecs refuse lone surrogates
    }
    if (cp < 0x80) out += static_cast<char>(cp);
    else if (cp < 0x800) out += static_cast<char>(0xC0 | (cp >> 6)), out += static_cast<char>(0x80 | (cp & 0x3F));
    else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }
  return out;
}

// What json.loads accepts and RFC 8259 does not, rewritten so that nlohmann reads the same
// document: NaN/Infinity/-Infinity become null (numbers decide nothing here), and \u escapes
// of lone surrogates become U+FFFD (Python keeps them; no Keras name contains one).
std::string python_json_to_strict(const std::string& t) {
  std::string out;
  out.reserve(t.size());
  bool in_str = false;
  for (size_t i = 0; i < t.size(); ++i) {
    // Text that needs no rewriting is copied a run at a time: in a string up to the next escape
    // or quote, outside one up to the next quote or what may start NaN, Infinity or -Infinity.
    size_t stop = t.find_first_of(in_str ? "\\\"" : "\"NI-", i);
    if (stop == std::string::npos) stop = t.size();
    out.append(t, i, stop - i);
    if ((i = stop) == t.size()) break;
    char c = t[i];
    if (in_str) {
      if (c == '\\' && i + 1 < t.size()) {
        if (t[i + 1] == 'u' && i + 5 < t.size()) {
          auto hex = [&](size_t at) -> int {
            int v = 0;
            for (size_t k = 0; k < 4; ++k) {
              char h = at + k < t.size() ? t[at + k] : 'x';
              int d = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10 : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
              if (d < 0) return -1;
              v = v * 16 + d;
            }
            return v;
          };
          int v = hex(i + 2);
          if (v >= 0xD800 && v <= 0xDBFF) {
            int lo = (i + 7 < t.size() && t[i + 6] == '\\' && t[i + 7] == 'u') ? hex(i + 8) : -1;
            if (lo >= 0xDC00 && lo <= 0xDFFF) {
              out.append(t, i, 12);
              i += 11;
              continue;
            }
            out += "\\ufffd";
            i += 5;
            continue;
          }
          if (v >= 0xDC00 && v <= 0xDFFF) {
            out += "\\ufffd";
            i += 5;
            continue;
          }
        }
        out += c;
        out += t[++i];
        continue;
      }
      if (c == '"') in_str = false;
      out += c;
      continue;
    }
    if (c == '"') {
      in_str = true;
    } else if (c == 'N' && t.compare(i, 3, "NaN") == 0) {
      out += "null";
      i += 2;
      continue;
    } else if (c == 'I' && t.compare(i, 8, "Infinity") == 0) {
      out += "null";
      i += 7;
      continue;
    } else if (c == '-' && t.compare(i, 9, "-Infinity") == 0) {
      out += "null";
      i += 8;
      continue;
    }
    out += c;
  }
  return out;
}

}  // namespace

std::optional<Result> scan_json(const Source& src) {
  if (src.size() > kMaxJsonText) return std::nullopt;
  std::optional<std::string> text = python_json_text(src.read_string(0, static_cast<size_t>(src.size())));
  if (!text) return std::nullopt;
  size_t first = text->find_first_not_of(" \t\r\n");
  if (first == std::string::npos || ((*text)[first] != '{' && (*text)[first] != '[')) return std::nullopt;
  // json.loads: repeated keys, last wins (as nlohmann); nesting as deep as Python's recursion
  // limit allows, and beyond the scanner's own (larger) limit the document is unsafe.
  constexpr int kMaxDepth = 20000;
  bool too_deep = false;
  json doc = json::parse(
      python_json_to_strict(*text),
      [&](int depth, json::parse_event_t, json&) {
        if (depth > kMaxDepth) too_deep = true;
        return !too_deep;
      },
      /*allow_exceptions=*/false);
  Result r;
  r.format = "json";
  if (too_deep) {
    add_finding(r, "JSON nested deeper than the scanner's limit of " + std::to_string(kMaxDepth) + " levels", "medium", 0);
    r.verdict = Verdict::unsafe;
    return r;
  }
  if (doc.is_discarded()) return std::nullopt;
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
  constexpr uint64_t kStep = 1u << 20;
  // Buffers no larger than the file: a scan of many small members stays cheap.
  std::vector<char> buf(static_cast<size_t>(std::min<uint64_t>(kStep, src.size())) + kOverlap);
  uint64_t off = 0;
  size_t carried = 0;
  while (off < src.size()) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(kStep, src.size() - off));
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
  // The configs themselves, however they are spelled (whitespace, escapes, repeated keys):
  // every NUL-terminated text that starts like a JSON object is read as json.loads reads it.
  constexpr uint64_t kMaxCandidates = 1u << 20;
  uint64_t candidates = 0;
  std::vector<char> chunk(static_cast<size_t>(std::max<uint64_t>(1, std::min<uint64_t>(kStep, src.size()))));
  for (uint64_t at = 0; at < src.size(); at += chunk.size()) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(chunk.size(), src.size() - at));
    src.read(at, chunk.data(), n);
    for (size_t i = 0; i < n; ++i) {
      if (chunk[i] != '{') continue;
      std::string head = src.peek(at + i, 64);
      size_t q = head.find_first_not_of(" \t\r\n", 1);
      if (q == std::string::npos || head[q] != '"') continue;
      if (++candidates > kMaxCandidates) {
        add_finding(r, "HDF5: more JSON-like texts than the scanner reads (" + std::to_string(kMaxCandidates) + ")",
                    "medium", at + i);
        r.verdict = Verdict::unsafe;
        return r;
      }
      // The text ends at a NUL (HDF5 pads fixed strings with NULs) or at the end of the file.
      uint64_t end = at + i;
      for (std::string part; end < src.size() && end - (at + i) < kMaxJsonText;) {
        part = src.peek(end, 4096);
        size_t z = part.find('\0');
        if (z != std::string::npos) {
          end += z;
          break;
        }
        end += part.size();
      }
      if (end - (at + i) < 20) continue;
      SubSource text(src, at + i, end - (at + i));
      std::optional<Result> j = scan_json(text);
      if (!j) {
        std::string t = text.read_string(0, static_cast<size_t>(text.size()));
        size_t last = t.find_last_not_of(' ');  // space-padded strings
        if (last != std::string::npos && last + 1 < t.size()) {
          MemorySource trimmed(t.substr(0, last + 1));
          j = scan_json(trimmed);
        }
      }
      if (j) {
        for (Finding f : j->findings) {
          f.offset += at + i;
          add_finding(r, "keras config in HDF5: " + f.what, f.severity.c_str(), f.offset);
        }
      }
    }
  }
  r.verdict = has_serious(r) ? Verdict::unsafe : Verdict::safe;
  return r;
}

}  // namespace modelseal::scan::detail
