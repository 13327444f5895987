// Verification of a model against its signature and a trust policy.
#pragma once

#include <ctime>
#include <filesystem>
#include <string>
#include <unordered_map>
#include <vector>

#include "modelseal/bundle.hpp"
#include "modelseal/error.hpp"
#include "modelseal/hasher.hpp"
#include "modelseal/json.hpp"
#include "modelseal/manifest.hpp"
#include "modelseal/policy.hpp"

namespace modelseal {

struct VerifyOptions {
  std::filesystem::path signature;          // empty: MODEL/model.sig, or FILE.sig
  std::vector<std::string> ignore_paths;    // added to those the signature records
  bool allow_symlinks = false;
  bool insecure_ignore_unsigned_files = false;
  HashOptions hash;
  std::time_t now = 0;                      // 0: read the clock once at the start
};

// What happened to each file, for `verify -v` and `--json`.
struct FileCheck {
  std::string name;
  bool ok = false;
  std::string reason;   // empty when ok
  Status status = Status::not_trusted;   // io when it could not be read
};

struct VerifyReport {
  std::string model, signature;
  std::string root_digest;                  // hex, of the verified manifest (if it got that far)
  std::vector<Signer> signers;
  std::vector<FileCheck> files;
  std::vector<std::string> ignored;         // unsigned files skipped on request
  Status status = Status::ok;
  std::string error;                        // one line, when status != ok
  json to_json() const;
};

// A model whose signature and files were verified. Only the verifier constructs it.
class VerifiedModel {
 public:
  const std::filesystem::path& root() const { return root_; }
  bool single_file() const { return single_file_; }
  const Manifest& manifest() const { return manifest_; }
  const Digest& root_digest() const { return root_digest_; }
  const std::vector<Signer>& signers() const { return signers_; }
  // Whether the files on disk were hashed and matched (verify_model), or only the signature
  // and manifest were authenticated (verify_signature), leaving each file to be checked as read.
  bool files_checked() const { return files_checked_; }
  // The resource(s) recorded for a path relative to the root (several when sharded, in offset
  // order); empty when the path is not listed.
  std::vector<const Resource*> resources_for(std::string_view name) const;

 private:
  VerifiedModel() = default;
  friend VerifiedModel verify_signature(const std::filesystem::path&, const Policy&, const VerifyOptions&,
                                        VerifyReport*);
  friend VerifiedModel verify_model(const std::filesystem::path&, const Policy&, const VerifyOptions&,
                                    VerifyReport*);
  void build_index();
  std::filesystem::path root_;
  std::unordered_map<std::string, std::vector<size_t>> index_;   // path -> resources
  bool single_file_ = false;
  Manifest manifest_;
  Digest root_digest_{};
  std::vector<Signer> signers_;
  bool files_checked_ = false;
};

// What the signature says the file `name` (relative to the model root) holds once it is
// `size` bytes long: byte ranges (one for "files", one per shard) and their digests, in order.
// Throws Error(not_trusted) if the signature does not list it (saying whether the signer
// ignored it) or, for shards, if the size differs from the signed one.
struct ExpectedContent {
  std::vector<std::pair<uint64_t, uint64_t>> ranges;   // [start, end)
  std::vector<Digest> digests;
};
ExpectedContent expected_content(const VerifiedModel& model, std::string_view name, uint64_t size);

// Authenticates the signature and parses the manifest from the verified bytes; does not read
// the model's files. Throws Error (status not_trusted, usage or io).
VerifiedModel verify_signature(const std::filesystem::path& model, const Policy& policy,
                               const VerifyOptions& opts = {}, VerifyReport* report = nullptr);

// verify_signature, then every file on disk: all listed files present and equal, no unlisted
// file. Throws Error; `report` (if given) is filled in either way.
VerifiedModel verify_model(const std::filesystem::path& model, const Policy& policy,
                           const VerifyOptions& opts = {}, VerifyReport* report = nullptr);

// Where the signature of `model` is by default.
std::filesystem::path default_signature_path(const std::filesystem::path& model);

}  // namespace modelseal
