// Trust policy: which keys are trusted, for which models, when, and how many must sign.
#pragma once

#include <ctime>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "modelseal/dsse.hpp"
#include "modelseal/hash.hpp"
#include "modelseal/keys.hpp"

namespace modelseal {

struct TrustedKey {
  std::string id;                       // the policy's name for it (default: keyid)
  PublicKey key;
  std::optional<std::time_t> not_before, not_after;
  bool revoked = false;
  std::vector<std::string> models;      // globs on the model name; empty = any model
};

// One signature that counted, with the key that made it.
struct Signer {
  std::string id;
  std::string keyid;
};

class Policy {
 public:
  // The JSON policy (schemas/policy.schema.json). Relative key paths are relative to the
  // policy's folder. Error(usage) if it does not parse, names an unknown key type or has no keys.
  static Policy load(const std::filesystem::path& path);
  static Policy parse(std::string_view text, const std::filesystem::path& base_dir, const std::string& what);
  // `-p KEY.pub ...`: each key trusted for every model, threshold 1.
  static Policy from_keys(std::vector<PublicKey> keys);

  const std::vector<TrustedKey>& keys() const { return keys_; }
  unsigned threshold() const { return threshold_; }
  bool insecure_ignore_unlisted_files() const { return ignore_unlisted_; }

  // Step 1, before the payload is parsed: which distinct trusted keys produced valid signatures
  // over the envelope's PAE. Keys are matched by trying each trusted key (keyid hints are never
  // used). Throws Error(not_trusted) if none did; authorize() checks the threshold.
  std::vector<const TrustedKey*> valid_signers(const Envelope& env, std::time_t now) const;

  // Step 2, after the payload is parsed: keep the signers allowed for this model at `now`, and
  // check the threshold and the revoked digests. Throws Error(not_trusted) naming the reason.
  std::vector<Signer> authorize(const std::vector<const TrustedKey*>& signers, std::string_view model_name,
                                const Digest& root, std::time_t now) const;

 private:
  std::vector<TrustedKey> keys_;
  unsigned threshold_ = 1;
  std::vector<std::string> revoked_digests_;   // lowercase hex
  bool ignore_unlisted_ = false;
};

// fnmatch-style glob ('*', '?', '[...]'); '*' matches '/' too.
bool glob_match(std::string_view pattern, std::string_view text);
// RFC 3339 UTC time ("2026-01-01T00:00:00Z"); nullopt if malformed.
std::optional<std::time_t> parse_rfc3339(std::string_view s);
std::string format_rfc3339(std::time_t t);

}  // namespace modelseal
