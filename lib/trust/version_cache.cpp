#include "modelseal/version_cache.hpp"

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <algorithm>
#include <unistd.h>

#include "modelseal/error.hpp"

namespace modelseal {

namespace {

// A record: magic, the key it was filed under, the file version, the ranges with their digests,
// and a SHA-256 over all of that (a torn or damaged record never passes).
constexpr char kMagic[8] = {'M', 'S', 'V', 'C', 'A', 'C', 'H', '1'};
constexpr size_t kHead = sizeof kMagic + 32 + 5 * 8 + 8;
constexpr size_t kPerRange = 8 + 8 + 32;
constexpr size_t kMaxRanges = 1u << 20;

void put64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}

uint64_t get64(const std::string& in, size_t& at) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(static_cast<uint8_t>(in[at + i])) << (8 * i);
  at += 8;
  return v;
}

void put_digest(std::string& out, const Digest& d) { out.append(reinterpret_cast<const char*>(d.data()), d.size()); }

Digest get_digest(const std::string& in, size_t& at) {
  Digest d;
  std::memcpy(d.data(), in.data() + at, d.size());
  at += d.size();
  return d;
}

// The record's name and key: the signature, the policy and the file (device and inode). A new
// version of the same file replaces its record.
Digest key_of(const VersionCache::Scope& scope, const FileIdentity& id) {
  std::string k = "modelseal verification cache v1";
  put_digest(k, scope.signature);
  put_digest(k, scope.policy);
  put64(k, id.dev);
  put64(k, id.ino);
  return sha256(k);
}

std::string encode(const Digest& key, const FileIdentity& id, const std::vector<VersionCache::Range>& ranges,
                   const std::vector<Digest>& digests) {
  std::string out(kMagic, sizeof kMagic);
  put_digest(out, key);
  for (uint64_t v : {id.dev, id.ino, id.size, static_cast<uint64_t>(id.mtime_ns), static_cast<uint64_t>(id.ctime_ns)})
    put64(out, v);
  put64(out, ranges.size());
  for (size_t i = 0; i < ranges.size(); ++i) {
    put64(out, ranges[i].first);
    put64(out, ranges[i].second);
    put_digest(out, digests[i]);
  }
  put_digest(out, sha256(out));
  return out;
}

// Whether a folder or record may be trusted: owned by this account or root, and nobody else may
// write to it. Empty when it may, else why not.
std::string untrusted_owner(const struct stat& st) {
  if (st.st_uid != ::geteuid() && st.st_uid != 0) return "owned by another account (uid " + std::to_string(st.st_uid) + ")";
  if (st.st_mode & (S_IWGRP | S_IWOTH)) return "writable by group or others";
  return {};
}

}  // namespace

VersionCache VersionCache::open(const std::string& dir) {
  if (dir.empty() || dir[0] != '/') throw usage_error("the verification cache must be an absolute path: " + dir);
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    throw errno_error("cannot make the verification cache", dir, errno);
  auto fd = std::make_shared<UniqueFd>(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!*fd) {
    Error e = errno_error("cannot open the verification cache", dir, errno);
    throw Error(Status::usage, e.what());
  }
  struct stat st;
  if (::fstat(fd->get(), &st) != 0) throw Error(Status::usage, errno_error("cannot stat", dir, errno).what());
  if (std::string why = untrusted_owner(st); !why.empty())
    throw usage_error("the verification cache " + dir + " is " + why,
                      "it must belong to this account (or root) and be writable by nobody else");
  return VersionCache(std::move(fd), dir);
}

std::optional<VersionCache> VersionCache::from_environment(std::string& why) {
  why.clear();
  std::string dir;
  if (const char* v = std::getenv("MODELSEAL_CACHE_DIR"); v && *v) {
    if (std::strcmp(v, "off") == 0) return std::nullopt;
    dir = v;
  } else if (const char* run = std::getenv("XDG_RUNTIME_DIR"); run && *run == '/') {
    dir = std::string(run) + "/modelseal-cache";
  } else {
    return std::nullopt;
  }
  try {
    return open(dir);
  } catch (const Error& e) {
    why = e.what();
    return std::nullopt;
  }
}

std::optional<std::vector<Digest>> VersionCache::find(const Scope& scope, const FileIdentity& id,
                                                      const std::vector<Range>& ranges, std::string& problem) const {
  problem.clear();
  const Digest key = key_of(scope, id);
  const std::string name = digest_hex(key);
  UniqueFd fd(::openat(dir_->get(), name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (!fd) {
    if (errno != ENOENT) problem = "cannot open " + path_ + "/" + name + ": " + std::strerror(errno);
    return std::nullopt;
  }
  const std::string where = path_ + "/" + name;
  struct stat st;
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    problem = "not a regular file: " + where;
    return std::nullopt;
  }
  if (std::string why = untrusted_owner(st); !why.empty()) {
    problem = "ignored a record " + why + ": " + where;
    return std::nullopt;
  }
  if (st.st_size < static_cast<off_t>(kHead + 32) || st.st_size > static_cast<off_t>(kHead + kMaxRanges * kPerRange + 32)) {
    problem = "ignored a truncated or damaged record: " + where;
    return std::nullopt;
  }
  std::string rec(static_cast<size_t>(st.st_size), '\0');
  size_t got = 0;
  while (got < rec.size()) {
    ssize_t n = ::pread(fd.get(), rec.data() + got, rec.size() - got, static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  size_t at = sizeof kMagic;
  const bool framed = got == rec.size() && std::memcmp(rec.data(), kMagic, sizeof kMagic) == 0 &&
                      sha256(std::string_view(rec).substr(0, rec.size() - 32)) ==
                          [&] { size_t end = rec.size() - 32; return get_digest(rec, end); }();
  if (!framed || get_digest(rec, at) != key) {
    problem = "ignored a truncated or damaged record: " + where;
    return std::nullopt;
  }
  FileIdentity have;
  have.dev = get64(rec, at);
  have.ino = get64(rec, at);
  have.size = get64(rec, at);
  have.mtime_ns = static_cast<int64_t>(get64(rec, at));
  have.ctime_ns = static_cast<int64_t>(get64(rec, at));
  const uint64_t count = get64(rec, at);
  if (count > kMaxRanges || rec.size() != kHead + count * kPerRange + 32) {
    problem = "ignored a truncated or damaged record: " + where;
    return std::nullopt;
  }
  if (!(have == id) || count != ranges.size()) return std::nullopt;   // another version of the file
  std::vector<Digest> digests;
  for (const Range& r : ranges) {
    const uint64_t start = get64(rec, at), end = get64(rec, at);
    if (start != r.first || end != r.second) return std::nullopt;
    digests.push_back(get_digest(rec, at));
  }
  return digests;
}

UniqueFd VersionCache::claim(const Scope& scope, const FileIdentity& id, unsigned wait_ms) const noexcept {
  try {
    const std::string name = digest_hex(key_of(scope, id)) + ".lock";
    UniqueFd fd(::openat(dir_->get(), name.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd) return fd;
    struct stat st;
    if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || !untrusted_owner(st).empty()) return UniqueFd();
    // A POSIX record lock: held by this process alone (a child forked meanwhile does not inherit
    // it), and polled rather than waited for, so that a holder that never lets go costs a
    // bounded wait.
    struct flock lk {};
    lk.l_type = F_WRLCK;
    lk.l_whence = SEEK_SET;
    unsigned waited = 0;
    for (unsigned pause = 1; ::fcntl(fd.get(), F_SETLK, &lk) != 0; pause = std::min(pause * 2, 20u)) {
      if (errno != EACCES && errno != EAGAIN && errno != EINTR) return UniqueFd();
      if (waited >= wait_ms) return UniqueFd();
      ::usleep(pause * 1000);
      waited += pause;
    }
    return fd;
  } catch (...) {
    return UniqueFd();
  }
}

bool VersionCache::store(const Scope& scope, const FileIdentity& id, const std::vector<Range>& ranges,
                         const std::vector<Digest>& digests) const noexcept {
  try {
    if (ranges.size() != digests.size() || ranges.size() > kMaxRanges) return false;
    const Digest key = key_of(scope, id);
    const std::string rec = encode(key, id, ranges, digests);
    const std::string name = digest_hex(key);
    // A private temporary name, then one rename: readers see the whole old record or the new one.
    static std::atomic<uint64_t> serial{0};
    const std::string tmp = "." + name + "." + std::to_string(::getpid()) + "." + std::to_string(serial.fetch_add(1));
    UniqueFd fd(::openat(dir_->get(), tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd) return false;
    size_t done = 0;
    while (done < rec.size()) {
      ssize_t n = ::write(fd.get(), rec.data() + done, rec.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      done += static_cast<size_t>(n);
    }
    if (done != rec.size() || ::renameat(dir_->get(), tmp.c_str(), dir_->get(), name.c_str()) != 0) {
      ::unlinkat(dir_->get(), tmp.c_str(), 0);
      return false;
    }
    return true;
  } catch (...) {
    return false;
  }
}

}  // namespace modelseal
