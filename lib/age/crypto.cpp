// age's primitives: HKDF-SHA-256, HMAC-SHA-256 and scrypt from OpenSSL's EVP_KDF/EVP_MAC, and
// ChaCha20-Poly1305 from OpenSSL's EVP (its assembly is about twice libsodium 1.0.18's speed here,
// and the payload is where the time goes).
#include <climits>
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

namespace {

struct CipherCtx {
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  ~CipherCtx() { EVP_CIPHER_CTX_free(ctx); }
};

// One context per thread, the cipher fetched once: a chunk is 64 KiB, set-up would show.
EVP_CIPHER_CTX* cipher_ctx() {
  thread_local CipherCtx c;
  if (!c.ctx) throw std::bad_alloc();
  return c.ctx;
}

const EVP_CIPHER* chacha20_poly1305() {
  static EVP_CIPHER* cipher = EVP_CIPHER_fetch(nullptr, "ChaCha20-Poly1305", nullptr);
  if (!cipher) throw io_error("openssl has no ChaCha20-Poly1305");
  return cipher;
}

bool fits(size_t n) { return n <= static_cast<size_t>(INT_MAX); }

}  // namespace

void aead_seal(const uint8_t* key, const uint8_t* nonce, Bytes plain, uint8_t* out) {
  EVP_CIPHER_CTX* ctx = cipher_ctx();
  int len = 0, tail = 0;
  if (!fits(plain.size()) || EVP_EncryptInit_ex2(ctx, chacha20_poly1305(), key, nonce, nullptr) != 1 ||
      EVP_EncryptUpdate(ctx, out, &len, plain.data(), static_cast<int>(plain.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx, out + len, &tail) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, static_cast<int>(kTagSize), out + plain.size()) != 1)
    throw io_error("ChaCha20-Poly1305 encryption failed");
}

bool aead_open(const uint8_t* key, const uint8_t* nonce, Bytes sealed, uint8_t* out) {
  if (sealed.size() < kTagSize || !fits(sealed.size())) return false;
  const size_t n = sealed.size() - kTagSize;
  EVP_CIPHER_CTX* ctx = cipher_ctx();
  int len = 0, tail = 0;
  const bool ok = EVP_DecryptInit_ex2(ctx, chacha20_poly1305(), key, nonce, nullptr) == 1 &&
                  EVP_DecryptUpdate(ctx, out, &len, sealed.data(), static_cast<int>(n)) == 1 &&
                  EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, static_cast<int>(kTagSize),
                                      const_cast<uint8_t*>(sealed.data() + n)) == 1 &&
                  EVP_DecryptFinal_ex(ctx, out + len, &tail) == 1;
  // OpenSSL writes the plaintext before it checks the tag: none of it may outlive a failure.
  if (!ok) sodium_memzero(out, n);
  return ok;
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
