// The one authenticator: which trusted signers signed a DSSE envelope. Everything that reads
// signed content (model signatures, attestations, layouts) parses only what this returns.
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "modelseal/dsse.hpp"
#include "modelseal/keys.hpp"
#include "modelseal/sigstore.hpp"

#pragma GCC visibility push(default)   // the installed API: exported from libmodelseal.so

namespace modelseal {

// A signer the verifier trusts, under the name its trust material gives it (a policy key id,
// a layout key name). Its identity is the canonical public key (PublicKey::keyid()), never the
// encoding it was written in: the same key listed twice is one signer.
// A signer whose key arrives with the envelope, in the bundle's verification material, and is
// trusted because that material certifies it: an X.509 chain to given roots, or a Sigstore
// identity under a trusted root.
class CertifiedTrust {
 public:
  virtual ~CertifiedTrust() = default;
  // The key the material certifies for this signer; Error(not_trusted) naming why it does not.
  virtual CertifiedSigner certify(const VerificationMaterial& material, const Envelope& env) const = 0;
  // Whether the pre-1.0 compatibility PAE of model_signing v0.2 is accepted too.
  virtual bool accepts_compat_pae() const { return false; }
};

struct TrustedSigner {
  std::string name;
  PublicKey key;                                    // a public key the verifier holds, or
  std::shared_ptr<const CertifiedTrust> certified;  // a key certified by the bundle's material
};

// What a caller expects of an envelope, and how its failures are worded.
struct Expectation {
  std::string_view payload_type;
  std::string_view type_noun;        // "a layout": 'payload type is "X", not a layout'
  std::string_view unsigned_reason;  // when no trusted signer signed it
  std::string_view hint = {};
};
inline constexpr Expectation kModelSignature{"application/vnd.in-toto+json", "an in-toto statement",
                                             "no signature is from a trusted key"};
inline constexpr Expectation kAttestation{"application/vnd.in-toto+json", "an in-toto statement",
                                          "not signed by any key in the layout"};
inline constexpr Expectation kLayoutEnvelope{"application/vnd.modelseal.layout+json", "a layout",
                                             "not signed by a trusted layout key",
                                             "the layout must be signed by a --layout-key"};

// Payload bytes together with the trusted signers whose signatures over them verified. Only
// authenticate() constructs one, so a parser that takes it cannot be handed unauthenticated bytes.
class AuthenticatedPayload {
 public:
  std::string_view bytes() const { return bytes_; }
  const std::string& payload_type() const { return type_; }
  // Where the envelope came from (the `what` given to authenticate()), for error messages.
  const std::string& source() const { return source_; }
  // Indices into the `trusted` list given to authenticate(), one per distinct signer (a key
  // listed twice, or signing twice, counts once), in the order of that list.
  const std::vector<size_t>& signers() const { return signers_; }
  // For each of signers(), what certified its key (certified signers only; empty otherwise).
  const std::vector<std::optional<CertifiedSigner>>& certified() const { return certified_; }

 private:
  AuthenticatedPayload() = default;
  friend AuthenticatedPayload authenticate(const Envelope&, const VerificationMaterial*,
                                           std::span<const TrustedSigner>, const Expectation&, const std::string&);
  std::string bytes_, type_, source_;
  std::vector<size_t> signers_;
  std::vector<std::optional<CertifiedSigner>> certified_;
};

// Checks the payload type, then every signature of `env` over its PAE against every trusted
// signer, with the algorithm of the trusted key (never one the envelope names). Throws
// Error(not_trusted), naming `what` (the envelope's file) when it is not empty, if the type is not the expected
// one or no trusted signer signed it.
// `material` is what came with the envelope (a bundle's verificationMaterial), or null: then only
// key signers can match. A key signer never matches a bundle whose material is a certificate
// (model_signing's other methods), and a certified signer needs its material.
AuthenticatedPayload authenticate(const Envelope& env, const VerificationMaterial* material,
                                  std::span<const TrustedSigner> trusted, const Expectation& expect,
                                  const std::string& what);
inline AuthenticatedPayload authenticate(const Envelope& env, std::span<const TrustedSigner> trusted,
                                         const Expectation& expect, const std::string& what) {
  return authenticate(env, nullptr, trusted, expect, what);
}

}  // namespace modelseal

#pragma GCC visibility pop
