// Tar archives (torch.save's oldest format, and any tarred model): every regular member is
// scanned by content.
#include <string>

#include "internal.hpp"
#include "modelseal/error.hpp"

namespace modelseal::scan::detail {

namespace {

constexpr uint64_t kBlock = 512;

[[noreturn]] void bad(const std::string& why) { throw untrusted("tar: " + why); }

uint64_t octal(const std::string& h, size_t at, size_t len) {
  if (static_cast<unsigned char>(h[at]) & 0x80) {  // base-256 (GNU) for large values
    uint64_t v = 0;
    for (size_t i = at + 1; i < at + len; ++i) {
      if (v >> 55) bad("number out of range");
      v = (v << 8) | static_cast<unsigned char>(h[i]);
    }
    return v;
  }
  uint64_t v = 0;
  size_t i = at;
  while (i < at + len && h[i] == ' ') ++i;
  for (; i < at + len && h[i] >= '0' && h[i] <= '7'; ++i) {
    if (v >> 60) bad("number out of range");
    v = v * 8 + static_cast<uint64_t>(h[i] - '0');
  }
  return v;
}

bool checksum_ok(const std::string& h) {
  uint64_t sum = 0;
  for (size_t i = 0; i < kBlock; ++i) sum += (i >= 148 && i < 156) ? ' ' : static_cast<unsigned char>(h[i]);
  return sum == octal(h, 148, 8);
}

std::string field(const std::string& h, size_t at, size_t len) {
  std::string s = h.substr(at, len);
  return s.substr(0, s.find('\0'));
}

}  // namespace

bool looks_like_tar(const Source& src) {
  if (src.size() < kBlock) return false;
  std::string h = src.read_string(0, kBlock);
  return h.compare(257, 5, "ustar") == 0 && checksum_ok(h);
}

Result scan_tar(const Source& src, int depth) {
  Result r;
  r.format = "tar";
  if (depth >= kMaxNesting) bad("archives nested too deeply");
  std::string long_name;
  for (uint64_t off = 0; off + kBlock <= src.size();) {
    std::string h = src.read_string(off, kBlock);
    if (h.find_first_not_of('\0') == std::string::npos) break;  // end of archive
    if (!checksum_ok(h)) bad("bad header checksum at offset " + std::to_string(off));
    uint64_t size = octal(h, 124, 12);
    uint64_t data = off + kBlock;
    if (size > src.size() - data) bad("member past the end of the archive");
    char type = h[156];
    std::string name = long_name.empty() ? field(h, 345, 155).empty() ? field(h, 0, 100)
                                                                       : field(h, 345, 155) + "/" + field(h, 0, 100)
                                         : long_name;
    if (type == 'L') {
      long_name = src.read_string(data, static_cast<size_t>(std::min<uint64_t>(size, 4096)));
      long_name = long_name.substr(0, long_name.find('\0'));
    } else {
      long_name.clear();
      if (type == '0' || type == '\0' || type == '7') {
        SubSource member(src, data, size);
        Result m = scan_source(member, depth + 1);
        merge_findings(r, m, name);
      }
    }
    uint64_t blocks = (size + kBlock - 1) / kBlock;
    off = data + blocks * kBlock;
  }
  r.verdict = has_serious(r) ? Verdict::unsafe : Verdict::safe;
  return r;
}

}  // namespace modelseal::scan::detail
