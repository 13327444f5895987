// The one content checker: what the signature says about one file, as a check over its bytes.
// verify, the verified-read API, the shim and fetch all decide "do these bytes match" here, with
// the same mismatch message everywhere.
#pragma once

#include <atomic>
#include <cstdint>
#include <sys/stat.h>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "modelseal/hash.hpp"
#include "modelseal/hasher.hpp"
#include "modelseal/verify.hpp"
#include "modelseal/walk.hpp"

namespace modelseal {

class ContentCheck {
 public:
  using Range = std::pair<uint64_t, uint64_t>;   // [start, end)

  // What the verified signature says the file `name` (relative to the model root) holds once it
  // is `size` bytes long: one range ("files") or one per shard, each with its digest. Throws
  // Error(not_trusted) if the signature does not list it (saying whether the signer ignored it)
  // or, for shards, if the size differs from the signed one. `display` (a path or URL; may be
  // empty) ends every message about this file.
  static ContentCheck of(const VerifiedModel& model, std::string_view name, uint64_t size, std::string display);
  // The same from a manifest alone, for a file whose size is not known yet (fetch): shards fix
  // the size, "files" leaves it open (size() is then nullopt).
  static ContentCheck of_manifest(const Manifest& m, std::string_view name, std::string display);

  const std::vector<Range>& ranges() const { return ranges_; }
  const std::vector<Digest>& digests() const { return digests_; }
  // The signed size, when the signature fixes it (always after of(), shards after of_manifest()).
  std::optional<uint64_t> size() const { return sized_ ? std::optional<uint64_t>(ranges_.back().second) : std::nullopt; }
  const std::string& display() const { return display_; }
  // The same check, its messages ending with `display` instead.
  ContentCheck named(std::string display) const;

  // Digests of ranges(), in order, computed by anyone: throws the mismatch error for the first
  // that differs.
  void compare(const std::vector<Digest>& have) const;

  [[noreturn]] void mismatch(size_t i, const Digest& have) const;

 private:
  ContentCheck() = default;
  std::vector<Range> ranges_;
  std::vector<Digest> digests_;
  std::vector<std::string> names_;   // shard resource names; empty for "files"
  std::string display_;
  bool sized_ = true;
};

// A ContentCheck applied to bytes as they arrive, in file order: each shard is checked the moment
// its last byte arrives, finish() checks the rest. Throws Error(not_trusted) on a mismatch or on
// more bytes than signed (`bound` limits a file whose size the signature leaves open).
class ContentStream {
 public:
  explicit ContentStream(ContentCheck check, uint64_t bound = UINT64_MAX) : check_(std::move(check)), bound_(bound) {}
  void update(const uint8_t* data, size_t len);
  void finish();
  void restart();
  uint64_t position() const { return pos_; }
  const ContentCheck& check() const { return check_; }

 private:
  ContentCheck check_;
  uint64_t bound_;
  Sha256 sha_;
  uint64_t pos_ = 0;
  size_t piece_ = 0;
};

// Hashes check.ranges() of the open regular file `fd` with pread (the offset does not move), the
// ranges in parallel on `threads` (0: every core), and compares; checks the file kept its identity
// (size, mtime, ctime) while it was read. `sink`, if given, sees every chunk exactly as it was
// hashed, with its offset, possibly from several threads at once (disjoint ranges). Returns the
// digests that matched, one per range.
using OffsetSink = std::function<void(uint64_t offset, const uint8_t* data, size_t len)>;
std::vector<Digest> check_fd(const ContentCheck& check, int fd, unsigned threads = 0, const OffsetSink& sink = {});

// Many open files at once: every range of every file on `threads` threads (0: every core), each
// file compared with its check. Per file, in order: the digests that matched or the error, and
// whether the version may be remembered (quiet(), checked before and after its ranges were hashed).
struct FdCheck {
  ContentCheck check;
  int fd;
};
// `on_file`, if given, is called (from a hashing thread) with each file's index and result as
// soon as that file is done; `cancel`, once set, stops the hashing between chunks (the files not
// done then fail with Error(io)).
std::vector<FileDigests> check_fds(const std::vector<FdCheck>& files, unsigned threads = 0,
                                   const std::function<void(size_t, const FileDigests&)>& on_file = {},
                                   const std::atomic<bool>* cancel = nullptr);

// True only if no process has the file of `fd` (open read-only) open for writing or mapped
// writable right now: a read lease (fcntl F_SETLEASE) is granted only then. False when that
// cannot be told (the lease is refused to a process that neither owns the file nor holds
// CAP_LEASE, or the file system has no leases).
bool no_writer(int fd) noexcept;

// CLOCK_REALTIME in nanoseconds, the clock file times are taken from.
int64_t realtime_ns() noexcept;

// Whether the content of this version of a file may be remembered by its identity (`id`, the
// fstat of `fd`) once it was hashed, hashing having started at `started_ns` (realtime_ns()) with
// no writer: every later change must give the file a new identity. That holds only on a local
// file system that sets ctime on every change, stores through a shared mapping included (ext4,
// XFS, Btrfs, F2FS; not tmpfs, network or FUSE file systems), with timestamps in nanoseconds
// (not a coarse file system: both fractions zero), and for a ctime older than one clock tick
// before hashing began (a change in the same tick could keep it). modelseal-preload(8).
bool rememberable(int fd, const FileIdentity& id, int64_t started_ns) noexcept;

// What identifies one version of a file: a re-open with the same identity needs no re-hash.
FileIdentity identity_of(const struct stat& st);
// fstat() of an open regular file; Error(io) if it fails, Error(not_trusted) if not regular.
FileIdentity identity_of(int fd, const std::string& display_name);

}  // namespace modelseal
