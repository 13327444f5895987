// Verify while loading: hand out the bytes (or a descriptor) of a signed file only after hashing
// exactly what is handed out, in one pass (DESIGN §4).
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "modelseal/fileio.hpp"
#include "modelseal/verify.hpp"

namespace modelseal {


// What identifies one version of a file: a re-open with the same identity needs no re-hash.
struct FileIdentity {
  uint64_t dev = 0, ino = 0, size = 0;
  int64_t mtime_ns = 0, ctime_ns = 0;
  bool operator==(const FileIdentity&) const = default;
};
// fstat() of an open regular file; Error(io) if it fails, Error(not_trusted) if not regular.
FileIdentity identity_of(int fd, const std::string& display_name);


// Hashes `ranges` of `fd` with pread only (the file offset does not move), one digest per range.
// `sink`, if given, sees every chunk exactly as it was hashed (for a copy made in the same pass).
// Throws Error(io) on a read error, Error(not_trusted) if the file ends early.
using ChunkSink = std::function<void(const uint8_t* data, size_t len)>;
std::vector<Digest> hash_ranges(int fd, const std::vector<std::pair<uint64_t, uint64_t>>& ranges,
                                const std::string& display_name, const ChunkSink& sink = {});

// Throws Error(not_trusted) "modified: sha256 is X but the signature says Y" on a mismatch.
void compare_digests(const ExpectedContent& want, const std::vector<Digest>& have);

// Checks an open regular file `fd` against the signature's entry for `name`: hashes it through
// `fd` and compares. Error(not_trusted) naming the reason if it does not match or changed while
// it was hashed.
void check_fd(const VerifiedModel& model, std::string_view name, int fd, const std::string& display_name);

// The content of the listed file `path` (relative to the model root), read once: the returned
// bytes are exactly the bytes that were hashed and matched the signature.
std::string read_verified(const VerifiedModel& model, std::string_view path);

// A read-only descriptor (offset 0) of the listed file `path`, whose content was hashed through
// this very descriptor and matched. Another writer may still change the file afterwards; see
// modelseal-preload(8) for what that means and how to prevent it.
UniqueFd open_verified(const VerifiedModel& model, std::string_view path);

}  // namespace modelseal
