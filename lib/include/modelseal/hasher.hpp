// The hashing engine: every file (or shard of a file) of a model on a pool of threads.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "modelseal/error.hpp"
#include "modelseal/hash.hpp"
#include "modelseal/walk.hpp"

#pragma GCC visibility push(default)   // the installed API: exported from libmodelseal.so

namespace modelseal {

struct HashOptions {
  unsigned threads = 0;                          // 0: one per core
  uint64_t shard_size = 0;                       // 0: whole files ("files" serialization)
  std::atomic<uint64_t>* bytes_done = nullptr;   // progress counter, if wanted
  // Called once per file, with the descriptor it is hashed through, before hashing; an Error it
  // throws becomes that file's error. Lets `sign` scan the very bytes it signs, in one open.
  std::function<void(int fd, const ModelFile& file)> inspect;
};

struct FileDigests {
  std::vector<Digest> shards;   // one digest per shard (one for the "files" method)
  std::optional<Error> error;   // set when the file could not be hashed
  // No process had it open for writing before or after any shard was hashed, on a file system
  // whose timestamps show every change: a later open of the same version need not hash it again.
  bool quiet = false;
};

// Shard boundaries of a file of `size` bytes: [start, end) pairs; one [0,0) for an empty file.
std::vector<std::pair<uint64_t, uint64_t>> shard_ranges(uint64_t size, uint64_t shard_size);

// Hashes `files` (regular ones; others get an error). The result is in the order of `files` and
// is identical for every thread count. Each file is opened once per shard with O_NOFOLLOW
// (unless symlinks are allowed), checked to be a regular file, and its size/mtime/ctime are
// compared before and after hashing: a file that changed is reported, never hashed silently.
std::vector<FileDigests> hash_files(const std::vector<ModelFile>& files, bool allow_symlinks,
                                    const HashOptions& opts);

}  // namespace modelseal

#pragma GCC visibility pop
