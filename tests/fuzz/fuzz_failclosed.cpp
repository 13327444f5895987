// libFuzzer target for the fail-closed rule: the fuzzer's bytes are placed where the real
// loaders still run a malicious payload (after a pickle's STOP, inside a gzip stream after it,
// as the name and trailing data of the tar member holding it, as another member of the zip
// holding it, after the pickle of an object .npy, as the name of a Keras Lambda layer, after
// an HDF5 file whose user block is the pickle), so the scanner must never call the result
// "safe" (a trap otherwise).
#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "modelseal/scan.hpp"

namespace {

const std::string kEvil = std::string("\x80\x02" "cposix\nsystem\nX\x02\x00\x00\x00id\x85R.", 27);

void must_not_pass(const std::string& bytes, const char* how) {
  auto r = modelseal::scan::scan_memory(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()), how);
  if (!modelseal::scan::blocks_trust(r)) {
    std::fprintf(stderr, "fail-closed violated (%s): verdict %s\n", how, modelseal::scan::to_string(r.verdict));
    __builtin_trap();
  }
}

// Any valid gzip stream will do: the smallest window and hash table keep zlib's set-up cheap.
std::string gzip(const std::string& in) {
  z_stream z{};
  if (deflateInit2(&z, 1, Z_DEFLATED, 16 + 9, 1, Z_DEFAULT_STRATEGY) != Z_OK) return {};
  std::string out(deflateBound(&z, in.size()) + 32, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

std::string tar_with(const std::string& name, const std::string& member, const std::string& after) {
  std::string h(512, '\0');
  h.replace(0, std::min<size_t>(name.size(), 99), name.substr(0, 99));
  char num[16];
  std::snprintf(num, sizeof num, "%011o", static_cast<unsigned>(member.size()));
  h.replace(124, 11, num, 11);
  h[156] = '0';
  h.replace(148, 8, 8, ' ');
  unsigned sum = 0;
  for (unsigned char c : h) sum += c;
  std::snprintf(num, sizeof num, "%06o", sum);
  h.replace(148, 6, num, 6);
  h[154] = '\0';
  std::string t = h + member + std::string((512 - member.size() % 512) % 512, '\0');
  return t + std::string(1024, '\0') + after;
}

void le(std::string& out, uint64_t v, int n) {
  for (int i = 0; i < n; ++i) out += static_cast<char>((v >> (8 * i)) & 0xFF);
}

// A stored zip of the members, as zipfile writes one.
std::string zip_of(const std::vector<std::pair<std::string, std::string>>& members) {
  std::string body, dir;
  for (const auto& [name, data] : members) {
    uint32_t crc = static_cast<uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(data.size())));
    std::string common;
    le(common, 20, 2), le(common, 0, 2), le(common, 0, 2), le(common, 0, 2), le(common, 0x21, 2), le(common, crc, 4);
    le(common, data.size(), 4), le(common, data.size(), 4), le(common, name.size(), 2), le(common, 0, 2);
    uint64_t local = body.size();
    le(body, 0x04034b50, 4);
    body += common + name + data;
    le(dir, 0x02014b50, 4), le(dir, 20, 2);
    dir += common;
    le(dir, 0, 2), le(dir, 0, 2), le(dir, 0, 2), le(dir, 0, 4), le(dir, local, 4);
    dir += name;
  }
  std::string end;
  le(end, 0x06054b50, 4), le(end, 0, 2), le(end, 0, 2), le(end, members.size(), 2), le(end, members.size(), 2);
  le(end, dir.size(), 4), le(end, body.size(), 4), le(end, 0, 2);
  return body + dir + end;
}

std::string npy_object(const std::string& data) {
  std::string header = "{'descr': '|O', 'fortran_order': False, 'shape': (1,), }";
  header += std::string((64 - (10 + header.size() + 1) % 64) % 64, ' ') + "\n";
  std::string out("\x93NUMPY\x01\x00", 8);
  le(out, header.size(), 2);
  return out + header + data;
}

std::string json_escaped(const std::string& in) {
  std::string out;
  char u[8];
  for (unsigned char c : in) {
    std::snprintf(u, sizeof u, "\\u%04x", c);
    out += u;
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string fuzz(reinterpret_cast<const char*>(data), size);
  must_not_pass(kEvil + fuzz, "pickle then fuzz");
  must_not_pass(gzip(kEvil + fuzz), "gzip of pickle then fuzz");
  std::string name = fuzz.substr(0, fuzz.find('\0'));
  if (name.empty()) name = "m";
  must_not_pass(tar_with(name, kEvil, fuzz), "tar member");
  must_not_pass(zip_of({{"archive/data.pkl", kEvil}, {"archive/" + name.substr(0, 200), fuzz}}), "zip member");
  must_not_pass(npy_object(kEvil + fuzz), "object npy");
  must_not_pass("{\"class_name\": \"Sequential\", \"config\": {\"layers\": [{\"class_name\": \"Lambda\", "
                "\"config\": {\"name\": \"" + json_escaped(fuzz.substr(0, 4096)) + "\"}}]}}", "keras Lambda");
  std::string userblock = kEvil + std::string(512 - kEvil.size(), '\0');
  must_not_pass(userblock + std::string("\x89HDF\r\n\x1a\n", 8) + fuzz, "hdf5 user block");
  return 0;
}
