// Encrypting a signed model at rest, file by file, into age files (NAME.age), and back.
// The signature (model.sig) keeps describing the plaintext.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "modelseal/age.hpp"
#include "modelseal/verify.hpp"

#pragma GCC visibility push(default)   // the installed API: exported from libmodelseal.so

namespace modelseal::age {

struct ModelCryptOptions {
  std::filesystem::path out_dir;          // empty: beside the input files
  std::filesystem::path signature;        // copied into out_dir when both are set
  bool remove_plaintext = false;          // encrypt: unlink NAME once every NAME.age is durable
  bool armor = false;                     // encrypt: ASCII-armored output
  unsigned threads = 0;                   // decrypt: 0 = one per core
  std::atomic<uint64_t>* bytes_done = nullptr;
};

// The files of `model` (listed paths, relative to its root), once each, in manifest order.
std::vector<std::string> listed_files(const VerifiedModel& model);

// Encrypts every listed file into NAME.age (atomically: temp file, fsync, rename). Each file is
// hashed as it is encrypted and must still match the signature: a file changed since it was
// verified is refused and its NAME.age not written. Returns the paths written.
std::vector<std::filesystem::path> encrypt_model(const VerifiedModel& model, const std::vector<Recipient>& recipients,
                                                 const ModelCryptOptions& opts);

// Decrypts NAME.age for every listed file; the plaintext lands as NAME only after its digest
// matched the signature (until then it is an unnamed temporary file). Returns the paths written.
std::vector<std::filesystem::path> decrypt_model(const VerifiedModel& model, const std::vector<Identity>& identities,
                                                 const ModelCryptOptions& opts);

// The plaintext of `path`, the age file standing for the listed file `name` (NAME.age), decrypted
// in memory as it is hashed (chunks on `threads`, 0: every core) and checked against the
// signature; nothing is written. Throws AgeError (no identity matches, tampered ciphertext) or the
// content checker's mismatch error.
void check_encrypted(const VerifiedModel& model, const std::string& name, const std::filesystem::path& path,
                     const std::vector<Identity>& identities, unsigned threads = 0);

// The name every memory file of decrypted plaintext starts with (memfd_create; /proc/PID/fd and
// /proc/PID/maps show it as "/memfd:modelseal-age:NAME").
inline constexpr std::string_view kMemfdPrefix = "modelseal-age:";

// Bytes of decrypted plaintext this process holds in such memory files now, open or mapped.
uint64_t decrypted_bytes_held();
// How much it may hold: MODELSEAL_DECRYPT_MAX (bytes, K/M/G/T suffixes), or half the machine's
// memory. Error(usage) when the variable is not a size.
uint64_t decrypt_memory_cap();

// NAME's plaintext for a loader: the age file `fd` (NAME.age, for the listed file `name`)
// decrypted into a sealed memory file (no writes, no shrinking or growing) while it is hashed,
// handed back read-only at offset 0 only once the digest matched the signature. Throws AgeError,
// the content checker's mismatch error, or Error(io) when the plaintext would take what this
// process holds past `cap` bytes (decrypted_bytes_held()).
UniqueFd open_decrypted(const VerifiedModel& model, const std::string& name, int fd,
                        const std::vector<Identity>& identities, uint64_t cap, unsigned threads = 0);

}  // namespace modelseal::age

#pragma GCC visibility pop
