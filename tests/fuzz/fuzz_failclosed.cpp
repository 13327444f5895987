// libFuzzer target for the fail-closed rule: the fuzzer's bytes are placed where the real
// loaders still run a malicious pickle (after its STOP, inside a gzip stream after it, as the
// name and trailing data of the tar member holding it), so the scanner must never call the
// result "safe" (a trap otherwise).
#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <span>
#include <string>

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

std::string gzip(const std::string& in) {
  z_stream z{};
  if (deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) return {};
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

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string fuzz(reinterpret_cast<const char*>(data), size);
  must_not_pass(kEvil + fuzz, "pickle then fuzz");
  must_not_pass(gzip(kEvil + fuzz), "gzip of pickle then fuzz");
  std::string name = fuzz.substr(0, fuzz.find('\0'));
  if (name.empty()) name = "m";
  must_not_pass(tar_with(name, kEvil, fuzz), "tar member");
  return 0;
}
