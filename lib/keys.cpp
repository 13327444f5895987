#include "modelseal/keys.hpp"

#include <cerrno>
#include <cstring>
#include <cstdlib>
#include <fcntl.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <sodium.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "modelseal/encoding.hpp"
#include "modelseal/error.hpp"
#include "modelseal/fileio.hpp"
#include "modelseal/hash.hpp"
#include "modelseal/files.hpp"

namespace modelseal {

namespace {

using BioPtr = std::unique_ptr<BIO, decltype(&BIO_free)>;
using CtxPtr = std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)>;

std::shared_ptr<EVP_PKEY> own(EVP_PKEY* k) { return {k, &EVP_PKEY_free}; }

BioPtr mem_bio(std::string_view data) {
  BioPtr b(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())), &BIO_free);
  if (!b) throw std::bad_alloc();
  return b;
}

// PEM text may follow other text (certtool prints a description first).
std::string_view pem_block(std::string_view text) {
  size_t p = text.find("-----BEGIN ");
  return p == std::string_view::npos ? std::string_view() : text.substr(p);
}

// A PEM passphrase callback that gives none (OpenSSL's default would prompt on the terminal).
int no_prompt(char*, int, int, void*) { return 0; }

// The passphrase KDF of an encrypted PKCS#8 key is bounded before it runs: a key file whose
// parameters ask for hours of work (PBKDF2 or PKCS#5/#12 iterations, scrypt N*r*p) is refused.
// Ten million iterations take seconds; N*r*p up to 2^22 is 32 times `keygen`'s 2^14*8*1.
constexpr uint64_t kMaxKdfIterations = 10'000'000;
constexpr uint64_t kMaxScryptWork = uint64_t{1} << 22;

uint64_t asn1_uint(const ASN1_INTEGER* i) {
  uint64_t v = 0;
  return i && ASN1_INTEGER_get_uint64(&v, i) == 1 ? v : UINT64_MAX;   // negative or huge: too much
}

template <typename T>
std::unique_ptr<T, void (*)(T*)> unpack(const ASN1_ITEM* item, const ASN1_TYPE* t, void (*free_fn)(T*)) {
  void* v = t && t->type == V_ASN1_SEQUENCE ? ASN1_TYPE_unpack_sequence(item, t) : nullptr;
  return {static_cast<T*>(v), free_fn};
}

void check_kdf_cost(std::string_view pem, const std::string& what) {
  auto bio = mem_bio(pem);
  std::unique_ptr<X509_SIG, decltype(&X509_SIG_free)> p8(PEM_read_bio_PKCS8(bio.get(), nullptr, no_prompt, nullptr),
                                                         &X509_SIG_free);
  ERR_clear_error();
  if (!p8) return;   // not an EncryptedPrivateKeyInfo: decrypting it fails before any KDF
  const X509_ALGOR* alg = nullptr;
  X509_SIG_get0(p8.get(), &alg, nullptr);
  auto refuse = [&](const std::string& kdf, uint64_t work, uint64_t most) {
    throw usage_error(what + ": its passphrase KDF asks for too much work (" + kdf + " " +
                          (work == UINT64_MAX ? std::string("out of range") : std::to_string(work)) + ", at most " +
                          std::to_string(most) + "); refused before running it",
                      "re-encrypt the key with ordinary parameters (openssl pkcs8 -topk8 -scrypt)");
  };
  const ASN1_TYPE* params = alg->parameter;
  if (OBJ_obj2nid(alg->algorithm) == NID_pbes2) {
    auto pbe2 = unpack<PBE2PARAM>(ASN1_ITEM_rptr(PBE2PARAM), params, PBE2PARAM_free);
    if (!pbe2 || !pbe2->keyfunc) return;   // malformed: OpenSSL refuses it
    const int kdf = OBJ_obj2nid(pbe2->keyfunc->algorithm);
    if (kdf == NID_id_pbkdf2) {
      auto p = unpack<PBKDF2PARAM>(ASN1_ITEM_rptr(PBKDF2PARAM), pbe2->keyfunc->parameter, PBKDF2PARAM_free);
      if (p && asn1_uint(p->iter) > kMaxKdfIterations) refuse("PBKDF2 iterations", asn1_uint(p->iter), kMaxKdfIterations);
    } else if (kdf == NID_id_scrypt) {
      auto p = unpack<SCRYPT_PARAMS>(ASN1_ITEM_rptr(SCRYPT_PARAMS), pbe2->keyfunc->parameter, SCRYPT_PARAMS_free);
      if (!p) return;
      auto mul = [](uint64_t a, uint64_t b) { return a != 0 && b > UINT64_MAX / a ? UINT64_MAX : a * b; };
      const uint64_t work = mul(mul(asn1_uint(p->costParameter), asn1_uint(p->blockSize)),
                                asn1_uint(p->parallelizationParameter));
      if (work > kMaxScryptWork) refuse("scrypt N*r*p", work, kMaxScryptWork);
    }
    return;
  }
  // PKCS#5 v1.5 and PKCS#12 password-based encryption: salt and iterations.
  auto p = unpack<PBEPARAM>(ASN1_ITEM_rptr(PBEPARAM), params, PBEPARAM_free);
  if (p && asn1_uint(p->iter) > kMaxKdfIterations) refuse("iterations", asn1_uint(p->iter), kMaxKdfIterations);
}

std::string openssl_reason() {
  unsigned long e = ERR_peek_last_error();
  ERR_clear_error();
  const char* r = e ? ERR_reason_error_string(e) : nullptr;
  return r ? r : "unknown error";
}

std::optional<KeyType> evp_key_type(EVP_PKEY* k) {
  if (EVP_PKEY_get_base_id(k) == EVP_PKEY_ED25519) return KeyType::ed25519;
  if (EVP_PKEY_get_base_id(k) != EVP_PKEY_EC) return std::nullopt;
  char group[64] = {0};
  size_t len = 0;
  if (EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &len) != 1)
    return std::nullopt;
  std::string_view g(group, len);
  if (g == "prime256v1" || g == "P-256") return KeyType::ecdsa_p256;
  if (g == "secp384r1" || g == "P-384") return KeyType::ecdsa_p384;
  return std::nullopt;
}

// One key, one encoding: an EC public key rebuilt from its named curve and its uncompressed point,
// so that a compressed point or explicit curve parameters give the same DER and key id (a key
// listed twice in another encoding must not count twice towards a threshold).
std::shared_ptr<EVP_PKEY> canonical_ec(EVP_PKEY* k, KeyType type, const std::string& what) {
  const int nid = type == KeyType::ecdsa_p384 ? NID_secp384r1 : NID_X9_62_prime256v1;
  unsigned char stored[160];
  size_t len = 0;
  if (EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_PUB_KEY, stored, sizeof stored, &len) != 1)
    throw usage_error(what + ": invalid EC public key");
  std::unique_ptr<EC_GROUP, decltype(&EC_GROUP_free)> group(EC_GROUP_new_by_curve_name(nid), &EC_GROUP_free);
  std::unique_ptr<EC_POINT, decltype(&EC_POINT_free)> point(group ? EC_POINT_new(group.get()) : nullptr,
                                                            &EC_POINT_free);
  unsigned char flat[160];
  size_t flat_len = 0;
  if (!point || EC_POINT_oct2point(group.get(), point.get(), stored, len, nullptr) != 1 ||
      (flat_len = EC_POINT_point2oct(group.get(), point.get(), POINT_CONVERSION_UNCOMPRESSED, flat, sizeof flat,
                                     nullptr)) == 0) {
    ERR_clear_error();
    throw usage_error(what + ": invalid EC public key (not a point on the curve)");
  }
  std::unique_ptr<OSSL_PARAM_BLD, decltype(&OSSL_PARAM_BLD_free)> bld(OSSL_PARAM_BLD_new(), &OSSL_PARAM_BLD_free);
  const char* group_name = type == KeyType::ecdsa_p384 ? "P-384" : "P-256";
  if (!bld || OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, group_name, 0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, flat, flat_len) != 1)
    throw std::bad_alloc();
  std::unique_ptr<OSSL_PARAM, decltype(&OSSL_PARAM_free)> params(OSSL_PARAM_BLD_to_param(bld.get()), &OSSL_PARAM_free);
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr),
                                                                  &EVP_PKEY_CTX_free);
  EVP_PKEY* out = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &out, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    ERR_clear_error();
    throw usage_error(what + ": invalid EC public key");
  }
  return own(out);
}

const EVP_MD* ecdsa_md(KeyType t) { return t == KeyType::ecdsa_p384 ? EVP_sha384() : EVP_sha256(); }

int pass_cb(char* buf, int size, int /*rwflag*/, void* u) {
  const auto* pass = static_cast<const Passphrase*>(u);
  if (!pass || pass->bytes.empty() || pass->bytes.size() > static_cast<size_t>(size)) return -1;
  std::memcpy(buf, pass->bytes.data(), pass->bytes.size());
  return static_cast<int>(pass->bytes.size());
}

SecretBytes bio_contents(BIO* b) {
  char* p = nullptr;
  long n = BIO_get_mem_data(b, &p);
  return SecretBytes(p, n > 0 ? static_cast<size_t>(n) : 0);
}

}  // namespace

SecretBytes read_secret_file(const std::filesystem::path& path, const std::string& what) {
  UniqueFd file(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  const int fd = file.get();
  if (fd < 0) throw errno_error("cannot open " + what, path.string(), errno);
  struct stat st;
  if (::fstat(fd, &st) != 0) throw errno_error("cannot stat " + what, path.string(), errno);
  if (!S_ISREG(st.st_mode)) throw usage_error(what + " is not a regular file: " + path.string());
  if (st.st_mode & 077) {
    // A public key given where a private one belongs is named as such, not as a mode problem.
    char head[27] = {0};
    if (::pread(fd, head, sizeof head - 1, 0) == sizeof head - 1 && std::string_view(head) == "-----BEGIN PUBLIC KEY-----")
      throw usage_error(what + " " + path.string() + ": this is a public key, not a private key",
                        "sign with the private key (the .key file); the .pub is for verifying");
    throw usage_error(what + " is accessible by group or others: " + path.string(), "chmod 600 " + path.string());
  }
  constexpr size_t kMax = 64 * 1024;
  if (st.st_size > static_cast<off_t>(kMax)) throw usage_error(what + " is too large: " + path.string());
  SecretBytes buf(kMax);
  size_t got = 0;
  for (;;) {
    ssize_t n = ::read(fd, buf.data() + got, kMax - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw errno_error("cannot read " + what, path.string(), errno);
    if (n == 0 || (got += static_cast<size_t>(n)) == kMax) break;
  }
  buf.resize_down(got);
  return buf;
}

std::string_view key_type_name(KeyType t) {
  switch (t) {
    case KeyType::ed25519: return "ed25519";
    case KeyType::ecdsa_p256: return "p256";
    case KeyType::ecdsa_p384: return "p384";
  }
  return "unknown";
}

std::optional<KeyType> key_type_from_name(std::string_view n) {
  if (n == "ed25519") return KeyType::ed25519;
  if (n == "p256" || n == "ecdsa-p256" || n == "P-256") return KeyType::ecdsa_p256;
  if (n == "p384" || n == "ecdsa-p384" || n == "P-384") return KeyType::ecdsa_p384;
  return std::nullopt;
}

// ---- PublicKey ----

PublicKey PublicKey::from_evp(EVP_PKEY* k, const std::string& what, Status status) {
  auto type = evp_key_type(k);
  if (!type) throw Error(status, what + ": unsupported key type (expected ed25519, p256 or p384)");
  PublicKey pk;
  pk.type_ = *type;
  std::shared_ptr<EVP_PKEY> canon;
  if (*type != KeyType::ed25519) k = (canon = canonical_ec(k, *type, what)).get();
  unsigned char* der = nullptr;
  int len = i2d_PUBKEY(k, &der);
  if (len <= 0) throw Error(status, what + ": cannot encode public key: " + openssl_reason());
  pk.der_.assign(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  // Canonical PEM, the text model_signing hashes into its key hint.
  BioPtr out(BIO_new(BIO_s_mem()), &BIO_free);
  const unsigned char* p = reinterpret_cast<const unsigned char*>(pk.der_.data());
  auto pub = own(d2i_PUBKEY(nullptr, &p, static_cast<long>(pk.der_.size())));
  if (!pub || PEM_write_bio_PUBKEY(out.get(), pub.get()) != 1)
    throw Error(status, what + ": cannot encode public key: " + openssl_reason());
  char* text = nullptr;
  long n = BIO_get_mem_data(out.get(), &text);
  pk.pem_.assign(text, static_cast<size_t>(n));
  pk.keyid_ = digest_hex(sha256(pk.der_));
  if (pk.type_ == KeyType::ed25519) {
    size_t rl = 32;
    pk.raw_.resize(32);
    if (EVP_PKEY_get_raw_public_key(pub.get(), reinterpret_cast<unsigned char*>(pk.raw_.data()), &rl) != 1 || rl != 32)
      throw Error(status, what + ": invalid ed25519 public key");
  } else {
    pk.evp_ = std::move(pub);
  }
  return pk;
}

PublicKey PublicKey::from_pem(std::string_view text, const std::string& what, Status status) {
  std::string_view pem = pem_block(text);
  if (pem.empty()) throw Error(status, what + ": no PEM public key found");
  if (pem.starts_with("-----BEGIN ") && pem.substr(0, pem.find('\n')).find("PRIVATE KEY-----") != std::string_view::npos)
    throw Error(status, what + ": this is a private key, not a public key",
                "give its public key (the .pub file that keygen wrote beside it)");
  auto bio = mem_bio(pem);
  // No callback would let OpenSSL prompt on the terminal for a passphrase: never.
  auto k = own(PEM_read_bio_PUBKEY(bio.get(), nullptr, &no_prompt, nullptr));
  if (!k) throw Error(status, what + ": not a PEM public key: " + openssl_reason());
  return from_evp(k.get(), what, status);
}

PublicKey PublicKey::load(const std::filesystem::path& path) {
  // Too large is a bad key file, not an untrusted model.
  return from_pem(read_file_limited(path, 64 * 1024, "public key", Status::usage), "public key " + path.string());
}

std::string PublicKey::hint() const { return digest_hex(sha256(pem_)); }

void PublicKey::verify(std::string_view message, std::string_view sig) const {
  if (type_ == KeyType::ed25519) {
    if (sig.size() != crypto_sign_BYTES ||
        crypto_sign_verify_detached(reinterpret_cast<const unsigned char*>(sig.data()),
                                    reinterpret_cast<const unsigned char*>(message.data()), message.size(),
                                    reinterpret_cast<const unsigned char*>(raw_.data())) != 0)
      throw untrusted("signature does not verify with key " + keyid_.substr(0, 16));
    return;
  }
  CtxPtr ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  int ok = ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, ecdsa_md(type_), nullptr, evp_.get()) == 1 &&
           EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                            reinterpret_cast<const unsigned char*>(message.data()), message.size()) == 1;
  ERR_clear_error();
  if (!ok) throw untrusted("signature does not verify with key " + keyid_.substr(0, 16));
}

// ---- PrivateKey ----

PrivateKey PrivateKey::from_evp(EVP_PKEY* k, const std::string& what) {
  PrivateKey key;
  key.pub_ = PublicKey::from_evp(k, what);
  if (key.pub_.type_ == KeyType::ed25519) {
    SecretBytes seed(crypto_sign_SEEDBYTES);
    size_t len = seed.size();
    if (EVP_PKEY_get_raw_private_key(k, seed.data(), &len) != 1 || len != crypto_sign_SEEDBYTES)
      throw usage_error(what + ": invalid ed25519 private key");
    key.ed_sk_ = SecretBytes(crypto_sign_SECRETKEYBYTES);
    unsigned char pk[crypto_sign_PUBLICKEYBYTES];
    crypto_sign_seed_keypair(pk, key.ed_sk_.data(), seed.data());
    if (sodium_memcmp(pk, key.pub_.raw_.data(), sizeof pk) != 0)
      throw usage_error(what + ": private and public halves do not match");
  } else {
    EVP_PKEY_up_ref(k);
    key.evp_ = own(k);
  }
  return key;
}

PrivateKey PrivateKey::generate(KeyType type) {
  if (type == KeyType::ed25519) {
    SecretBytes seed(crypto_sign_SEEDBYTES);
    randombytes_buf(seed.data(), seed.size());
    auto k = own(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed.data(), seed.size()));
    if (!k) throw io_error("cannot generate a key: " + openssl_reason());
    return from_evp(k.get(), "new key");
  }
  auto k = own(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", type == KeyType::ecdsa_p384 ? "P-384" : "P-256"));
  if (!k) throw io_error("cannot generate a key: " + openssl_reason());
  return from_evp(k.get(), "new key");
}

PrivateKey PrivateKey::from_pem(std::string_view text, const PassphraseSource& passphrase, const std::string& what) {
  std::string_view pem = pem_block(text);
  if (pem.empty()) throw usage_error(what + ": no PEM private key found");
  if (pem.starts_with("-----BEGIN PUBLIC KEY-----"))
    throw usage_error(what + ": this is a public key, not a private key",
                      "sign with the private key (the .key file); the .pub is for verifying");
  bool encrypted = pem.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----");
  Passphrase pass;
  if (encrypted) {
    if (!passphrase) throw usage_error(what + ": key is encrypted but no passphrase was given");
    check_kdf_cost(pem, what);
    pass = passphrase();
  }
  auto bio = mem_bio(pem);
  auto k = own(PEM_read_bio_PrivateKey(bio.get(), nullptr, &pass_cb, const_cast<Passphrase*>(&pass)));
  if (!k) {
    std::string reason = openssl_reason();
    if (encrypted) throw usage_error(what + ": wrong passphrase, or the key is corrupt");
    throw usage_error(what + ": not a PEM private key: " + reason);
  }
  return from_evp(k.get(), what);
}

PrivateKey PrivateKey::load(const std::filesystem::path& path, const PassphraseSource& passphrase) {
  SecretBytes text = read_secret_file(path, "private key");
  return from_pem(text.view(), passphrase, "private key " + path.string());
}

std::string PrivateKey::sign(std::string_view message) const {
  if (type() == KeyType::ed25519) {
    std::string sig(crypto_sign_BYTES, '\0');
    crypto_sign_detached(reinterpret_cast<unsigned char*>(sig.data()), nullptr,
                         reinterpret_cast<const unsigned char*>(message.data()), message.size(), ed_sk_.data());
    return sig;
  }
  CtxPtr ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  size_t len = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, ecdsa_md(type()), nullptr, evp_.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(message.data()),
                     message.size()) != 1)
    throw io_error("cannot sign: " + openssl_reason());
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                     reinterpret_cast<const unsigned char*>(message.data()), message.size()) != 1)
    throw io_error("cannot sign: " + openssl_reason());
  sig.resize(len);
  return sig;
}

namespace {

using P8InfPtr = std::unique_ptr<PKCS8_PRIV_KEY_INFO, decltype(&PKCS8_PRIV_KEY_INFO_free)>;

}  // namespace

SecretBytes PrivateKey::to_pem_insecure_unencrypted() const {
  std::shared_ptr<EVP_PKEY> k = evp_;
  if (type() == KeyType::ed25519)
    k = own(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, ed_sk_.data(), crypto_sign_SEEDBYTES));
  P8InfPtr p8inf(k ? EVP_PKEY2PKCS8(k.get()) : nullptr, &PKCS8_PRIV_KEY_INFO_free);
  BioPtr out(BIO_new(BIO_s_secmem()), &BIO_free);
  if (!p8inf || !out || PEM_write_bio_PKCS8_PRIV_KEY_INFO(out.get(), p8inf.get()) != 1)
    throw io_error("cannot encode private key: " + openssl_reason());
  return bio_contents(out.get());
}

SecretBytes PrivateKey::to_pem(const Passphrase& pass) const {
  if (pass.bytes.empty()) throw usage_error("empty passphrase", "use --insecure-no-passphrase for an unencrypted key");
  std::shared_ptr<EVP_PKEY> k = evp_;
  if (type() == KeyType::ed25519)
    k = own(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, ed_sk_.data(), crypto_sign_SEEDBYTES));
  P8InfPtr p8inf(k ? EVP_PKEY2PKCS8(k.get()) : nullptr, &PKCS8_PRIV_KEY_INFO_free);
  BioPtr out(BIO_new(BIO_s_secmem()), &BIO_free);
  if (!p8inf || !out) throw io_error("cannot encode private key: " + openssl_reason());
  // PBES2 with scrypt (N=2^14, r=8, p=1, as `openssl pkcs8 -scrypt`) and AES-256-CBC.
  unsigned char salt[16], iv[16];
  if (RAND_bytes(salt, sizeof salt) != 1 || RAND_bytes(iv, sizeof iv) != 1)
    throw io_error("cannot get random bytes: " + openssl_reason());
  X509_ALGOR* pbe = PKCS5_pbe2_set_scrypt(EVP_aes_256_cbc(), salt, sizeof salt, iv, 1 << 14, 8, 1);
  if (!pbe) throw io_error("cannot encode private key: " + openssl_reason());
  std::unique_ptr<X509_SIG, decltype(&X509_SIG_free)> p8(
      PKCS8_set0_pbe(reinterpret_cast<const char*>(pass.bytes.data()), static_cast<int>(pass.bytes.size()),
                     p8inf.get(), pbe),
      &X509_SIG_free);
  if (!p8) {
    X509_ALGOR_free(pbe);
    throw io_error("cannot encrypt private key: " + openssl_reason());
  }
  if (PEM_write_bio_PKCS8(out.get(), p8.get()) != 1) throw io_error("cannot encode private key: " + openssl_reason());
  return bio_contents(out.get());
}

// ---- passphrases ----

namespace {

SecretBytes prompt_tty(const std::string& prompt) {
  UniqueFd tty(::open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY));
  const int fd = tty.get();
  if (fd < 0) throw usage_error("no passphrase given and no terminal to ask on",
                                "set MODELSEAL_PASSPHRASE or use --passphrase-file FILE");
  struct termios old {};
  bool restore = tcgetattr(fd, &old) == 0;
  if (restore) {
    struct termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    quiet.c_lflag |= ECHONL;
    tcsetattr(fd, TCSAFLUSH, &quiet);
  }
  struct Restore { int fd; bool on; struct termios t; ~Restore() { if (on) tcsetattr(fd, TCSAFLUSH, &t); } } r{fd, restore, old};
  if (::write(fd, prompt.data(), prompt.size()) < 0) {}
  SecretBytes buf(1024);
  size_t got = 0;
  char c;
  while (got < buf.size()) {
    ssize_t n = ::read(fd, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || c == '\n') break;
    buf.data()[got++] = static_cast<uint8_t>(c);
  }
  if (got && buf.data()[got - 1] == '\r') --got;
  buf.resize_down(got);
  return buf;
}

}  // namespace

Passphrase read_passphrase(const std::string& file, bool confirm, const std::string& prompt) {
  Passphrase p;
  if (const char* env = std::getenv("MODELSEAL_PASSPHRASE")) {
    p.bytes = SecretBytes(env, std::strlen(env));
  } else if (!file.empty()) {
    SecretBytes text = read_secret_file(file, "passphrase file");
    size_t n = text.view().find('\n');
    p.bytes = SecretBytes(text.data(), n == std::string_view::npos ? text.size() : n);
  } else {
    p.bytes = prompt_tty(prompt);
    if (confirm) {
      SecretBytes again = prompt_tty("confirm passphrase: ");
      if (again.size() != p.bytes.size() || sodium_memcmp(again.data(), p.bytes.data(), again.size()) != 0)
        throw usage_error("passphrases do not match");
    }
  }
  if (p.bytes.empty()) throw usage_error("empty passphrase", "use --insecure-no-passphrase for an unencrypted key");
  return p;
}

}  // namespace modelseal
