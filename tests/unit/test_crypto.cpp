// Signature and hash primitives against vectors written by others.
#include <doctest/doctest.h>

#include <fstream>

#include "helpers.hpp"
#include "modelseal/error.hpp"
#include "modelseal/hash.hpp"
#include "modelseal/json.hpp"
#include "modelseal/keys.hpp"

using namespace modelseal;

namespace {

PublicKey ed25519_public(const std::string& raw) {
  std::string der = test::unhex("302a300506032b6570032100") + raw;
  return PublicKey::from_pem("-----BEGIN PUBLIC KEY-----\n" + base64_encode(der) + "\n-----END PUBLIC KEY-----\n", "key");
}

bool verifies(const PublicKey& k, const std::string& msg, const std::string& sig) {
  try {
    k.verify(msg, sig);
    return true;
  } catch (const Error& e) {
    CHECK(e.status() == Status::not_trusted);
    return false;
  }
}

// NIST .rsp files: "Len = n", "Msg = hex", "MD = hex" records.
void check_sha256_rsp(const std::filesystem::path& file, int& cases) {
  std::ifstream in(file);
  REQUIRE(in.good());
  std::string line, msg;
  long len = -1;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.rfind("Len = ", 0) == 0) len = std::stol(line.substr(6));
    if (line.rfind("Msg = ", 0) == 0) msg = test::unhex(line.substr(6));
    if (line.rfind("MD = ", 0) == 0) {
      REQUIRE(len >= 0);
      std::string data = msg.substr(0, static_cast<size_t>(len / 8));
      CHECK(digest_hex(sha256(data)) == line.substr(5));
      ++cases;
    }
  }
}

}  // namespace

TEST_CASE("wycheproof: every Ed25519 case gives the expected result") {
  json doc = json::parse(test::slurp(test::shared_dir() / "vectors/wycheproof/ed25519_test.json"));
  int cases = 0, failures = 0;
  for (const auto& group : doc["testGroups"]) {
    PublicKey key = ed25519_public(test::unhex(group["publicKey"]["pk"].get<std::string>()));
    for (const auto& t : group["tests"]) {
      bool want = t["result"] == "valid";
      bool got = verifies(key, test::unhex(t["msg"]), test::unhex(t["sig"]));
      if (got != want) {
        ++failures;
        MESSAGE("tcId " << t["tcId"] << " (" << t["comment"] << "): expected " << t["result"]);
      }
      ++cases;
    }
  }
  CHECK(cases == 151);
  CHECK(failures == 0);
}

TEST_CASE("RFC 8032 tests 1-3 reproduce byte for byte") {
  struct Case { const char* seed; const char* pub; const char* msg; const char* sig; };
  const Case cases[] = {
      {"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
       "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
       "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"},
      {"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
       "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
       "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"},
      {"c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
       "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
       "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"},
  };
  for (const auto& c : cases) {
    PrivateKey k = test::ed25519_from_seed(test::unhex(c.seed));
    CHECK(to_hex(ed25519_public(test::unhex(c.pub)).der()) == to_hex(k.public_key().der()));
    std::string sig = k.sign(test::unhex(c.msg));
    CHECK(to_hex(sig) == c.sig);
    CHECK(verifies(k.public_key(), test::unhex(c.msg), sig));
  }
}

TEST_CASE("Ed25519 sign.input (python3-cryptography-vectors): all 1024 lines") {
  std::ifstream in(test::vectors_dir() / "asymmetric/Ed25519/sign.input");
  REQUIRE_MESSAGE(in.good(), "install python3-cryptography-vectors");
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    // secret||public : public : message : signature||message :
    std::vector<std::string> f;
    for (size_t s = 0, e; (e = line.find(':', s)) != std::string::npos; s = e + 1) f.push_back(line.substr(s, e - s));
    REQUIRE(f.size() == 4);
    PrivateKey k = test::ed25519_from_seed(test::unhex(f[0].substr(0, 64)));
    std::string msg = test::unhex(f[2]);
    std::string sig = k.sign(msg);
    CHECK(to_hex(sig) == f[3].substr(0, 128));
    CHECK(verifies(ed25519_public(test::unhex(f[1])), msg, sig));
    ++n;
  }
  CHECK(n == 1024);
}

TEST_CASE("NIST SHA-256 short, long and Monte Carlo vectors") {
  auto dir = test::vectors_dir() / "hashes/SHA2";
  int cases = 0;
  check_sha256_rsp(dir / "SHA256ShortMsg.rsp", cases);
  check_sha256_rsp(dir / "SHA256LongMsg.rsp", cases);
  CHECK(cases == 65 + 64);

  std::ifstream in(dir / "SHA256Monte.rsp");
  REQUIRE(in.good());
  std::string line, seed;
  std::vector<std::string> expected;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.rfind("Seed = ", 0) == 0) seed = test::unhex(line.substr(7));
    if (line.rfind("MD = ", 0) == 0) expected.push_back(line.substr(5));
  }
  REQUIRE(expected.size() == 100);
  for (const auto& want : expected) {
    std::string md[3] = {seed, seed, seed};
    for (int i = 3; i < 1003; ++i) {
      Digest d = sha256(md[0] + md[1] + md[2]);
      md[0] = md[1];
      md[1] = md[2];
      md[2].assign(d.begin(), d.end());
    }
    seed = md[2];
    CHECK(to_hex(seed) == want);
  }
}

TEST_CASE("ECDSA: P-256 and P-384 sign and verify; the key's curve fixes the hash") {
  for (KeyType t : {KeyType::ecdsa_p256, KeyType::ecdsa_p384}) {
    PrivateKey k = PrivateKey::generate(t);
    std::string sig = k.sign("message");
    CHECK(verifies(k.public_key(), "message", sig));
    CHECK_FALSE(verifies(k.public_key(), "messagE", sig));
    PrivateKey other = PrivateKey::generate(t);
    CHECK_FALSE(verifies(other.public_key(), "message", sig));
  }
  // A signature made with one key type never verifies under another.
  PrivateKey ed = PrivateKey::generate(KeyType::ed25519);
  PrivateKey ec = PrivateKey::generate(KeyType::ecdsa_p256);
  CHECK_FALSE(verifies(ec.public_key(), "m", ed.sign("m")));
  CHECK_FALSE(verifies(ed.public_key(), "m", ec.sign("m")));
}

TEST_CASE("hex and base64 are strict") {
  CHECK(from_hex("0aFf") == std::string("\x0a\xff", 2));
  CHECK_FALSE(from_hex("abc"));
  CHECK_FALSE(from_hex("zz"));
  CHECK(base64_decode(base64_encode("hello")) == "hello");
  CHECK_FALSE(base64_decode("aGVsbG8"));     // missing padding
  CHECK_FALSE(base64_decode("aGVs bG8="));   // whitespace
  CHECK_FALSE(base64_decode("aGVsbG8=x"));   // trailing data
}
