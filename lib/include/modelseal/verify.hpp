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
#include <nlohmann/json.hpp>
#include "modelseal/manifest.hpp"
#include "modelseal/policy.hpp"

#pragma GCC visibility push(default)   // the installed API: exported from libmodelseal.so

namespace modelseal {

namespace age {
class Identity;
}

struct VerifyOptions {
  std::filesystem::path signature;          // empty: MODEL/model.sig, or FILE.sig
  std::string signature_name;               // how messages name it (default: its path)
  std::vector<std::string> ignore_paths;    // added to those the signature records
  // The name this model is expected to have, for the policy's model scopes; empty: the folder's
  // (or file's) own name. The name the signer wrote must match it.
  std::string model_name;
  // Symlinks are followed (their target's content checked under the link's name) even when the
  // signature says it was made without them.
  bool insecure_allow_symlinks = false;
  // A Hugging Face cache snapshot (REPO/snapshots/REV, files linked into REPO/blobs/): a symlink
  // is followed only if it resolves to a regular file inside that cache's own blobs/ folder,
  // whose content is then checked under the link's name. Any other symlink is refused.
  bool hf_cache = false;
  // Files on disk that the signature does not list are skipped instead of refused.
  bool insecure_ignore_unlisted_files = false;
  // age identities for an encrypted model: a file NAME.age stands for the listed NAME and is
  // decrypted in memory as it is hashed (nothing is written). Without them, such a file fails
  // with a hint to give one.
  const std::vector<age::Identity>* identities = nullptr;
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

// What a certified signer's verified material says: identity, issuer, subject, and for Sigstore
// the Rekor log index and integrated time (schemas/verify-report.schema.json, "certificate").
nlohmann::json certified_json(const CertifiedSigner& c);

struct VerifyReport {
  std::string model, signature;
  std::string root_digest;                  // hex, of the verified manifest (if it got that far)
  std::vector<Signer> signers;
  std::vector<FileCheck> files;
  std::vector<std::string> ignored;         // unsigned files skipped on request
  Status status = Status::ok;
  std::string error;                        // one line, when status != ok
  nlohmann::json to_json() const;
};

// A verification that failed: the error, and the report of what was checked up to then.
class VerificationFailed : public Error {
 public:
  VerificationFailed(const Error& e, VerifyReport report) : Error(e), report_(std::move(report)) {}
  const VerifyReport& report() const noexcept { return report_; }

 private:
  VerifyReport report_;
};

// A file whose content was hashed and matched the signature while no process could change it
// unseen (hasher.hpp, FileDigests::quiet): an open of the same version (`id`) needs no hashing,
// as long as no process has it open for writing at that open.
struct VerifiedFile {
  std::string name;
  FileIdentity id;
  std::vector<Digest> digests;   // one per range of its content check
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
  // What was checked, for `verify -v` and `--json`.
  const VerifyReport& report() const { return report_; }
  // SHA-256 of the signature's bytes as authenticated, and the fingerprint of the policy that
  // accepted it (Policy::fingerprint()): what a recorded verification is bound to.
  const Digest& signature_digest() const { return signature_digest_; }
  const Digest& policy_fingerprint() const { return policy_fingerprint_; }
  // The files verify_model() hashed and found equal, with nothing able to change them unseen.
  const std::vector<VerifiedFile>& verified_files() const { return verified_; }
  // With VerifyOptions::hf_cache, the cache's blobs/ folder (a real path): symlinks resolving to
  // a regular file inside it are followed. Empty otherwise.
  const std::filesystem::path& symlink_dir() const { return symlink_dir_; }
  const VerifiedFile* verified_file(std::string_view name) const;

 private:
  VerifiedModel() = default;
  friend VerifiedModel verify_signature(const std::filesystem::path&, const Policy&, const VerifyOptions&);
  friend VerifiedModel verify_model(const std::filesystem::path&, const Policy&, const VerifyOptions&);
  void build_index();
  std::filesystem::path root_;
  std::unordered_map<std::string, std::vector<size_t>> index_;   // path -> resources
  bool single_file_ = false;
  Manifest manifest_;
  Digest root_digest_{};
  std::vector<Signer> signers_;
  bool files_checked_ = false;
  VerifyReport report_;
  Digest signature_digest_{}, policy_fingerprint_{};
  std::vector<VerifiedFile> verified_;
  std::filesystem::path symlink_dir_;
};

// Authenticates the signature and parses the manifest from the verified bytes; does not read
// the model's files. Throws VerificationFailed (status not_trusted, usage or io).
VerifiedModel verify_signature(const std::filesystem::path& model, const Policy& policy,
                               const VerifyOptions& opts = {});

// verify_signature, then every file on disk: all listed files present and equal, no unlisted
// file. Throws VerificationFailed, which carries the report of every file checked.
VerifiedModel verify_model(const std::filesystem::path& model, const Policy& policy, const VerifyOptions& opts = {});

// Where the signature of `model` is by default.
std::filesystem::path default_signature_path(const std::filesystem::path& model);

}  // namespace modelseal

#pragma GCC visibility pop
