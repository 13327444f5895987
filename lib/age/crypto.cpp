// age's primitives: HKDF-SHA-256, HMAC-SHA-256 and scrypt from OpenSSL's EVP_KDF/EVP_MAC,
// ChaCha20-Poly1305 from libsodium.
#include <memory>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <sodium.h>

#include "internal.hpp"

namespace modelseal::age::detail {

namespace {

struct KdfDeleter {
  void operator()(EVP_KDF* k) const { EVP_KDF_free(k); }
  void operator()(EVP_KDF_CTX* c) const { EVP_KDF_CTX_free(c); }
};

SecretBytes derive(const char* name, OSSL_PARAM* params, size_t len) {
  std::unique_ptr<EVP_KDF, KdfDeleter> kdf(EVP_KDF_fetch(nullptr, name, nullptr));
  if (!kdf) throw io_error(std::string("openssl has no ") + name);
  std::unique_ptr<EVP_KDF_CTX, KdfDeleter> ctx(EVP_KDF_CTX_new(kdf.get()));
  if (!ctx) throw std::bad_alloc();
  SecretBytes out(len);
  if (EVP_KDF_derive(ctx.get(), out.data(), len, params) != 1)
    throw io_error(std::string("key derivation failed (") + name + ")");
  return out;
}

// OpenSSL params take non-const pointers to inputs it only reads.
void* mut(const void* p) { return const_cast<void*>(p); }

}  // namespace

SecretBytes hkdf(Bytes ikm, Bytes salt, std::string_view info) {
  OSSL_PARAM params[5];
  size_t n = 0;
  params[n++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, const_cast<char*>("SHA256"), 0);
  params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, mut(ikm.data()), ikm.size());
  // OpenSSL 3.0 refuses an empty salt; leaving it out is the same by RFC 5869 (HashLen zeros).
  if (!salt.empty())
    params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, mut(salt.data()), salt.size());
  params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, mut(info.data()), info.size());
  params[n] = OSSL_PARAM_construct_end();
  return derive("HKDF", params, 32);
}

std::array<uint8_t, 32> hmac_sha256(Bytes key, Bytes data) {
  std::array<uint8_t, 32> out{};
  size_t len = 0;
  if (!EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, key.data(), key.size(), data.data(), data.size(),
                 out.data(), out.size(), &len) || len != out.size())
    throw io_error("HMAC-SHA-256 failed");
  return out;
}

SecretBytes scrypt(Bytes pass, Bytes salt, int log2n) {
  uint64_t n = uint64_t{1} << log2n;
  uint32_t r = 8, p = 1;
  uint64_t maxmem = 128 * r * n + (1u << 20) * 4;   // what N, r need, plus slack
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD, mut(pass.data()), pass.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, mut(salt.data()), salt.size()),
      OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n),
      OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &r),
      OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &p),
      OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_MAXMEM, &maxmem),
      OSSL_PARAM_construct_end()};
  return derive("SCRYPT", params, 32);
}

void aead_seal(const uint8_t* key, const uint8_t* nonce, Bytes plain, uint8_t* out) {
  unsigned long long len = 0;
  crypto_aead_chacha20poly1305_ietf_encrypt(out, &len, plain.data(), plain.size(), nullptr, 0, nullptr, nonce, key);
}

bool aead_open(const uint8_t* key, const uint8_t* nonce, Bytes sealed, uint8_t* out) {
  if (sealed.size() < kTagSize) return false;
  unsigned long long len = 0;
  // libsodium checks the tag before it writes any plaintext.
  return crypto_aead_chacha20poly1305_ietf_decrypt(out, &len, nullptr, sealed.data(), sealed.size(), nullptr, 0,
                                                   nonce, key) == 0;
}

SecretBytes payload_key(const SecretBytes& file_key, Bytes nonce) {
  return hkdf({file_key.data(), file_key.size()}, nonce, "payload");
}

std::array<uint8_t, 12> chunk_nonce(uint64_t i, bool last) {
  std::array<uint8_t, 12> n{};
  for (int b = 0; b < 8; ++b) n[10 - b] = static_cast<uint8_t>(i >> (8 * b));
  n[11] = last ? 1 : 0;
  return n;
}

}  // namespace modelseal::age::detail
