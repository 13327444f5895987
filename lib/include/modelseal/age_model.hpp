// Encrypting a signed model at rest, file by file, into age files (NAME.age), and back.
// The signature (model.sig) keeps describing the plaintext.
#pragma once

#include <atomic>
#include <filesystem>
#include <string>
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

}  // namespace modelseal::age

#pragma GCC visibility pop
