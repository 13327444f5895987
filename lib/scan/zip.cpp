// Zip archives (PyTorch checkpoints, .npz, .keras): members are found the way the loaders
// find them (central directory, then the local header it points to), every member is scanned
// by content, and what makes loaders disagree is flagged: local/central name or method
// mismatch, encryption flags, bad CRC, overlapping or duplicate members.
#include <algorithm>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "internal.hpp"
#include "modelseal/error.hpp"

namespace modelseal::scan::detail {

namespace {

constexpr uint32_t kLocalSig = 0x04034b50, kCentralSig = 0x02014b50, kEndSig = 0x06054b50;
constexpr uint32_t kZip64EndSig = 0x06064b50, kZip64LocatorSig = 0x07064b50;
constexpr uint64_t kEndSize = 22, kMaxComment = 0xFFFF;
constexpr uint64_t kMaxCrcCheck = 64ull << 20;
constexpr uint16_t kFlagEncrypted = 0x0001, kFlagPatched = 0x0020, kFlagStrongEncryption = 0x0040;
constexpr uint16_t kKnownFlags = 0x0001 | 0x0002 | 0x0004 | 0x0008 | 0x0800;

[[noreturn]] void bad(const std::string& why) { throw untrusted("zip: " + why); }

uint64_t le_at(const std::string& s, size_t at, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(s[at + static_cast<size_t>(i)]);
  return v;
}

struct Entry {
  std::string name;
  uint16_t flags = 0, method = 0;
  uint32_t crc = 0;
  uint64_t csize = 0, usize = 0, local = 0;
  uint64_t data = 0;  // start of the member's data, from its local header
};

struct Directory {
  uint64_t offset = 0, size = 0, entries = 0, end_at = 0;
};

// The end record as zipfile and miniz find it: the last signature in the final 64 KiB + 22.
std::optional<uint64_t> end_record(const Source& src, std::string* tail_out, uint64_t* from_out) {
  uint64_t size = src.size();
  if (size < kEndSize) return std::nullopt;
  uint64_t from = size > kEndSize + kMaxComment ? size - kEndSize - kMaxComment : 0;
  std::string tail = src.read_string(from, static_cast<size_t>(size - from));
  for (size_t i = tail.size() - kEndSize + 1; i-- > 0;) {
    if (le_at(tail, i, 4) == kEndSig) {
      if (tail_out) *tail_out = std::move(tail);
      if (from_out) *from_out = from;
      return from + i;
    }
  }
  return std::nullopt;
}

Directory find_directory(const Source& src, Result& r) {
  uint64_t size = src.size();
  std::string tail;
  uint64_t from = 0;
  std::optional<uint64_t> found = end_record(src, &tail, &from);
  if (!found) bad("no end of central directory record");
  size_t at = static_cast<size_t>(*found - from);
  Directory d;
  d.end_at = *found;
  uint64_t disk = le_at(tail, at + 4, 2), cd_disk = le_at(tail, at + 6, 2);
  uint64_t on_disk = le_at(tail, at + 8, 2);
  d.entries = le_at(tail, at + 10, 2);
  d.size = le_at(tail, at + 12, 4);
  d.offset = le_at(tail, at + 16, 4);
  uint64_t comment = le_at(tail, at + 20, 2);
  if (d.end_at + kEndSize + comment != size) {
    add_finding(r, "zip: end record comment length disagrees with the end of the file", "medium", d.end_at);
  }
  // A zip64 locator: Python's zipfile reads the zip64 record just before it, miniz where the
  // locator points, and both then use it whatever the end record says. They must agree, and
  // the end record must not tell a third reader something else.
  bool markers = d.entries == 0xFFFF || d.size == 0xFFFFFFFF || d.offset == 0xFFFFFFFF;
  std::string loc = d.end_at >= 20 ? src.read_string(d.end_at - 20, 20) : std::string();
  bool locator = loc.size() == 20 && le_at(loc, 0, 4) == kZip64LocatorSig;
  if (locator) {
    uint64_t pointed = le_at(loc, 8, 8);
    uint64_t before = d.end_at >= 20 + 56 ? d.end_at - 20 - 56 : UINT64_MAX;
    auto is_record = [&](uint64_t z) {
      return z != UINT64_MAX && z + 56 <= d.end_at - 20 && le_at(src.read_string(z, 4), 0, 4) == kZip64EndSig;
    };
    bool py = is_record(before), mz = is_record(pointed);
    if (py != mz || (py && before != pointed)) {
      bad("zip64 locator points elsewhere than the record before it (zipfile and miniz read different directories)");
    }
    if (py) {
      std::string rec = src.read_string(before, 56);
      uint64_t e64 = le_at(rec, 32, 8), s64 = le_at(rec, 40, 8), o64 = le_at(rec, 48, 8);
      if ((d.entries != 0xFFFF && d.entries != e64) || (d.size != 0xFFFFFFFF && d.size != s64) ||
          (d.offset != 0xFFFFFFFF && d.offset != o64)) {
        bad("zip64 record and end record describe different central directories");
      }
      disk = le_at(rec, 16, 4);
      cd_disk = le_at(rec, 20, 4);
      on_disk = le_at(rec, 24, 8);
      d.entries = e64;
      d.size = s64;
      d.offset = o64;
      d.end_at = before;
    } else {
      bad("zip64 locator without a zip64 end record");
    }
  } else if (markers) {
    bad("zip64 locator missing");
  }
  if (disk != 0 || cd_disk != 0 || on_disk != d.entries) bad("multi-disk archives are not supported");
  if (d.offset > d.end_at || d.size > d.end_at - d.offset) bad("central directory out of bounds");
  // zipfile shifts every offset by the difference (data prepended to the archive); miniz does
  // not. Either way the two read different bytes.
  if (d.offset + d.size != d.end_at) {
    bad("central directory does not end where the end record is (prepended data or a gap: "
        "zipfile shifts offsets, miniz does not)");
  }
  if (d.entries > d.size / 46) bad("entry count does not fit the central directory");
  return d;
}

void apply_zip64(Entry& e, const std::string& extra, bool need_u, bool need_c, bool need_off) {
  for (size_t i = 0; i + 4 <= extra.size();) {
    uint64_t id = le_at(extra, i, 2), len = le_at(extra, i + 2, 2);
    if (i + 4 + len > extra.size()) bad("extra field out of bounds in '" + e.name + "'");
    if (id == 1) {
      size_t p = i + 4, stop = i + 4 + len;
      auto take = [&](uint64_t& v) {
        if (p + 8 > stop) bad("zip64 extra field too short in '" + e.name + "'");
        v = le_at(extra, p, 8);
        p += 8;
      };
      if (need_u) take(e.usize);
      if (need_c) take(e.csize);
      if (need_off) take(e.local);
      return;
    }
    i += 4 + len;
  }
  if (need_u || need_c || need_off) bad("zip64 extra field missing in '" + e.name + "'");
}

std::vector<Entry> read_directory(const Source& src, const Directory& d) {
  std::vector<Entry> entries;
  Reader in(src, d.offset);
  uint64_t end = d.offset + d.size;
  for (uint64_t i = 0; i < d.entries; ++i) {
    if (end - in.pos() < 46) bad("central directory truncated");
    if (in.le(4) != kCentralSig) bad("bad central directory entry " + std::to_string(i));
    Entry e;
    in.skip(4);
    e.flags = static_cast<uint16_t>(in.le(2));
    e.method = static_cast<uint16_t>(in.le(2));
    in.skip(4);
    e.crc = static_cast<uint32_t>(in.le(4));
    e.csize = in.le(4);
    e.usize = in.le(4);
    uint64_t nlen = in.le(2), xlen = in.le(2), clen = in.le(2);
    in.skip(8);
    e.local = in.le(4);
    if (nlen + xlen + clen > end - in.pos()) bad("central directory entry " + std::to_string(i) + " out of bounds");
    e.name = src.read_string(in.pos(), static_cast<size_t>(nlen));
    std::string extra = src.read_string(in.pos() + nlen, static_cast<size_t>(xlen));
    in.skip(nlen + xlen + clen);
    apply_zip64(e, extra, e.usize == 0xFFFFFFFF, e.csize == 0xFFFFFFFF, e.local == 0xFFFFFFFF);
    entries.push_back(std::move(e));
  }
  if (in.pos() != end) bad("central directory size disagrees with its entries");
  return entries;
}

// Reads the local header the loaders follow, and notes where it disagrees with the directory.
void read_local(const Source& src, Entry& e, uint64_t cd_offset, Result& r) {
  if (e.local > cd_offset || cd_offset - e.local < 30) bad("local header of '" + e.name + "' out of bounds");
  std::string h = src.read_string(e.local, 30);
  if (le_at(h, 0, 4) != kLocalSig) bad("no local header for '" + e.name + "'");
  uint16_t flags = static_cast<uint16_t>(le_at(h, 6, 2));
  uint16_t method = static_cast<uint16_t>(le_at(h, 8, 2));
  uint64_t nlen = le_at(h, 26, 2), xlen = le_at(h, 28, 2);
  e.data = e.local + 30 + nlen + xlen;
  if (e.data > cd_offset || e.csize > cd_offset - e.data) bad("data of '" + e.name + "' out of bounds");
  std::string lname = src.read_string(e.local + 30, static_cast<size_t>(nlen));
  if (lname != e.name) {
    add_finding(r, "zip: local header name '" + lname + "' differs from directory name", "medium", e.local, e.name);
  }
  if (method != e.method) add_finding(r, "zip: local and directory compression methods differ", "medium", e.local, e.name);
  if ((flags ^ e.flags) & ~0x0008) add_finding(r, "zip: local and directory flags differ", "low", e.local, e.name);
  if (e.flags & (kFlagEncrypted | kFlagStrongEncryption)) {
    add_finding(r, "zip: encrypted member cannot be scanned", "medium", e.local, e.name);
  }
  if (e.flags & kFlagPatched) add_finding(r, "zip: patched-data member", "medium", e.local, e.name);
  if (e.flags & ~kKnownFlags & ~(kFlagPatched | kFlagStrongEncryption)) {
    add_finding(r, "zip: unusual flag bits", "low", e.local, e.name);
  }
}

uint32_t crc_of(const Source& s) {
  std::vector<char> buf(static_cast<size_t>(std::min<uint64_t>(1u << 20, s.size())));
  uint32_t crc = 0;
  for (uint64_t off = 0; off < s.size();) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(buf.size(), s.size() - off));
    s.read(off, buf.data(), n);
    crc = crc32(crc, buf.data(), n);
    off += n;
  }
  return crc;
}

}  // namespace

bool zip_found_from_end(const Source& src) {
  std::string tail;
  uint64_t from = 0;
  std::optional<uint64_t> at = end_record(src, &tail, &from);
  if (!at) return false;
  size_t i = static_cast<size_t>(*at - from);
  uint64_t entries = le_at(tail, i + 10, 2), size = le_at(tail, i + 12, 4), offset = le_at(tail, i + 16, 4);
  if (entries == 0 && size == 0) return false;  // an empty archive holds nothing to load
  // zipfile's reading (offsets shifted by what precedes the directory) or the plain one.
  for (uint64_t cd : {offset, *at >= size ? *at - size : UINT64_MAX}) {
    if (cd != UINT64_MAX && cd + 4 <= src.size() && le_at(src.read_string(cd, 4), 0, 4) == kCentralSig) return true;
  }
  // A zip64 directory is located through the records before the end record.
  return *at >= 20 && le_at(src.read_string(*at - 20, 4), 0, 4) == kZip64LocatorSig;
}

Result scan_zip(const Source& src, int depth) {
  Result r;
  r.format = "zip";
  if (depth >= kMaxNesting) bad("archives nested too deeply");
  Directory d = find_directory(src, r);
  std::vector<Entry> entries = read_directory(src, d);

  std::set<std::string> names;
  bool torch = false, keras_config = false, all_npy = !entries.empty();
  // torch.load hands an archive with a constants.pkl record to torch.jit.load (TorchScript).
  bool torchscript = false;
  for (const Entry& e : entries) {
    size_t slash = e.name.find('/');
    if (slash != std::string::npos && e.name.compare(slash + 1, std::string::npos, "constants.pkl") == 0) torchscript = true;
  }
  // TorchScript source (code/*.py) is compiled, not run by Python; a __setstate__ method in it
  // runs at load, as TorchScript.
  auto torchscript_code = [&](const Source& member, const Entry& e) {
    if (!torchscript || e.name.find("/code/") == std::string::npos || !e.name.ends_with(".py")) return;
    std::string text = member.read_string(0, static_cast<size_t>(std::min<uint64_t>(member.size(), 64u << 20)));
    if (text.find("def __setstate__(") != std::string::npos) {
      add_finding(r, "TorchScript __setstate__ runs at load (TorchScript code: it imports and calls no Python)", "low",
                  e.local, e.name);
    }
  };
  for (Entry& e : entries) {
    read_local(src, e, d.offset, r);
    if (!names.insert(e.name).second) add_finding(r, "zip: duplicate member name", "medium", e.local, e.name);
    if (e.flags & (kFlagEncrypted | kFlagStrongEncryption)) continue;
    bool is_dir = !e.name.empty() && e.name.back() == '/' && e.usize == 0;
    if (is_dir) continue;

    Result m;
    if (e.method == 0) {
      if (e.csize != e.usize) add_finding(r, "zip: stored member sizes differ", "medium", e.local, e.name);
      SubSource member(src, e.data, e.csize);
      m = scan_source(member, depth + 1);
      torchscript_code(member, e);
      if (m.format != "unknown" && e.csize <= kMaxCrcCheck && crc_of(member) != e.crc) {
        add_finding(r, "zip: CRC-32 mismatch", "medium", e.local, e.name);
      }
    } else if (e.method == 8) {
      bool truncated = false;
      std::string data = inflate(src, e.data, e.csize, kMaxInflated, &truncated);
      if (!truncated && data.size() != e.usize) add_finding(r, "zip: inflated size differs from the directory", "medium", e.local, e.name);
      if (!truncated && crc32(0, data.data(), data.size()) != e.crc) add_finding(r, "zip: CRC-32 mismatch", "medium", e.local, e.name);
      MemorySource member(std::move(data));
      m = scan_source(member, depth + 1);
      torchscript_code(member, e);
      if (truncated) add_finding(r, "zip: member larger than the scanner's decompression limit", "medium", e.local, e.name);
    } else if (e.method == 12) {  // bzip2: zipfile reads it (miniz does not)
      Decompressed z = decompress(src, e.data, e.csize, Wrapper::bz2, kMaxInflated);
      if (!z.error.empty()) add_finding(r, "zip: " + z.error, "medium", e.local, e.name);
      if (z.capped) add_finding(r, "zip: member larger than the scanner's decompression limit", "medium", e.local, e.name);
      MemorySource member(std::move(z.data));
      m = scan_source(member, depth + 1);
    } else {
      add_finding(r, "zip: compression method " + std::to_string(e.method) + " is not read by the scanner", "medium",
                  e.local, e.name);
      continue;
    }
    r.members.push_back(e.name);
    merge_findings(r, m, e.name);
    std::string base = e.name.substr(e.name.rfind('/') + 1);
    if (base == "data.pkl" && m.format == "pickle") torch = true;
    if (base == "config.json" && m.format == "json") keras_config = true;
    if (m.format != "numpy") all_npy = false;
  }

  // Members must not share bytes (one payload seen under two names), and no bytes may lie
  // between them: a reader walking local headers would see what the directory hides.
  struct Span {
    uint64_t start, end, slack;  // slack: a data descriptor (flag 3) of 12 to 24 bytes may follow
  };
  std::vector<Span> spans;
  for (const Entry& e : entries) spans.push_back({e.local, e.data + e.csize, (e.flags & 0x0008) ? 24u : 0u});
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) { return a.start < b.start; });
  uint64_t end = 0, slack = 0;
  for (const Span& sp : spans) {
    if (sp.start < end) {
      add_finding(r, "zip: members overlap", "medium", sp.start);
    } else if (sp.start > end + slack) {
      add_finding(r, "zip: " + std::to_string(sp.start - end) + " bytes before this member belong to no member",
                  "medium", end);
    }
    if (sp.end >= end) {
      end = sp.end;
      slack = sp.slack;
    }
  }
  if (!spans.empty() && d.offset > end + slack) {
    add_finding(r, "zip: " + std::to_string(d.offset - end) + " bytes between the last member and the central directory",
                "medium", end);
  }

  if (torchscript && torch) r.format = "torchscript";
  else if (torch) r.format = "pytorch-zip";
  else if (all_npy) r.format = "npz";
  else if (keras_config) r.format = "keras";
  r.verdict = has_serious(r) ? Verdict::unsafe : Verdict::safe;
  return r;
}

}  // namespace modelseal::scan::detail
