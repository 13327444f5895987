// Key files: PKCS#8 encryption, OpenSSL interop, permissions, secret hygiene.
#include <doctest/doctest.h>

#include <cstring>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <sys/stat.h>

#include "helpers.hpp"
#include "modelseal/error.hpp"
#include "modelseal/fileio.hpp"
#include "modelseal/keys.hpp"
#include "modelseal/secret.hpp"
#include "modelseal/files.hpp"
#include "modelseal/testing.hpp"

using namespace modelseal;
using test::status_of;
using test::what_of;

namespace {
Passphrase pass_of(const char* s) {
  Passphrase p;
  p.bytes = SecretBytes(s, std::strlen(s));
  return p;
}
PrivateKey::PassphraseSource source(const char* s) {
  return [s] { return pass_of(s); };
}
}  // namespace

TEST_CASE("private keys round-trip through encrypted PKCS#8 with scrypt") {
  for (KeyType t : {KeyType::ed25519, KeyType::ecdsa_p256, KeyType::ecdsa_p384}) {
    PrivateKey k = PrivateKey::generate(t);
    SecretBytes pem = k.to_pem(pass_of("correct horse"));
    CHECK(pem.view().starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
    PrivateKey back = PrivateKey::from_pem(pem.view(), source("correct horse"), "k");
    CHECK(back.public_key().keyid() == k.public_key().keyid());
    back.public_key().verify("m", k.sign("m"));
    CHECK(status_of([&] { PrivateKey::from_pem(pem.view(), source("wrong"), "k"); }) == Status::usage);
    CHECK(status_of([&] { PrivateKey::from_pem(pem.view(), nullptr, "k"); }) == Status::usage);
  }
}

TEST_CASE("unencrypted keys, and the passphrase is asked only when needed") {
  PrivateKey k = PrivateKey::generate(KeyType::ed25519);
  SecretBytes pem = k.to_pem_insecure_unencrypted();
  CHECK(pem.view().starts_with("-----BEGIN PRIVATE KEY-----"));
  bool asked = false;
  PrivateKey back = PrivateKey::from_pem(pem.view(), [&] { asked = true; return pass_of("x"); }, "k");
  CHECK_FALSE(asked);
  CHECK(back.public_key().keyid() == k.public_key().keyid());
}

TEST_CASE("key files readable by group or others are refused") {
  test::TempDir dir;
  PrivateKey k = PrivateKey::generate(KeyType::ed25519);
  auto path = dir.path / "k.key";
  write_file_atomic(path, k.to_pem(pass_of("pw")).view(), 0600);
  CHECK(PrivateKey::load(path, source("pw")).public_key().keyid() == k.public_key().keyid());
  for (mode_t bad : {0640, 0604, 0660, 0644}) {
    ::chmod(path.c_str(), bad);
    try {
      PrivateKey::load(path, source("pw"));
      FAIL("loaded a key with mode " << bad);
    } catch (const Error& e) {
      CHECK(e.status() == Status::usage);
      CHECK(e.hint().find("chmod 600") != std::string::npos);
    }
  }
  CHECK(status_of([&] { PrivateKey::load(dir.path / "missing.key", source("pw")); }) == Status::io);
}

TEST_CASE("public keys: PEM after other text, unsupported types, hint") {
  std::string pem = test::slurp(test::shared_dir() / "vectors/oms/signing-key-pub.pem");
  PublicKey k = PublicKey::from_pem(pem, "reference key");
  CHECK(k.type() == KeyType::ecdsa_p384);
  // model_signing's hint in the v1.1.0 reference bundle.
  CHECK(k.hint() == "e8450dec4eb99dae995da9af1bc2cc9f76ed669ee2e744f57abba763df3e3f8e");
  CHECK(status_of([] { PublicKey::from_pem("garbage", "k"); }) == Status::usage);
  // An RSA key (a valid PEM public key of another type) is refused.
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> rsa(EVP_RSA_gen(2048), &EVP_PKEY_free);
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
  REQUIRE(PEM_write_bio_PUBKEY(bio.get(), rsa.get()) == 1);
  char* text = nullptr;
  long n = BIO_get_mem_data(bio.get(), &text);
  try {
    PublicKey::from_pem(std::string(text, static_cast<size_t>(n)), "k");
    FAIL("accepted an RSA key");
  } catch (const Error& e) {
    CHECK(e.status() == Status::usage);
    CHECK(std::string(e.what()).find("unsupported key type") != std::string::npos);
  }
}

TEST_CASE("secret buffers are wiped when freed") {
  uint64_t before = secret_wipes_for_testing();
  {
    SecretBytes s("secret", 6);
    CHECK(s.view() == "secret");
  }
  CHECK(secret_wipes_for_testing() == before + 1);
  uint64_t before_key = secret_wipes_for_testing();
  { PrivateKey k = PrivateKey::generate(KeyType::ed25519); }
  CHECK(secret_wipes_for_testing() > before_key);  // the seed and the secret key
}
