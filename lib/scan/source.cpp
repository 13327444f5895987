// Byte sources and the buffered stream reader used by every format parser.
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <unistd.h>

#include "internal.hpp"
#include "modelseal/error.hpp"

namespace modelseal::scan::detail {

namespace {
constexpr size_t kChunk = 1u << 20;
constexpr size_t kFirstChunk = 16u << 10;

void check_range(uint64_t size, uint64_t off, size_t n) {
  if (off > size || n > size - off) {
    throw untrusted("unexpected end of data at offset " + std::to_string(off));
  }
}
}  // namespace

std::string Source::read_string(uint64_t off, size_t n) const {
  check_range(size(), off, n);
  std::string s(n, '\0');
  read(off, s.data(), n);
  return s;
}

std::string Source::peek(uint64_t off, size_t n) const {
  if (off >= size()) return {};
  return read_string(off, static_cast<size_t>(std::min<uint64_t>(n, size() - off)));
}

void FdSource::read(uint64_t off, void* buf, size_t n) const {
  check_range(size_, off, n);
  auto* p = static_cast<uint8_t*>(buf);
  while (n > 0) {
    ssize_t got = ::pread(fd_, p, std::min(n, kChunk), static_cast<off_t>(off));
    if (got < 0) {
      if (errno == EINTR) continue;
      throw errno_error("cannot read", name_, errno);
    }
    if (got == 0) throw untrusted("file shrank while it was scanned: " + name_);
    p += got;
    off += static_cast<uint64_t>(got);
    n -= static_cast<size_t>(got);
  }
}

void MemorySource::read(uint64_t off, void* buf, size_t n) const {
  check_range(data_.size(), off, n);
  if (n > 0) std::memcpy(buf, data_.data() + off, n);
}

SubSource::SubSource(const Source& parent, uint64_t base, uint64_t len)
    : parent_(parent), base_(base), len_(len) {
  check_range(parent.size(), base, 0);
  if (len > parent.size() - base) throw untrusted("window past the end of its container");
}

void SubSource::read(uint64_t off, void* buf, size_t n) const {
  check_range(len_, off, n);
  parent_.read(base_ + off, buf, n);
}

Reader::Reader(const Source& src, uint64_t start) : src_(src), pos_(start) {
  if (start > src.size()) throw untrusted("start past the end of data");
}

void Reader::fill() {
  // Small first read: many streams are tried and rejected within a few bytes.
  size_t want = buf_.empty() ? kFirstChunk : kChunk;
  uint64_t n = std::min<uint64_t>(want, src_.size() - pos_);
  if (n == 0) throw untrusted("unexpected end of data at offset " + std::to_string(pos_));
  if (buf_.size() < n) buf_.resize(static_cast<size_t>(n));   // no larger than what is read
  src_.read(pos_, buf_.data(), static_cast<size_t>(n));
  buf_start_ = pos_;
  buf_len_ = static_cast<size_t>(n);
}

uint8_t Reader::byte() {
  if (pos_ < buf_start_ || pos_ >= buf_start_ + buf_len_) fill();
  return buf_[static_cast<size_t>(pos_++ - buf_start_)];
}

void Reader::read(void* out, size_t n) {
  check_range(src_.size(), pos_, n);
  auto* p = static_cast<uint8_t*>(out);
  while (n > 0) {
    if (pos_ < buf_start_ || pos_ >= buf_start_ + buf_len_) fill();
    size_t at = static_cast<size_t>(pos_ - buf_start_);
    size_t take = std::min(n, buf_len_ - at);
    std::memcpy(p, buf_.data() + at, take);
    p += take;
    pos_ += take;
    n -= take;
  }
}

uint64_t Reader::le(int nbytes) {
  uint64_t v = 0;
  for (int i = 0; i < nbytes; ++i) v |= static_cast<uint64_t>(byte()) << (8 * i);
  return v;
}

void Reader::skip(uint64_t n) {
  check_range(src_.size(), pos_, 0);
  if (n > src_.size() - pos_) throw untrusted("unexpected end of data at offset " + std::to_string(pos_));
  pos_ += n;
}

void Reader::seek(uint64_t pos) {
  if (pos > src_.size()) throw untrusted("offset past the end of data");
  pos_ = pos;
}

std::string Reader::line(size_t keep, uint64_t* length) {
  std::string out;
  uint64_t len = 0;
  for (;;) {
    if (pos_ < buf_start_ || pos_ >= buf_start_ + buf_len_) fill();
    size_t at = static_cast<size_t>(pos_ - buf_start_);
    const uint8_t* start = buf_.data() + at;
    const void* nl = std::memchr(start, '\n', buf_len_ - at);
    size_t take = nl ? static_cast<size_t>(static_cast<const uint8_t*>(nl) - start) : buf_len_ - at;
    if (out.size() < keep) out.append(reinterpret_cast<const char*>(start), std::min(take, keep - out.size()));
    len += take;
    pos_ += take;
    if (nl) {
      ++pos_;
      break;
    }
  }
  if (length) *length = len;
  return out;
}

namespace {

int rank(std::string_view severity) {
  if (severity == "critical") return 3;
  if (severity == "high") return 2;
  if (severity == "medium") return 1;
  return 0;
}

}  // namespace

// At the cap the least severe finding gives way to a more severe one, and the file is unsafe
// (Result::dropped): what is not listed was not looked at by whoever reads the report.
void add_finding(Result& r, std::string what, const char* severity, uint64_t offset,
                 std::string member) {
  Finding f{std::move(what), severity, offset, std::move(member)};
  if (r.findings.size() < kMaxFindings) {
    r.findings.push_back(std::move(f));
    return;
  }
  ++r.dropped;
  auto least = std::min_element(r.findings.begin(), r.findings.end(), [](const Finding& a, const Finding& b) {
    return rank(a.severity) < rank(b.severity);
  });
  if (rank(least->severity) < rank(f.severity)) *least = std::move(f);
}

void merge_findings(Result& into, const Result& from, const std::string& member) {
  for (const Finding& f : from.findings) {
    std::string m = f.member.empty() ? member : member.empty() ? f.member : member + "/" + f.member;
    add_finding(into, f.what, f.severity.c_str(), f.offset, std::move(m));
  }
  into.dropped += from.dropped;
  for (const std::string& m : from.members) into.members.push_back(member.empty() ? m : member + "/" + m);
  if (!from.error.empty()) {
    add_finding(into, "cannot parse: " + from.error, "medium", 0, member);
  }
}

bool has_serious(const Result& r) {
  if (r.dropped) return true;
  for (const Finding& f : r.findings) {
    if (f.severity != "low") return true;
  }
  return false;
}

}  // namespace modelseal::scan::detail
