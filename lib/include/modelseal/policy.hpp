// Trust policy: which keys are trusted, for which models, when, and how many must sign.
#pragma once

#include <ctime>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "modelseal/authenticate.hpp"
#include "modelseal/dsse.hpp"
#include "modelseal/hash.hpp"
#include "modelseal/keys.hpp"

#pragma GCC visibility push(default)   // the installed API: exported from libmodelseal.so

namespace modelseal {

// What the policy says of one trusted signer (the signer itself is in Policy::signers()).
struct SignerRules {
  std::optional<std::time_t> not_before, not_after;
  bool revoked = false;
  std::vector<std::string> models;      // globs on the model name; empty = any model
};

// One signature that counted, with the key that made it, and for a certified signer what the
// bundle's verified material says of it (identity, issuer, Rekor log index and time).
struct Signer {
  std::string id;
  std::string keyid;
  std::optional<CertifiedSigner> certified;
};

class Policy {
 public:
  // The JSON policy (schemas/policy.schema.json). Relative key paths are relative to the
  // policy's folder. Error(usage) if it does not parse, names an unknown key type or has no keys.
  static Policy load(const std::filesystem::path& path);
  static Policy parse(std::string_view text, const std::filesystem::path& base_dir, const std::string& what);
  // `-p KEY.pub ...`: each key trusted for every model, threshold 1.
  static Policy from_keys(std::vector<PublicKey> keys);
  // `--identity ID --issuer URL`: a Sigstore keyless identity under `root`, checked offline.
  static Policy from_sigstore(TrustedRoot root, SigstoreIdentity identity);
  // `--certificate-chain ROOTS.pem`: a signing certificate chaining to one of `roots_pem`.
  static Policy from_certificate_roots(std::vector<std::string> roots_pem, std::optional<std::string> identity);

  // The trusted signers (named by the policy's key ids), and the rules for each, index by index.
  const std::vector<TrustedSigner>& signers() const { return signers_; }
  const std::vector<SignerRules>& rules() const { return rules_; }
  unsigned threshold() const { return threshold_; }
  // Whether any signer is limited to some models (then the model's name matters).
  bool scopes_models() const;
  bool insecure_ignore_unlisted_files() const { return ignore_unlisted_; }
  // SHA-256 over everything that decides what this policy accepts (its text or the keys,
  // identities and roots it was made from): two policies with equal fingerprints trust alike.
  const Digest& fingerprint() const { return fingerprint_; }

  // Step 1, before the payload is parsed: the authenticator (authenticate.hpp) over this
  // policy's signers. Throws Error(not_trusted) naming `what` if no trusted signer signed it.
  AuthenticatedPayload authenticate(const Envelope& env, const std::string& what) const;
  // The same for a bundle, whose verification material may certify the signer's key.
  AuthenticatedPayload authenticate(const Envelope& env, const VerificationMaterial& material,
                                    const std::string& what) const;

  // Step 2, after the payload is parsed: keep the signers allowed for `model_name` at `now`, and
  // check the threshold and the revoked digests. `model_name` is the name the verifier expects
  // (never only the one the signer wrote). Throws Error(not_trusted) naming the reason.
  std::vector<Signer> authorize(const AuthenticatedPayload& payload, std::string_view model_name, const Digest& root,
                                std::time_t now) const;

 private:
  std::vector<TrustedSigner> signers_;
  std::vector<SignerRules> rules_;
  unsigned threshold_ = 1;
  std::vector<std::string> revoked_digests_;   // lowercase hex
  bool ignore_unlisted_ = false;
  Digest fingerprint_{};
};

// fnmatch-style glob ('*', '?', '[...]'); '*' matches '/' too.
bool glob_match(std::string_view pattern, std::string_view text);
// RFC 3339 UTC time ("2026-01-01T00:00:00Z"); nullopt if malformed.
std::optional<std::time_t> parse_rfc3339(std::string_view s);
std::string format_rfc3339(std::time_t t);

}  // namespace modelseal

#pragma GCC visibility pop
