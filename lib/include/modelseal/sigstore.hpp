// Verification primitives for the two certificate-based OMS methods (issue 13), all offline:
// Sigstore keyless (Fulcio certificate, SCT, Rekor entry, RFC 3161 timestamps under a trusted root)
// and an X.509 certificate chain to roots the verifier names. Each turns the bundle's untrusted
// verificationMaterial into a CertifiedSigner: the leaf's public key, the identity it certifies
// and the times at which that was established; or throws Error(not_trusted) with one line saying
// what failed.
#pragma once

#include <cstdint>
#include <ctime>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "modelseal/dsse.hpp"
#include <nlohmann/json.hpp>
#include "modelseal/keys.hpp"

#pragma GCC visibility push(default)   // the installed API: exported from libmodelseal.so

namespace modelseal {

inline constexpr std::string_view kTrustedRootMediaType = "application/vnd.dev.sigstore.trustedroot+json;version=0.1";
inline constexpr size_t kMaxTrustedRootBytes = 4u << 20;

// A Rekor inclusion proof with its signed checkpoint (bundle v0.2+).
struct InclusionProof {
  int64_t log_index = 0;   // the index in the proof's own log shard, not the entry's global index
  int64_t tree_size = 0;
  std::string root_hash;   // 32 raw bytes
  std::vector<std::string> hashes;  // raw 32-byte nodes, leaf to root
  std::string checkpoint;  // C2SP signed note, as written
};

// One transparency log entry (tlogEntries[]). int64 fields are JSON strings in the bundle.
struct TlogEntry {
  int64_t log_index = 0;   // the entry's global index (what the SET signs)
  std::string log_id;      // raw logId.keyId: SHA-256 of the log's SPKI
  std::string kind, kind_version;
  int64_t integrated_time = 0;
  std::optional<std::string> signed_entry_timestamp;  // raw DER ECDSA signature
  std::optional<InclusionProof> inclusion_proof;
  std::string canonicalized_body;  // raw bytes, never re-serialized
};

// bundle.verificationMaterial, parsed structurally only (nothing here is trusted yet).
struct VerificationMaterial {
  std::string public_key_hint;           // publicKey.hint (key method)
  std::vector<std::string> chain_der;    // x509CertificateChain.certificates[] or certificate (v0.3), leaf first
  std::vector<TlogEntry> tlog_entries;
  std::vector<std::string> rfc3161_timestamps;  // DER TimeStampResp each

  bool has_certificate() const { return !chain_der.empty(); }
  // Throws Error(not_trusted) "<what>: ..." on malformed material (bad base64, wrong types,
  // out-of-range integers, more than one of publicKey/certificate/x509CertificateChain).
  static VerificationMaterial parse(const nlohmann::json& vm, const std::string& what);
};

// What the material claims, for `modelseal inspect`: nothing is verified. The method ("key",
// "certificate" or "sigstore"), the leaf's identities, issuer, subject and validity, the chain's
// length, each tlog entry's log index and integrated time, the number of RFC 3161 timestamps.
// schemas/inspect-report.schema.json, "verification_material".
nlohmann::json describe_material(const VerificationMaterial& vm);

// [start, end] of a trusted root entry; end absent = still valid.
struct ValidFor {
  std::time_t start = 0;
  std::optional<std::time_t> end;
  bool contains(std::time_t t) const { return t >= start && (!end || t <= *end); }
};

struct TransparencyLog {   // a Rekor or CT log
  std::string base_url;
  std::string log_id;      // raw bytes
  std::string spki_der;    // its public key
  ValidFor valid_for;
};

struct CertificateAuthority {  // a Fulcio CA or a timestamp authority
  std::string uri;
  std::vector<std::string> chain_der;  // as listed: leaf/intermediates first, root last
  ValidFor valid_for;
};

// A Sigstore trusted root (trusted_root.json, protobuf-specs TrustedRoot, media type
// kTrustedRootMediaType). Trusted input: it is what the verifier was told to believe.
class TrustedRoot {
 public:
  static TrustedRoot load(const std::filesystem::path& path);        // Error(io) if unreadable
  static TrustedRoot parse(std::string_view bytes, const std::string& what);  // Error(usage)
  // The public-good root modelseal installs (share/modelseal/sigstore/trusted_root.json), or the
  // source tree's copy when running from a build folder.
  static std::filesystem::path default_path();

  const std::vector<TransparencyLog>& tlogs() const { return tlogs_; }
  const std::vector<TransparencyLog>& ctlogs() const { return ctlogs_; }
  const std::vector<CertificateAuthority>& certificate_authorities() const { return cas_; }
  const std::vector<CertificateAuthority>& timestamp_authorities() const { return tsas_; }

 private:
  TrustedRoot() = default;
  std::vector<TransparencyLog> tlogs_, ctlogs_;
  std::vector<CertificateAuthority> cas_, tsas_;
};

// What the verifier expects of a Sigstore certificate. Exactly one of identity/identity_regexp.
struct SigstoreIdentity {
  std::string identity;          // SAN (email, URI or Sigstore otherName), exact
  std::string identity_regexp;   // ECMAScript regexp that must match the whole SAN
  std::string issuer;            // OIDC issuer, exact
  // Error(usage) "<what>: ..." unless exactly one of identity/identity_regexp and an issuer are
  // given, and the regexp is one std::regex compiles safely (at most 1024 characters, groups
  // nested at most 16 deep: libstdc++ compiles and matches by recursion).
  void check(const std::string& what) const;
};

struct CertifiedSigner {
  PublicKey key;                 // the leaf certificate's key; it must verify the DSSE signature
  std::string identity;          // the SAN that matched (or the first SAN / subject CN)
  std::string issuer;            // OIDC issuer (Sigstore) or the leaf's issuer DN (certificate)
  std::string subject;           // the leaf's subject DN (RFC 2253), may be empty
  std::vector<std::time_t> verified_times;
  std::optional<int64_t> log_index;        // Rekor global index
  std::optional<std::time_t> integrated_time;
};

// Sigstore keyless, offline, following sigstore-python: verified times from the Rekor SET and
// RFC 3161 timestamps; the Rekor entry (SET over RFC 8785 JSON, RFC 6962 inclusion proof, signed
// checkpoint, log listed and valid); the entry's dsse body matches `env`; the leaf chains to a
// Fulcio CA at every verified time, has KU digitalSignature and EKU codeSigning, exactly one
// valid SCT; SAN and OIDC issuer as expected; finally the envelope's one signature over pae()
// with the leaf key. Throws Error(not_trusted) naming what failed; Error(usage) for a malformed
// `expected`.
CertifiedSigner verify_sigstore(const VerificationMaterial& vm, const Envelope& env, const TrustedRoot& root,
                                const SigstoreIdentity& expected);

// Certificate method, as model_signing does: chain_der (leaf first, then intermediates) to one of
// `roots_pem` (PEM texts, each one or more certificates, all trust anchors), checked at the leaf's
// notBefore; KU digitalSignature or EKU codeSigning. `expected_identity`, when given, must equal a
// SAN, the subject CN or the RFC 2253 subject. The caller then checks the DSSE signature with
// verify_dsse_with_certified_key (pae(), then the v0.2 compatibility PAE).
CertifiedSigner verify_certificate_chain(const VerificationMaterial& vm, const std::vector<std::string>& roots_pem,
                                         const std::optional<std::string>& expected_identity);

// The pre-1.0 (model_signing v0.2) signing input: "DSSEV1 LEN(type) type LEN(payload) B" where B
// is the payload as a Python bytes literal (b'...'); its signature is ECDSA over SHA-256 whatever
// the curve.
std::string compat_pae_v02(std::string_view payload_type, std::string_view payload);

// Throws Error(not_trusted) unless `sig` verifies with `key` over pae(), or (when
// `allow_compat_v02`, i.e. for certificate bundles) over compat_pae_v02 hashed with SHA-256.
void verify_dsse_with_certified_key(const PublicKey& key, const Envelope& env, const DsseSignature& sig,
                                    bool allow_compat_v02);

// Parses a C2SP signed note checkpoint. Error(not_trusted) if malformed.
struct Checkpoint {
  std::string origin;
  int64_t tree_size = 0;
  std::string root_hash;   // raw
  std::string note_text;   // the signed bytes: every body line with its newline
  struct Signature { std::string name; std::string key_hint; std::string sig; };
  std::vector<Signature> signatures;
  static Checkpoint parse(std::string_view text, const std::string& what);
};

}  // namespace modelseal

#pragma GCC visibility pop
