// safetensors: an 8-byte little-endian header length, a JSON header, then the tensor data.
// Validated as strictly as the reference reader, and more: offsets contiguous from 0 with no
// holes or overlaps, sizes consistent with shapes, nothing after the last tensor.
#include <algorithm>
#include <string>
#include <vector>

#include "internal.hpp"
#include "modelseal/error.hpp"
#include "modelseal/json.hpp"

namespace modelseal::scan::detail {

namespace {

struct DtypeBits {
  const char* name;
  unsigned bits;
};
constexpr DtypeBits kDtypes[] = {
    {"BOOL", 8}, {"U8", 8}, {"I8", 8}, {"F8_E5M2", 8}, {"F8_E4M3", 8}, {"F8_E8M0", 8},
    {"I16", 16}, {"U16", 16}, {"F16", 16}, {"BF16", 16}, {"I32", 32}, {"U32", 32},
    {"F32", 32}, {"F64", 64}, {"I64", 64}, {"U64", 64}, {"C64", 64}, {"F4", 4},
    {"F6_E2M3", 6}, {"F6_E3M2", 6},
};

struct Extent {
  uint64_t begin, end;
  std::string name;
};

[[noreturn]] void bad(const std::string& why) { throw untrusted("safetensors: " + why); }

uint64_t tensor_bytes(const std::string& name, const json& info) {
  const json& dtype = info.at("dtype");
  if (!dtype.is_string()) bad("dtype of '" + name + "' is not a string");
  unsigned bits = 0;
  for (const DtypeBits& d : kDtypes) {
    if (dtype.get<std::string>() == d.name) bits = d.bits;
  }
  if (bits == 0) bad("unknown dtype '" + dtype.get<std::string>() + "' for '" + name + "'");
  const json& shape = info.at("shape");
  if (!shape.is_array()) bad("shape of '" + name + "' is not an array");
  uint64_t numel = 1;
  for (const json& d : shape) {
    if (!d.is_number_unsigned()) bad("shape of '" + name + "' has a dimension that is not a natural number");
    if (__builtin_mul_overflow(numel, d.get<uint64_t>(), &numel)) bad("shape of '" + name + "' overflows");
  }
  uint64_t total_bits = 0;
  if (__builtin_mul_overflow(numel, uint64_t{bits}, &total_bits)) bad("size of '" + name + "' overflows");
  if (total_bits % 8 != 0) bad("size of '" + name + "' is not a whole number of bytes");
  return total_bits / 8;
}

}  // namespace

bool looks_like_safetensors(const Source& src) {
  if (src.size() < 10) return false;
  std::string head = src.read_string(0, 9);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(head[static_cast<size_t>(i)]);
  // A length field past the end still marks the format (and fails validation).
  return head[8] == '{' && n >= 2 && n < (uint64_t{1} << 40);
}

Result scan_safetensors(const Source& src) {
  Result r;
  r.format = "safetensors";
  if (src.size() < 8) bad("file shorter than its header length");
  Reader in(src);
  uint64_t n = in.le(8);
  if (n > src.size() - 8) bad("header length " + std::to_string(n) + " is past the end of the file");
  if (n > kMaxSafetensorsHeader) bad("header length " + std::to_string(n) + " is over the 100 MB limit");
  std::string text = src.read_string(8, static_cast<size_t>(n));
  if (text.empty() || text[0] != '{') bad("header does not start with '{'");
  json header = parse_json_strict(text, "safetensors header");
  if (!header.is_object()) bad("header is not a JSON object");

  std::vector<Extent> extents;
  for (const auto& [name, info] : header.items()) {
    if (name == "__metadata__") {
      if (!info.is_object()) bad("__metadata__ is not an object");
      for (const auto& [k, v] : info.items()) {
        if (!v.is_string()) bad("__metadata__ value of '" + k + "' is not a string");
      }
      continue;
    }
    if (!info.is_object()) bad("entry '" + name + "' is not an object");
    for (const auto& [k, v] : info.items()) {
      if (k != "dtype" && k != "shape" && k != "data_offsets") bad("entry '" + name + "' has unknown field '" + k + "'");
    }
    if (!info.contains("dtype") || !info.contains("shape") || !info.contains("data_offsets")) {
      bad("entry '" + name + "' lacks dtype, shape or data_offsets");
    }
    uint64_t bytes = tensor_bytes(name, info);
    const json& off = info.at("data_offsets");
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned()) {
      bad("data_offsets of '" + name + "' is not a pair of natural numbers");
    }
    uint64_t begin = off[0].get<uint64_t>(), end = off[1].get<uint64_t>();
    if (end < begin) bad("data_offsets of '" + name + "' end before they begin");
    if (end - begin != bytes) {
      bad("'" + name + "' holds " + std::to_string(end - begin) + " bytes but its dtype and shape need " +
          std::to_string(bytes));
    }
    extents.push_back({begin, end, name});
  }

  std::sort(extents.begin(), extents.end(), [](const Extent& a, const Extent& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t expect = 0;
  for (const Extent& e : extents) {
    if (e.begin < expect) bad("'" + e.name + "' overlaps the tensor before it");
    if (e.begin > expect) bad("hole of " + std::to_string(e.begin - expect) + " bytes before '" + e.name + "'");
    expect = e.end;
  }
  uint64_t data = src.size() - 8 - n;
  if (expect > data) bad("tensor data ends at " + std::to_string(expect) + " but the file holds " + std::to_string(data));
  if (expect < data) bad(std::to_string(data - expect) + " trailing bytes after the last tensor");
  r.verdict = Verdict::safe;
  return r;
}

}  // namespace modelseal::scan::detail
