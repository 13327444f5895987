// model_signing before 1.0 (v0.2) signed "DSSEV1 LEN(type) type LEN(payload) b'...'" -- its PAE
// formatted the payload bytes with Python's str(), and hashed it with SHA-256 whatever the curve.
// model_signing still verifies that form "bug for bug"; so do we, for certificate bundles only.
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <cstdio>

#include "internal.hpp"
#include "modelseal/error.hpp"

namespace modelseal {

namespace {

// Python's repr() of a bytes object.
std::string python_bytes_literal(std::string_view bytes) {
  const bool has_single = bytes.find('\'') != std::string_view::npos;
  const bool has_double = bytes.find('"') != std::string_view::npos;
  const char quote = has_single && !has_double ? '"' : '\'';
  std::string out = "b";
  out += quote;
  for (unsigned char c : bytes) {
    if (c == quote || c == '\\') {
      out += '\\';
      out += char(c);
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c < 0x20 || c >= 0x7f) {
      char buf[5];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += char(c);
    }
  }
  out += quote;
  return out;
}

bool ecdsa_sha256_ok(const PublicKey& key, std::string_view message, std::string_view sig) {
  using PkeyPtr = std::unique_ptr<EVP_PKEY, sigstore::Deleter<EVP_PKEY_free>>;
  using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, sigstore::Deleter<EVP_MD_CTX_free>>;
  const auto* p = reinterpret_cast<const unsigned char*>(key.der().data());
  PkeyPtr pkey(d2i_PUBKEY(nullptr, &p, long(key.der().size())));
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!pkey || !ctx) return false;
  return EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, pkey.get()) == 1 &&
         EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                          reinterpret_cast<const unsigned char*>(message.data()), message.size()) == 1;
}

}  // namespace

std::string compat_pae_v02(std::string_view payload_type, std::string_view payload) {
  return "DSSEV1 " + std::to_string(payload_type.size()) + " " + std::string(payload_type) + " " +
         std::to_string(payload.size()) + " " + python_bytes_literal(payload);
}

void verify_dsse_with_certified_key(const PublicKey& key, const Envelope& env, const DsseSignature& sig,
                                    bool allow_compat_v02) {
  try {
    key.verify(pae(env.payload_type, env.payload), sig.sig);
    return;
  } catch (const Error&) {
    if (!allow_compat_v02 || key.type() == KeyType::ed25519) throw untrusted("the DSSE signature does not verify with the certificate's key");
  }
  if (!ecdsa_sha256_ok(key, compat_pae_v02(env.payload_type, env.payload), sig.sig))
    throw untrusted("the DSSE signature does not verify with the certificate's key (nor as a model_signing v0.2 signature)");
}

}  // namespace modelseal
