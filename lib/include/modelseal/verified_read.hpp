// Verify while loading: hand out the bytes (or a descriptor) of a signed file only after hashing
// exactly what is handed out, in one pass (DESIGN §4).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "modelseal/age.hpp"
#include "modelseal/fileio.hpp"
#include "modelseal/verify.hpp"

#pragma GCC visibility push(default)   // the installed API: exported from libmodelseal.so

namespace modelseal {


// Checks an open regular file `fd` against the signature's entry for `name`: hashes it through
// `fd` and compares. Error(not_trusted) naming the reason if it does not match or changed while
// it was hashed.
void check_fd(const VerifiedModel& model, std::string_view name, int fd, const std::string& display_name);

// The content of the listed file `path` (relative to the model root), read once: the returned
// bytes are exactly the bytes that were hashed and matched the signature.
std::string read_verified(const VerifiedModel& model, std::string_view path);

// Bytes [offset, offset + length) of the listed file `path`, checked: for a shard-signed model
// (--shard-size) only the shards those bytes touch are read and hashed, for a whole-file signature
// the whole file. With `identities`, a missing `path` whose `path`.age is there is read from the
// age file by random access: only the chunks of those shards are decrypted (the header and the
// final chunk are authenticated first). Error(usage) past the end of the file.
std::string read_verified(const VerifiedModel& model, std::string_view path, uint64_t offset, uint64_t length,
                          const std::vector<age::Identity>& identities = {});

// A read-only descriptor (offset 0) of the listed file `path`, whose content was hashed through
// this very descriptor and matched. Another writer may still change the file afterwards; see
// modelseal-preload(8) for what that means and how to prevent it. A file verify_model() already
// hashed (VerifiedModel::verified_files()) is not hashed again while it keeps the version that
// was hashed and no process has it open for writing.
UniqueFd open_verified(const VerifiedModel& model, std::string_view path);

// The same for an encrypted model (modelseal-encrypt(1)): when the listed file `path` is not
// there but `path`.age is, that age file is decrypted with `identities` into a sealed memory file
// while it is hashed, and a read-only descriptor of it is returned once its plaintext matched the
// signature (nothing is written to disk). The plaintext one process holds this way is bounded by
// age::decrypt_memory_cap() (MODELSEAL_DECRYPT_MAX).
UniqueFd open_verified(const VerifiedModel& model, std::string_view path, const std::vector<age::Identity>& identities);

// Every listed file of `model` that is on disk, hashed at once on every core (the shards of each
// file too), as verify_model() does but without failing the model for a missing, unlisted or
// modified file: returns the files that matched with nothing able to change them unseen.
struct PreverifyOptions {
  unsigned threads = 0;   // 0: one per core
  // A file whose version this says is already known is not hashed.
  std::function<bool(const std::string& name, const FileIdentity& id)> known;
  // Called once for every listed file as soon as it is settled, from a hashing thread: with the
  // result, or nullptr when it was not hashed (known, missing, changed, or did not match).
  std::function<void(const std::string& name, const VerifiedFile* file)> on_file;
  const std::atomic<bool>* cancel = nullptr;   // once set, the hashing stops between chunks
};
std::vector<VerifiedFile> preverify(const VerifiedModel& model, const PreverifyOptions& opts = {});

// Records `files` (verified against `model`'s signature) in the machine's verification cache, for
// the other processes of this account (modelseal-preload(8), VERIFICATION CACHE): the folder
// MODELSEAL_CACHE_DIR names, or $XDG_RUNTIME_DIR/modelseal-cache. Returns the folder used.
// Error(usage) when there is none, or it cannot be trusted; Error(io) when a record cannot be
// written.
std::string record_verified(const VerifiedModel& model, const std::vector<VerifiedFile>& files);

}  // namespace modelseal

#pragma GCC visibility pop
