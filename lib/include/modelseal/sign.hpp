// Signing a model: hash, build the statement, sign the PAE, verify the result, write atomically.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "modelseal/bundle.hpp"
#include "modelseal/hasher.hpp"
#include "modelseal/keys.hpp"
#include "modelseal/manifest.hpp"
#include "modelseal/scan.hpp"

#pragma GCC visibility push(default)   // the installed API: exported from libmodelseal.so

namespace modelseal {

struct SignOptions {
  std::filesystem::path signature;          // empty: default_signature_path(model)
  std::vector<std::string> ignore_paths;    // user-given, relative to the model root
  std::string model_name;                   // the subject name; empty: the folder's (file's) name
  // The signing certificate and its intermediates (DER, leaf first, from load_signing_chain()):
  // the bundle then carries them as model_signing's certificate method does.
  std::vector<std::string> certificate_chain;
  bool allow_symlinks = false;
  uint64_t shard_size = 0;                  // 0: "files" serialization
  bool insecure_allow_unsafe_content = false;   // sign even what the scanner flags
  HashOptions hash;
};

struct SignResult {
  Manifest manifest;
  Bundle bundle;
  std::filesystem::path signature;
};

// Builds the manifest of `model` as it would be signed (also what `digest` prints).
Manifest manifest_for(const std::filesystem::path& model, const SignOptions& opts);

// The model as sign() would sign it, each file scanned through the very descriptor it is hashed
// through (one walk, one open per file): what `scan --attest` attests is exactly what it scanned.
// Reports are in manifest order. Throws Error for a file that cannot be read.
struct ScannedModel {
  Manifest manifest;
  std::vector<scan::FileReport> reports;
};
ScannedModel scan_model(const std::filesystem::path& model, const SignOptions& opts);

// Scans every file first and refuses (Error(not_trusted)) to sign content the scanner flags,
// unless opts.insecure_allow_unsafe_content. Then signs with every key in `keys` (one DSSE
// signature each), verifies the bundle against the keys' public halves and the manifest, and
// writes it atomically. Throws Error.
SignResult sign_model(const std::filesystem::path& model, const std::vector<const SigningKey*>& keys,
                      const SignOptions& opts);

}  // namespace modelseal

#pragma GCC visibility pop
