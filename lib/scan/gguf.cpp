// GGUF (llama.cpp): validated as the loader reads it — magic, version, counts bounded by the
// file, strings and arrays in bounds, alignment, tensor types, shapes, offsets and sizes.
#include <algorithm>
#include <string>
#include <unordered_set>

#include "internal.hpp"
#include "modelseal/error.hpp"

namespace modelseal::scan::detail {

namespace {

constexpr uint32_t kMaxDims = 4;
constexpr uint64_t kMaxTensorName = 64;
constexpr int kMaxArrayNesting = 2;

struct GgmlType {
  uint32_t id;
  uint32_t block, size;  // elements per block, bytes per block
};
constexpr GgmlType kTypes[] = {
    {0, 1, 4},     {1, 1, 2},      {2, 32, 18},    {3, 32, 20},    {6, 32, 22},
    {7, 32, 24},   {8, 32, 34},    {9, 32, 36},    {10, 256, 84},  {11, 256, 110},
    {12, 256, 144}, {13, 256, 176}, {14, 256, 210}, {15, 256, 292}, {16, 256, 66},
    {17, 256, 74}, {18, 256, 98},  {19, 256, 50},  {20, 32, 18},   {21, 256, 110},
    {22, 256, 82}, {23, 256, 136}, {24, 1, 1},     {25, 1, 2},     {26, 1, 4},
    {27, 1, 8},    {28, 1, 8},     {29, 256, 56},  {30, 1, 2},     {34, 256, 54},
    {35, 256, 66}, {39, 32, 17},
};

enum : uint32_t { kU8, kI8, kU16, kI16, kU32, kI32, kF32, kBool, kString, kArray, kU64, kI64, kF64 };

[[noreturn]] void bad(const std::string& why) { throw untrusted("gguf: " + why); }

uint64_t scalar_size(uint32_t t) {
  switch (t) {
    case kU8: case kI8: case kBool: return 1;
    case kU16: case kI16: return 2;
    case kU32: case kI32: case kF32: return 4;
    case kU64: case kI64: case kF64: return 8;
    default: return 0;
  }
}

class Parser {
 public:
  explicit Parser(const Source& src) : src_(src), in_(src) {}
  Result run();

 private:
  std::string string(uint64_t keep) {
    uint64_t n = in_.le(8);
    if (n > in_.remaining()) bad("string length " + std::to_string(n) + " past the end of the file");
    std::string s = src_.read_string(in_.pos(), static_cast<size_t>(std::min(n, keep)));
    in_.skip(n);
    return s;
  }
  void value(uint32_t type, int nesting) {
    if (uint64_t sz = scalar_size(type)) {
      if (type == kBool) {
        if (in_.byte() > 1) bad("bool value that is neither 0 nor 1");
        return;
      }
      in_.skip(sz);
      return;
    }
    if (type == kString) {
      string(0);
      return;
    }
    if (type != kArray) bad("unknown value type " + std::to_string(type));
    if (nesting >= kMaxArrayNesting) bad("arrays nested too deeply");
    uint32_t elem = static_cast<uint32_t>(in_.le(4));
    uint64_t count = in_.le(8);
    if (uint64_t sz = scalar_size(elem)) {
      if (count > in_.remaining() / sz) bad("array of " + std::to_string(count) + " elements past the end of the file");
      if (elem == kBool) {
        for (uint64_t i = 0; i < count; ++i) {
          if (in_.byte() > 1) bad("bool value that is neither 0 nor 1");
        }
      } else {
        in_.skip(count * sz);
      }
      return;
    }
    // Each string or array element takes at least 8 bytes.
    if (count > in_.remaining() / 8) bad("array of " + std::to_string(count) + " elements past the end of the file");
    for (uint64_t i = 0; i < count; ++i) value(elem, nesting + 1);
  }

  const Source& src_;
  Reader in_;
};

Result Parser::run() {
  Result r;
  r.format = "gguf";
  if (src_.size() < 24) bad("file too short for a header");
  in_.skip(4);  // "GGUF", checked by the caller
  uint32_t version = static_cast<uint32_t>(in_.le(4));
  if (version != 2 && version != 3) bad("unsupported version " + std::to_string(version));
  uint64_t n_tensors = in_.le(8);
  uint64_t n_kv = in_.le(8);
  // Every key-value pair takes at least 13 bytes and every tensor info at least 24.
  if (n_kv > src_.size() / 13) bad("key-value count " + std::to_string(n_kv) + " exceeds what the file can hold");
  if (n_tensors > src_.size() / 24) bad("tensor count " + std::to_string(n_tensors) + " exceeds what the file can hold");

  uint64_t alignment = 32;
  std::unordered_set<std::string> keys;
  for (uint64_t i = 0; i < n_kv; ++i) {
    std::string key = string(1u << 16);
    if (!keys.insert(key).second) bad("duplicate key '" + key + "'");
    uint32_t type = static_cast<uint32_t>(in_.le(4));
    if (key == "general.alignment") {
      if (type != kU32) bad("general.alignment is not a uint32");
      alignment = in_.le(4);
      if (alignment == 0 || (alignment & (alignment - 1)) != 0) bad("general.alignment " + std::to_string(alignment) + " is not a power of two");
      continue;
    }
    value(type, 0);
  }

  struct Info {
    std::string name;
    uint64_t offset, bytes;
  };
  std::vector<Info> infos;
  std::unordered_set<std::string> names;
  for (uint64_t i = 0; i < n_tensors; ++i) {
    uint64_t name_len = 0;
    {
      Reader peek(src_, in_.pos());
      name_len = peek.le(8);
    }
    if (name_len > kMaxTensorName) bad("tensor name longer than 64 bytes");
    std::string name = string(kMaxTensorName);
    if (!names.insert(name).second) bad("duplicate tensor '" + name + "'");
    uint32_t n_dims = static_cast<uint32_t>(in_.le(4));
    if (n_dims > kMaxDims) bad("tensor '" + name + "' has " + std::to_string(n_dims) + " dimensions");
    uint64_t dims[kMaxDims] = {1, 1, 1, 1};
    uint64_t numel = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      dims[d] = in_.le(8);
      if (dims[d] >> 62) bad("tensor '" + name + "' has a dimension out of range");
      if (__builtin_mul_overflow(numel, dims[d], &numel) || numel >> 62) bad("tensor '" + name + "' has too many elements");
    }
    uint32_t type = static_cast<uint32_t>(in_.le(4));
    const GgmlType* t = nullptr;
    for (const GgmlType& g : kTypes) {
      if (g.id == type) t = &g;
    }
    if (!t) bad("tensor '" + name + "' has unknown type " + std::to_string(type));
    if (dims[0] % t->block != 0) bad("tensor '" + name + "' row is not a whole number of blocks");
    uint64_t bytes = 0;
    if (__builtin_mul_overflow(numel / t->block, uint64_t{t->size}, &bytes)) bad("tensor '" + name + "' size overflows");
    uint64_t offset = in_.le(8);
    if (offset % alignment != 0) bad("tensor '" + name + "' offset is not aligned");
    infos.push_back({std::move(name), offset, bytes});
  }

  if (infos.empty()) {
    if (src_.size() - in_.pos() >= alignment) bad("trailing bytes after the header of a file without tensors");
    r.verdict = Verdict::safe;
    return r;
  }
  uint64_t data_start = in_.pos() + (alignment - in_.pos() % alignment) % alignment;
  if (data_start > src_.size()) bad("tensor data starts past the end of the file");
  uint64_t data_size = src_.size() - data_start;
  // As llama.cpp: each tensor starts where the previous one ends, padded to the alignment.
  uint64_t expect = 0;
  for (const Info& info : infos) {
    if (info.offset != expect) {
      bad("tensor '" + info.name + "' at offset " + std::to_string(info.offset) + ", expected " + std::to_string(expect));
    }
    if (info.bytes > data_size || info.offset > data_size - info.bytes) bad("tensor '" + info.name + "' past the end of the file");
    uint64_t padded = info.bytes + (alignment - info.bytes % alignment) % alignment;
    expect = info.offset + padded;
  }
  uint64_t used = infos.empty() ? 0 : infos.back().offset + infos.back().bytes;
  if (data_size > std::max(expect, used)) {
    bad(std::to_string(data_size - std::max(expect, used)) + " trailing bytes after the tensor data");
  }
  r.verdict = Verdict::safe;
  return r;
}

}  // namespace

Result scan_gguf(const Source& src) { return Parser(src).run(); }

}  // namespace modelseal::scan::detail
