// Signing-certificate checks on the shared test PKI (root, intermediate, P-384 signing key) and
// on certificates the test makes with openssl: a wrong key, no codeSigning EKU, no
// digitalSignature, expired and not yet valid, a chain out of order.
#include <doctest/doctest.h>

#include <ctime>
#include <functional>

#include "modelseal/encoding.hpp"
#include "modelseal/error.hpp"
#include "modelseal/signing_cert.hpp"
#include "token.hpp"

using namespace modelseal;
namespace fs = std::filesystem;

namespace {

fs::path pki() {
  const char* s = std::getenv("MODELSEAL_SHARED");
  return fs::path(s && *s ? s : "../shared") / "vectors/oms/keys/certificate";
}

std::string usage_message(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    CHECK(e.status() == Status::usage);
    CHECK(std::string(e.what()).find('\n') == std::string::npos);
    return e.what();
  }
  FAIL("no error thrown");
  return {};
}

struct Dir {
  fs::path path;
  Dir() {
    std::string t = (fs::temp_directory_path() / "modelseal-cert-XXXXXX").string();
    path = ::mkdtemp(t.data());
  }
  ~Dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  // A self-signed P-256 certificate valid for `days` from now, with `ext` (openssl -addext).
  PublicKey make(const std::string& name, const std::string& ext, int days = 30) {
    std::string key = (path / (name + ".key")).string(), cert = (path / (name + ".pem")).string();
    std::string cmd = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout " + key +
                      " -out " + cert + " -days " + std::to_string(days) + " -subj /CN=" + name +
                      " -addext basicConstraints=critical,CA:FALSE " + ext +
                      " && openssl pkey -in " + key + " -pubout -out " + key + ".pub";
    std::string out;
    REQUIRE_MESSAGE(test::sh(cmd, &out) == 0, out);
    return PublicKey::load(key + ".pub");
  }
};

}  // namespace

TEST_CASE("the shared PKI: signing key and certificate with the intermediate give leaf, intermediate") {
  PublicKey pub = PublicKey::load(pki() / "signing-key-pub.pem");
  auto chain = load_signing_chain(pki() / "signing-key-cert.pem", {pki() / "int-ca-cert.pem"}, pub, std::time(nullptr));
  REQUIRE(chain.size() == 2);
  std::string out;
  REQUIRE(test::sh("openssl x509 -in " + (pki() / "signing-key-cert.pem").string() + " -outform DER | base64 -w0", &out) == 0);
  CHECK(base64_encode(chain[0]) == out);
  // and with the root too
  CHECK(load_signing_chain(pki() / "signing-key-cert.pem", {pki() / "int-ca-cert.pem", pki() / "ca-cert.pem"}, pub,
                           std::time(nullptr)).size() == 3);
  CHECK(load_signing_chain(pki() / "signing-key-cert.pem", {}, pub, std::time(nullptr)).size() == 1);
}

TEST_CASE("refused: wrong key, out-of-order chain, expired, not yet valid, no codeSigning, no digitalSignature") {
  Dir d;
  PublicKey pki_pub = PublicKey::load(pki() / "signing-key-pub.pem");
  // An hour from now: certificates made below start at the second openssl runs, which under
  // load (or a sanitizer) can be a second or more after this line.
  const std::time_t now = std::time(nullptr) + 3600;
  PublicKey other = d.make("other", "-addext keyUsage=critical,digitalSignature -addext extendedKeyUsage=codeSigning");
  std::string m = usage_message([&] { load_signing_chain(pki() / "signing-key-cert.pem", {}, other, now); });
  CHECK(m.starts_with("the signing key does not match the certificate's public key: "));

  m = usage_message([&] { load_signing_chain(pki() / "signing-key-cert.pem", {pki() / "ca-cert.pem"}, pki_pub, now); });
  CHECK(m.starts_with("certificate chain is out of order: "));

  PublicKey good = d.make("good", "-addext keyUsage=critical,digitalSignature -addext extendedKeyUsage=codeSigning", 1);
  CHECK(load_signing_chain(d.path / "good.pem", {}, good, now).size() == 1);
  m = usage_message([&] { load_signing_chain(d.path / "good.pem", {}, good, now + 3 * 86400); });
  CHECK(m.starts_with("certificate has expired (valid 20"));
  CHECK(m.find(" to 20") != std::string::npos);
  m = usage_message([&] { load_signing_chain(d.path / "good.pem", {}, good, now - 3 * 86400); });
  CHECK(m.starts_with("certificate is not yet valid (valid 20"));

  PublicKey server = d.make("server", "-addext keyUsage=critical,digitalSignature -addext extendedKeyUsage=serverAuth");
  m = usage_message([&] { load_signing_chain(d.path / "server.pem", {}, server, now); });
  CHECK(m == "signing certificate lacks the codeSigning extended key usage: " + (d.path / "server.pem").string());

  PublicKey noeku = d.make("noeku", "-addext keyUsage=critical,digitalSignature");
  m = usage_message([&] { load_signing_chain(d.path / "noeku.pem", {}, noeku, now); });
  CHECK(m.starts_with("signing certificate lacks the codeSigning"));

  PublicKey nods = d.make("nods", "-addext keyUsage=critical,keyEncipherment -addext extendedKeyUsage=codeSigning");
  m = usage_message([&] { load_signing_chain(d.path / "nods.pem", {}, nods, now); });
  CHECK(m.starts_with("signing certificate lacks the digitalSignature key usage: "));

  test::write(d.path / "empty.pem", "not a certificate\n");
  m = usage_message([&] { load_signing_chain(d.path / "empty.pem", {}, good, now); });
  CHECK(m.starts_with("no PEM certificate in file: "));
  test::write(d.path / "two.pem", test::slurp(d.path / "good.pem") + test::slurp(d.path / "other.pem"));
  m = usage_message([&] { load_signing_chain(d.path / "two.pem", {}, good, now); });
  CHECK(m.starts_with("signing certificate file holds more than one certificate"));
}
