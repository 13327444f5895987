// Shared by the sigstore sources: RAII holders for OpenSSL handles and small X.509 helpers.
#pragma once

#include <openssl/x509.h>

#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "modelseal/keys.hpp"
#include "modelseal/sigstore.hpp"

namespace modelseal::sigstore {

template <auto Free>
struct Deleter {
  template <class T>
  void operator()(T* p) const { Free(p); }
};
using X509Ptr = std::unique_ptr<X509, Deleter<X509_free>>;
using X509StorePtr = std::unique_ptr<X509_STORE, Deleter<X509_STORE_free>>;
using X509StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, Deleter<X509_STORE_CTX_free>>;
struct X509StackFree {
  void operator()(STACK_OF(X509)* s) const { sk_X509_pop_free(s, X509_free); }
};
using X509Stack = std::unique_ptr<STACK_OF(X509), X509StackFree>;

// DER -> X509; Error(status) "<what>: not a DER certificate" (trailing bytes refused). The status is
// whose input it is: not_trusted for a bundle's, usage for the operator's trusted root.
X509Ptr parse_der_certificate(std::string_view der, const std::string& what, Status status = Status::not_trusted);
std::string certificate_der(X509* cert);
// PEM text with one or more certificates; Error(usage) if none or malformed.
std::vector<X509Ptr> parse_pem_certificates(std::string_view pem, const std::string& what);
// The certificate's SubjectPublicKeyInfo as a PublicKey (Ed25519, P-256, P-384); Error(not_trusted).
PublicKey certificate_key(X509* cert, const std::string& what);
// An SPKI DER as a PublicKey; nullopt if it is not a supported key.
std::optional<PublicKey> spki_key(std::string_view spki_der);
// "2025-10-10T02:12:20Z"
std::string format_time(std::time_t t);
// RFC 3339 with optional fraction (truncated to seconds), "Z" or numeric offset; nullopt if malformed.
std::optional<std::time_t> parse_rfc3339(std::string_view s);
std::time_t asn1_time_to_time(const ASN1_TIME* t);

// Verifies `leaf` up to one of `anchors` through `untrusted`, as of time `at`. Returns the
// verified chain (leaf first) or nullopt with `reason` set to OpenSSL's reason.
std::optional<std::vector<X509Ptr>> verify_chain_at(X509* leaf, const std::vector<X509*>& anchors,
                                                    const std::vector<X509*>& untrusted, std::time_t at,
                                                    std::string& reason);

struct KeyUsage {
  bool digital_signature = false, code_signing = false, has_ku = false, has_eku = false;
};
KeyUsage key_usage(X509* cert);

// SAN values that name a signer: email, URI and the Sigstore otherName (1.3.6.1.4.1.57264.1.7).
std::vector<std::string> signer_sans(X509* cert);
// Every DNS SAN too (for the certificate method).
std::vector<std::string> dns_sans(X509* cert);
std::string subject_rfc2253(X509* cert);
std::string issuer_rfc2253(X509* cert);
std::string subject_cn(X509* cert);
// The Fulcio OIDC issuer: extension 1.3.6.1.4.1.57264.1.8 (DER UTF8String), else .1.1 (raw).
std::optional<std::string> fulcio_issuer(X509* cert);

// Exactly one embedded SCT, by a CT log of `ctlogs` valid at its time, over the RFC 6962
// precertificate entry (the leaf without its SCT extension, `issuer`'s key hash). Throws.
void verify_embedded_sct(X509* leaf, X509* issuer, const std::vector<TransparencyLog>& ctlogs);

// The Rekor entry: inclusion proof against its signed checkpoint and the SET, by `log`. Returns
// true when the SET was present and valid (its integrated time is then verified). Throws.
bool verify_rekor_entry(const TlogEntry& entry, const TransparencyLog& log);
// RFC 6962 inclusion of leaf hash H(0x00||leaf) at `index` in a tree of `size` with root `root`.
bool merkle_inclusion_ok(std::string_view leaf, int64_t index, int64_t size, const std::vector<std::string>& proof,
                         std::string_view root);

// An RFC 3161 TimeStampResp over `signature`, verified against one of `tsas` valid at its genTime.
// Returns genTime; throws naming what failed.
std::time_t verify_rfc3161(std::string_view tsr_der, std::string_view signature,
                           const std::vector<CertificateAuthority>& tsas, const std::string& what);

}  // namespace modelseal::sigstore
