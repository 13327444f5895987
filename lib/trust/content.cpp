#include "modelseal/content.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <mutex>
#include <optional>
#include <csignal>
#include <ctime>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <iterator>

#include "modelseal/error.hpp"
#include "modelseal/formats.hpp"
#include "modelseal/hasher.hpp"
#include "modelseal/walk.hpp"
#include "modelseal/parallel.hpp"

namespace modelseal {

namespace {

std::string bytes_text(uint64_t n) { return std::to_string(n) + " bytes"; }

std::string naming(const std::string& display) { return display.empty() ? "" : ": " + display; }

// Not listed: say whether the signer left it out on purpose.
[[noreturn]] void unlisted(const Manifest& m, std::string_view name, const std::string& display) {
  if (is_ignored(name, m.serialization.signer_ignores()))
    throw untrusted("not covered by the signature (the signer ignored it)" + naming(display));
  throw untrusted("not listed in the signature" + naming(display));
}

}  // namespace

ContentCheck ContentCheck::of(const VerifiedModel& model, std::string_view name, uint64_t size, std::string display) {
  const Manifest& m = model.manifest();
  auto res = model.resources_for(name);
  if (res.empty()) unlisted(m, name, display);
  ContentCheck c;
  c.display_ = std::move(display);
  if (m.serialization.method == Method::files) {
    c.ranges_.emplace_back(0, size);
    c.digests_.push_back(res.front()->digest);
    return c;
  }
  for (const Resource* r : res) {  // in offset order (resources_for)
    auto sn = parse_shard_name(r->name);
    c.ranges_.emplace_back(sn->start, sn->end);
    c.digests_.push_back(r->digest);
    c.names_.push_back(r->name);
  }
  if (c.ranges_ != shard_ranges(size, m.serialization.shard_size))
    throw untrusted("size is " + std::to_string(size) + " bytes, signed as " + std::to_string(c.ranges_.back().second) +
                    naming(c.display_));
  return c;
}

ContentCheck ContentCheck::of_manifest(const Manifest& m, std::string_view name, std::string display) {
  ContentCheck c;
  c.display_ = std::move(display);
  std::vector<std::pair<ShardName, const Resource*>> parts;
  for (const Resource& r : m.resources) {
    if (m.serialization.method == Method::files) {
      if (r.name == name) parts.push_back({{r.name, 0, 0}, &r});
    } else if (auto sn = parse_shard_name(r.name); sn && sn->path == name) {
      parts.push_back({*sn, &r});
    }
  }
  if (parts.empty()) unlisted(m, name, c.display_);
  if (m.serialization.method == Method::files) {
    c.sized_ = false;
    c.ranges_.emplace_back(0, UINT64_MAX);
    c.digests_.push_back(parts.front().second->digest);
    return c;
  }
  std::sort(parts.begin(), parts.end(), [](const auto& a, const auto& b) { return a.first.start < b.first.start; });
  for (const auto& [sn, r] : parts) {
    c.ranges_.emplace_back(sn.start, sn.end);
    c.digests_.push_back(r->digest);
    c.names_.push_back(r->name);
  }
  if (c.ranges_ != shard_ranges(c.ranges_.back().second, m.serialization.shard_size))
    throw untrusted("the signature's shards of " + std::string(name) + " do not cover the file exactly" +
                    naming(c.display_));
  return c;
}

void ContentCheck::mismatch(size_t i, const Digest& have) const {
  throw untrusted("modified: sha256 is " + digest_hex(have) + " but the signature says " + digest_hex(digests_[i]) +
                  (names_.empty() ? "" : " (shard " + names_[i] + ")") + naming(display_));
}

void ContentCheck::compare(const std::vector<Digest>& have) const {
  if (have.size() != digests_.size()) throw untrusted("incomplete content check" + naming(display_));
  for (size_t i = 0; i < digests_.size(); ++i)
    if (have[i] != digests_[i]) mismatch(i, have[i]);
}

ContentCheck ContentCheck::named(std::string display) const {
  ContentCheck c = *this;
  c.display_ = std::move(display);
  return c;
}

void ContentStream::update(const uint8_t* data, size_t n) {
  const auto& ranges = check_.ranges();
  const auto signed_size = check_.size();
  const uint64_t limit = signed_size ? *signed_size : bound_;
  if (n > limit - pos_) {
    if (signed_size) throw untrusted("longer than signed (" + bytes_text(limit) + ")" + naming(check_.display()));
    throw untrusted("longer than allowed (" + bytes_text(limit) + ")" + naming(check_.display()),
                    "raise --max-file-size if you expect a file this large");
  }
  if (!signed_size) {
    sha_.update(data, n);
    pos_ += n;
    return;
  }
  for (size_t done = 0; done < n;) {  // check each shard the moment its last byte arrives
    const uint64_t take = std::min<uint64_t>(n - done, ranges[piece_].second - (pos_ + done));
    sha_.update(data + done, take);
    done += take;
    if (pos_ + done == ranges[piece_].second) {
      Digest got = sha_.finish();
      if (got != check_.digests()[piece_]) check_.mismatch(piece_, got);
      ++piece_;
    }
  }
  pos_ += n;
}

void ContentStream::finish() {
  const auto& ranges = check_.ranges();
  if (!check_.size()) {
    Digest got = sha_.finish();
    if (got != check_.digests()[0]) check_.mismatch(0, got);
    return;
  }
  while (piece_ < ranges.size() && ranges[piece_].second == pos_) {  // empty shards (an empty file)
    Digest got = sha_.finish();
    if (got != check_.digests()[piece_]) check_.mismatch(piece_, got);
    ++piece_;
  }
  if (piece_ != ranges.size())
    throw untrusted("is " + bytes_text(pos_) + ", signed as " + bytes_text(*check_.size()) + naming(check_.display()));
}

void ContentStream::restart() {
  sha_.finish();  // resets
  pos_ = 0;
  piece_ = 0;
}

FileIdentity identity_of(const struct stat& st) {
  return {static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino), static_cast<uint64_t>(st.st_size),
          st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec, st.st_ctim.tv_sec * 1000000000LL + st.st_ctim.tv_nsec};
}

FileIdentity identity_of(int fd, const std::string& display_name) {
  struct stat st;
  if (::fstat(fd, &st) != 0) throw errno_error("cannot stat", display_name, errno);
  if (!S_ISREG(st.st_mode)) throw untrusted("not a regular file: " + display_name);
  return identity_of(st);
}

namespace {

// Hashes [range) of `fd` into one digest, handing every chunk to `sink` as it was hashed.
Digest hash_range(int fd, const ContentCheck::Range& range, std::vector<uint8_t>& buffer, const OffsetSink& sink,
                  const std::string& display, const std::atomic<bool>* cancel = nullptr) {
  if (buffer.empty()) buffer.resize(kReadChunk);
  Sha256 sha;
  for (uint64_t off = range.first; off < range.second;) {
    if (cancel && cancel->load(std::memory_order_relaxed)) throw io_error("hashing was stopped: " + display);
    size_t n = static_cast<size_t>(std::min<uint64_t>(range.second - off, buffer.size()));
    hash_fd_range(fd, off, n, sha, {buffer.data(), n}, display);
    if (sink) sink(off, buffer.data(), n);
    off += n;
  }
  return sha.finish();
}

FileIdentity sized_identity(const ContentCheck& check, int fd) {
  const FileIdentity id = identity_of(fd, check.display());
  if (!check.size() || id.size != *check.size()) throw untrusted("file changed while it was verified: " + check.display());
  return id;
}

void same_identity(const ContentCheck& check, int fd, const FileIdentity& before) {
  if (!(identity_of(fd, check.display()) == before))
    throw untrusted("file changed while it was verified: " + check.display());
}

}  // namespace

std::vector<Digest> check_fd(const ContentCheck& check, int fd, unsigned threads, const OffsetSink& sink) {
  const FileIdentity before = sized_identity(check, fd);
  const auto& ranges = check.ranges();
  std::vector<Digest> have(ranges.size());
  const unsigned workers = std::min<size_t>(threads ? threads : default_threads(), std::max<size_t>(ranges.size(), 1));
  std::vector<std::vector<uint8_t>> buffers(workers);
  parallel_for(ranges.size(), workers, [&](size_t i, unsigned w) {   // rethrows the first error
    have[i] = hash_range(fd, ranges[i], buffers[w], sink, check.display());
  });
  same_identity(check, fd, before);
  check.compare(have);
  return have;
}

std::vector<FileDigests> check_fds(const std::vector<FdCheck>& files, unsigned threads,
                                   const std::function<void(size_t, const FileDigests&)>& on_file,
                                   const std::atomic<bool>* cancel) {
  struct Job {
    size_t file, range;
    uint64_t length;
  };
  std::vector<FileDigests> out(files.size());
  std::vector<FileIdentity> before(files.size());
  std::vector<Job> jobs;
  const int64_t started = realtime_ns();
  for (size_t f = 0; f < files.size(); ++f) {
    try {
      before[f] = sized_identity(files[f].check, files[f].fd);
      out[f].quiet = no_writer(files[f].fd);
      const auto& ranges = files[f].check.ranges();
      out[f].shards.resize(ranges.size());
      for (size_t r = 0; r < ranges.size(); ++r) jobs.push_back({f, r, ranges[r].second - ranges[r].first});
    } catch (const Error& e) {
      out[f].error = e;
    }
  }
  // A file is finished by the thread that hashes its last range: compared, and handed to on_file.
  std::vector<std::atomic<size_t>> left(files.size());
  std::vector<std::mutex> error_mu(files.size());
  auto finish = [&](size_t f) {
    if (!out[f].error) {
      try {
        same_identity(files[f].check, files[f].fd, before[f]);
        files[f].check.compare(out[f].shards);
        out[f].quiet = out[f].quiet && no_writer(files[f].fd) && rememberable(files[f].fd, before[f], started);
      } catch (const Error& e) {
        out[f].error = e;
      }
    }
    if (out[f].error) out[f].quiet = false;
    if (on_file) on_file(f, out[f]);
  };
  for (size_t f = 0; f < files.size(); ++f) left[f] = out[f].shards.size();
  for (size_t f = 0; f < files.size(); ++f)
    if (out[f].error) finish(f);
  // Largest first, so that no thread is left with one big file at the end.
  std::stable_sort(jobs.begin(), jobs.end(), [](const Job& a, const Job& b) { return a.length > b.length; });
  std::vector<std::vector<uint8_t>> buffers(threads ? threads : default_threads());
  parallel_for(jobs.size(), static_cast<unsigned>(buffers.size()), [&](size_t j, unsigned w) {
    const Job& job = jobs[j];
    const FdCheck& fc = files[job.file];
    try {
      out[job.file].shards[job.range] =
          hash_range(fc.fd, fc.check.ranges()[job.range], buffers[w], {}, fc.check.display(), cancel);
    } catch (const Error& e) {
      std::lock_guard lock(error_mu[job.file]);
      if (!out[job.file].error) out[job.file].error = e;
    }
    if (left[job.file].fetch_sub(1) == 1) finish(job.file);
  });
  return out;
}

bool no_writer(int fd) noexcept {
  // A writer opening the file while the lease is held makes the kernel signal its owner, which
  // taking the lease makes this process: the signal is SIGURG (ignored unless the host handles
  // it) rather than SIGIO (which would end the host), and the owner is dropped at once.
  ::fcntl(fd, F_SETSIG, SIGURG);
  const bool granted = ::fcntl(fd, F_SETLEASE, F_RDLCK) == 0;
  if (granted) {
    ::fcntl(fd, F_SETOWN, 0);
    ::fcntl(fd, F_SETLEASE, F_UNLCK);
  }
  ::fcntl(fd, F_SETSIG, 0);
  return granted;
}

int64_t realtime_ns() noexcept {
  struct timespec ts {};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

bool rememberable(int fd, const FileIdentity& id, int64_t started_ns) noexcept {
  // Local file systems whose stores through a shared mapping set ctime (page_mkwrite updates the
  // times). tmpfs does not; network and FUSE file systems report what a server says.
  constexpr unsigned long kTrusted[] = {0xEF53 /* ext2/3/4 */, 0x58465342 /* XFS */, 0x9123683E /* Btrfs */,
                                        0xF2F52010 /* F2FS */};
  struct statfs fs {};
  if (::fstatfs(fd, &fs) != 0) return false;
  if (std::find(std::begin(kTrusted), std::end(kTrusted), static_cast<unsigned long>(fs.f_type)) == std::end(kTrusted))
    return false;
  constexpr int64_t kSecond = 1000000000LL;
  if (id.mtime_ns % kSecond == 0 && id.ctime_ns % kSecond == 0) return false;   // whole seconds only
  // File times come from a clock that advances once per tick (at most 10 ms at HZ=100).
  constexpr int64_t kTick = 10000000LL;
  return id.ctime_ns < started_ns - kTick;
}

}  // namespace modelseal
