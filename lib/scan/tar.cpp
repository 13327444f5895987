// Tar archives (torch.save's oldest format, and any tarred model), read as Python's tarfile
// reads them: no magic needed (V7), checksums summed as signed or unsigned bytes, numbers as
// int(field, 8) or base-256, PAX and GNU long-name records, and member types tarfile does not
// know read as regular files. Every member with data is scanned by content.
#include <algorithm>
#include <optional>
#include <set>
#include <string>

#include "internal.hpp"
#include "modelseal/error.hpp"

namespace modelseal::scan::detail {

namespace {

constexpr uint64_t kBlock = 512;
constexpr uint64_t kMaxPax = 1u << 20;

[[noreturn]] void bad(const std::string& why) { throw untrusted("tar: " + why); }

std::string cstr(const std::string& h, size_t at, size_t len) {
  std::string s = h.substr(at, len);
  return s.substr(0, s.find('\0'));
}

bool py_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; }

// tarfile's nti(): base-256 when the first byte is 0x80 or 0xff, else int(text.strip() or "0", 8)
// of the field up to its first NUL (Python's int: a sign, a 0o prefix, single underscores).
std::optional<int64_t> number(const std::string& h, size_t at, size_t len) {
  auto first = static_cast<unsigned char>(h[at]);
  if (first == 0x80 || first == 0xff) {
    int64_t v = 0;
    for (size_t i = at + 1; i < at + len; ++i) {
      if (v >> 54) return std::nullopt;
      v = (v << 8) | static_cast<unsigned char>(h[i]);
    }
    return first == 0xff ? -1 : v;  // negative: no size or checksum tarfile could use
  }
  std::string s = cstr(h, at, len);
  size_t b = 0, e = s.size();
  while (b < e && py_space(s[b])) ++b;
  while (e > b && py_space(s[e - 1])) --e;
  s = s.substr(b, e - b);
  if (s.empty()) return 0;
  size_t i = 0;
  bool neg = false;
  if (s[i] == '+' || s[i] == '-') neg = s[i++] == '-';
  bool prefix = false;
  if (i + 1 < s.size() && s[i] == '0' && (s[i + 1] == 'o' || s[i + 1] == 'O')) {
    i += 2;
    prefix = true;
  }
  int64_t v = 0;
  size_t digits = 0;
  bool under = false;
  for (; i < s.size(); ++i) {
    if (s[i] == '_') {
      if (under || (digits == 0 && !prefix)) return std::nullopt;
      under = true;
      continue;
    }
    if (s[i] < '0' || s[i] > '7') return std::nullopt;
    if (v >> 58) return std::nullopt;
    v = v * 8 + (s[i] - '0');
    ++digits;
    under = false;
  }
  if (digits == 0 || under) return std::nullopt;
  return neg ? -v : v;
}

bool checksum_ok(const std::string& h) {
  std::optional<int64_t> want = number(h, 148, 8);
  if (!want) return false;
  int64_t unsigned_sum = 256, signed_sum = 256;
  for (size_t i = 0; i < kBlock; ++i) {
    if (i >= 148 && i < 156) continue;
    unsigned_sum += static_cast<unsigned char>(h[i]);
    signed_sum += static_cast<signed char>(h[i]);
  }
  return *want == unsigned_sum || *want == signed_sum;
}

// tarfile's frombuf parses all of these with nti(); one that does not parse is an invalid header.
bool numbers_ok(const std::string& h) {
  static constexpr std::pair<size_t, size_t> kFields[] = {{100, 8}, {108, 8}, {116, 8}, {124, 12},
                                                          {136, 12}, {329, 8}, {337, 8}};
  for (auto [at, len] : kFields) {
    if (!number(h, at, len)) return false;
  }
  return true;
}

bool all_zero(const std::string& h) { return h.find_first_not_of('\0') == std::string::npos; }

// "LEN key=value\n" records: the size and path a PAX header sets (scan_tar applies them as
// tarfile does).
struct Pax {
  std::optional<int64_t> size;
  std::optional<std::string> path;
};
Pax pax_records(const std::string& text) {
  Pax pax;
  for (size_t p = 0; p < text.size();) {
    size_t sp = text.find(' ', p);
    if (sp == std::string::npos) break;
    uint64_t len = 0;
    for (size_t i = p; i < sp; ++i) {
      if (text[i] < '0' || text[i] > '9' || len > kMaxPax) bad("bad PAX record length");
      len = len * 10 + static_cast<uint64_t>(text[i] - '0');
    }
    if (len == 0 || p + len > text.size()) bad("PAX record past its header");
    std::string rec = text.substr(sp + 1, p + len - sp - 1);
    size_t eq = rec.find('=');
    if (eq != std::string::npos && rec.compare(0, eq, "size") == 0) {
      std::string v = rec.substr(eq + 1);
      if (!v.empty() && v.back() == '\n') v.pop_back();
      int64_t n = 0;
      for (char c : v) {
        if (c < '0' || c > '9' || n > (int64_t{1} << 50)) bad("bad PAX size");
        n = n * 10 + (c - '0');
      }
      pax.size = n;
    }
    if (eq != std::string::npos && rec.compare(0, eq, "path") == 0) {
      std::string v = rec.substr(eq + 1);
      if (!v.empty() && v.back() == '\n') v.pop_back();
      pax.path = v;
    }
    p += len;
  }
  return pax;
}

}  // namespace

bool looks_like_tar(const Source& src) {
  if (src.size() < kBlock) return false;
  std::string h = src.read_string(0, kBlock);
  return !all_zero(h) && checksum_ok(h) && numbers_ok(h);
}

Result scan_tar(const Source& src, int depth) {
  Result r;
  r.format = "tar";
  if (depth >= kMaxNesting) bad("archives nested too deeply");
  std::string long_name;
  std::optional<int64_t> next_size, global_size;
  std::optional<std::string> next_path, global_path;
  std::set<std::string> names;
  uint64_t off = 0;
  for (; off + kBlock <= src.size();) {
    std::string h = src.read_string(off, kBlock);
    if (all_zero(h)) break;  // end of archive
    if (!checksum_ok(h) || !numbers_ok(h)) {
      if (off == 0) bad("bad header checksum");
      break;  // tarfile ends the archive at a bad header after the first
    }
    std::optional<int64_t> hsize = number(h, 124, 12);
    if (!hsize) {
      if (off == 0) bad("bad size field");
      break;
    }
    char type = h[156];
    // tarfile reads a member's data as the size an 'x' header gave it (its own or the global one),
    // else as a global header's size, else its own; but it finds the next header by the 'x'
    // size or the header's own (a global size is applied after that offset is worked out).
    int64_t size = next_size ? *next_size : global_size ? *global_size : *hsize;
    int64_t skip = next_size ? *next_size : *hsize;
    if (type == 'L' || type == 'K' || type == 'x' || type == 'g' || type == 'X') size = skip = *hsize;
    if (size < 0 || skip < 0) bad("negative member size at offset " + std::to_string(off));
    uint64_t data = off + kBlock;
    auto usize = static_cast<uint64_t>(skip);
    auto content = static_cast<uint64_t>(size);
    if (usize > src.size() - data || content > src.size() - data) {
      bad("member past the end of the archive at offset " + std::to_string(off));
    }
    std::string name = long_name.empty() ? cstr(h, 0, 100) : long_name;
    std::string prefix = cstr(h, 345, 155);
    if (long_name.empty() && !prefix.empty() && h.compare(257, 5, "ustar") == 0) name = prefix + "/" + name;
    if (next_path) name = *next_path;
    else if (global_path) name = *global_path;
    if (type == 'L' || type == 'K') {
      if (usize > kMaxPax) bad("GNU long name too long");
      std::string v = src.read_string(data, static_cast<size_t>(usize));
      if (type == 'L') long_name = v.substr(0, v.find('\0'));
    } else if (type == 'x' || type == 'X' || type == 'g') {
      if (usize > kMaxPax) bad("PAX header too long");
      Pax pax = pax_records(src.read_string(data, static_cast<size_t>(usize)));
      if (type == 'g') {  // records update tarfile's global ones, which later members take
        if (pax.size) {
          global_size = pax.size;
          add_finding(r, "tar: a global PAX header sets the size of later members (tarfile reads their data with "
                         "it but skips them by their own; other readers apply it to both)", "medium", off);
        }
        if (pax.path) global_path = pax.path;
      } else {             // the global records, overridden by these, for the next member
        next_size = pax.size ? pax.size : global_size;
        next_path = pax.path ? pax.path : global_path;
      }
    } else {
      long_name.clear();
      next_size.reset();
      next_path.reset();
      // V7 spells a directory as a regular file whose name ends in '/'.
      bool dir = type == '5' || (type == '\0' && !name.empty() && name.back() == '/');
      // Types tarfile knows that are not regular files: it skips no data blocks after them.
      bool no_data = dir || type == '1' || type == '2' || type == '3' || type == '4' || type == '6';
      if (!names.insert(name).second && !dir) {
        add_finding(r, "tar: duplicate member name (tarfile's getmember takes the last)", "medium", off, name);
      }
      if (type == 'S') add_finding(r, "tar: GNU sparse member scanned as stored, not as expanded", "medium", off, name);
      if (!no_data) {
        // Regular files, and every type tarfile does not know, which it reads as regular files.
        SubSource member(src, data, content);
        Result m = scan_source(member, depth + 1, false);
        r.members.push_back(name);
        merge_findings(r, m, name);
      }
      if (no_data) usize = 0;
    }
    uint64_t blocks = (usize + kBlock - 1) / kBlock;
    if (blocks > (src.size() - data) / kBlock + 1) bad("member past the end of the archive");
    off = data + blocks * kBlock;
  }
  if (off < src.size() && off + kBlock <= src.size()) {
    std::string rest = src.peek(off, static_cast<size_t>(std::min<uint64_t>(src.size() - off, 1u << 16)));
    if (!all_zero(rest)) add_finding(r, "tar: bytes after the end of the archive (tarfile does not read them)", "low", off);
  }
  r.verdict = has_serious(r) ? Verdict::unsafe : Verdict::safe;
  return r;
}

}  // namespace modelseal::scan::detail
