// The machine's verification cache: which versions of which files hashed to the digests their
// signature lists, recorded by one process of a service account and trusted by its others
// (modelseal-preload(8), VERIFICATION CACHE). One record per (signature, policy, file), in a
// folder only that account (or root) can write; a record is read only if that account or root
// owns it and nobody else may write it, and used only for exactly the version it names.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <sys/types.h>
#include <utility>
#include <vector>

#include "modelseal/fileio.hpp"
#include "modelseal/hash.hpp"
#include "modelseal/walk.hpp"

namespace modelseal {

class VersionCache {
 public:
  using Range = std::pair<uint64_t, uint64_t>;
  // What a record is bound to: the authenticated signature's digest and the policy's fingerprint.
  struct Scope {
    Digest signature, policy;
  };

  // The folder MODELSEAL_CACHE_DIR names (an absolute path; "off" turns the cache off), or else
  // $XDG_RUNTIME_DIR/modelseal-cache; made (0700) when missing. nullopt when there is none, with
  // `why` saying why when one was named but cannot be used or trusted.
  static std::optional<VersionCache> from_environment(std::string& why);
  // The folder `dir`, made (0700) when missing; Error(usage) when it is not a folder, another
  // account owns it, or group or others may write to it.
  static VersionCache open(const std::string& dir);

  // The digests recorded for exactly the version `id` with these content ranges, under `scope`.
  // nullopt when there is no such record; `problem` says why when one was there but was refused
  // (owned by another account, writable by others, truncated, corrupt).
  std::optional<std::vector<Digest>> find(const Scope& scope, const FileIdentity& id, const std::vector<Range>& ranges,
                                          std::string& problem) const;
  // Records them, atomically (a reader sees the old record or the new, never a torn one). False
  // when it cannot be written.
  bool store(const Scope& scope, const FileIdentity& id, const std::vector<Range>& ranges,
             const std::vector<Digest>& digests) const noexcept;

  // An exclusive claim on hashing this version (a lock on a file beside its record), so that
  // processes opening it at the same moment hash it once: the others wait for the claim, then
  // find the record. Invalid when it cannot be had within `wait_ms` (then hash without it).
  UniqueFd claim(const Scope& scope, const FileIdentity& id, unsigned wait_ms = 60000) const noexcept;

  const std::string& path() const { return path_; }

 private:
  VersionCache(std::shared_ptr<UniqueFd> dir, std::string path) : dir_(std::move(dir)), path_(std::move(path)) {}
  std::shared_ptr<UniqueFd> dir_;
  std::string path_;
};

}  // namespace modelseal
