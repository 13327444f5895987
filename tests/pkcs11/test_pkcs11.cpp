// PKCS#11 keys on a real softhsm2 token: URIs, signing with keys generated on and imported into
// the token (checked by PublicKey::verify and by python3-cryptography), the failures users meet,
// keygen --pkcs11.
#include <dlfcn.h>
#include <p11-kit/pkcs11.h>

#include <doctest/doctest.h>

#include "modelseal/encoding.hpp"
#include "modelseal/error.hpp"
#include "modelseal/pkcs11.hpp"
#include "token.hpp"

using namespace modelseal;
using test::token;

namespace {

std::string env(const char* n, const char* fallback) {
  const char* v = std::getenv(n);
  return v && *v ? v : fallback;
}

// The Error a call throws, or a failed check.
template <typename F>
Error error_of(F f) {
  try {
    f();
  } catch (const Error& e) {
    return e;
  }
  FAIL("no error thrown");
  return Error(Status::ok, "");
}

void check_one_line_without_pin(const Error& e) {
  std::string m = e.what();
  CHECK(m.find('\n') == std::string::npos);
  CHECK(m.find(test::kPin) == std::string::npos);
  CHECK(e.hint().find(test::kPin) == std::string::npos);
}

// python3-cryptography's verdict on a signature by `pub`.
void python_verifies(const PublicKey& pub, const std::string& msg, const std::string& sig) {
  auto d = token().dir;
  test::write(d / "pub.pem", pub.pem());
  test::write(d / "msg", msg);
  test::write(d / "sig", sig);
  std::string out;
  int rc = test::sh("/usr/bin/python3 " + env("MODELSEAL_SOURCE", ".") + "/tests/pkcs11/verify_sig.py " +
                        (d / "pub.pem").string() + " " + (d / "msg").string() + " " + (d / "sig").string(),
                    &out);
  INFO(out);
  CHECK(rc == 0);
}

void sign_and_verify(const std::string& uri, KeyType want) {
  Pkcs11Key key = Pkcs11Key::open(Pkcs11Uri::parse(uri));
  CHECK(key.type() == want);
  const std::string msg = "DSSEv1 28 application/vnd.in-toto+json 2 {}";
  std::string sig = key.sign(msg);
  if (want == KeyType::ed25519) CHECK(sig.size() == 64);
  else CHECK(static_cast<unsigned char>(sig[0]) == 0x30);  // DER SEQUENCE
  key.public_key().verify(msg, sig);
  CHECK_THROWS_AS(key.public_key().verify(msg + "x", sig), Error);
  python_verifies(key.public_key(), msg, sig);
}

}  // namespace

TEST_CASE("uri: every attribute, percent-encoding, display without the PIN") {
  auto u = Pkcs11Uri::parse(
      "pkcs11:token=My%20Token;manufacturer=SoftHSM%20project;serial=abc;model=SoftHSM%20v2;object=k1;"
      "id=%01%ff;slot-id=42;type=private?module-name=softhsm2&pin-value=12%2634");
  CHECK(*u.token == "My Token");
  CHECK(*u.manufacturer == "SoftHSM project");
  CHECK(*u.object == "k1");
  CHECK(*u.id == std::string("\x01\xff", 2));
  CHECK(*u.slot_id == 42);
  CHECK(u.pin_value->view() == "12&34");
  CHECK(u.module_name == "softhsm2");
  CHECK(u.display().find("pin") == std::string::npos);
  CHECK(u.display().find("id=%01%FF") != std::string::npos);
  CHECK(Pkcs11Uri::parse(u.display()).display() == u.display());

  CHECK(Pkcs11Uri::parse("pkcs11:object=a?pin-source=file:/run/pin").pin_source == "/run/pin");
  CHECK(Pkcs11Uri::parse("pkcs11:object=a?pin-source=file:///run/pin").pin_source == "/run/pin");
  CHECK(Pkcs11Uri::parse("pkcs11:object=a?pin-source=/run/pin").pin_source == "/run/pin");
  CHECK(Pkcs11Uri::parse("pkcs11:").display() == "pkcs11:");
}

TEST_CASE("uri: each malformed URI is one usage line that never shows the PIN") {
  const char* bad[] = {
      "pkcs12:token=a",                                        // scheme
      "pkcs11:token=a;token=b",                                // twice
      "pkcs11:colour=blue",                                    // unknown path attribute
      "pkcs11:object=a?colour=blue",                           // unknown query attribute
      "pkcs11:object=a?module-path=lib/softhsm2.so",           // relative module path
      "pkcs11:object=a?module-name=../x",                      // a path as a name
      "pkcs11:object=a?module-name=a&module-path=/a.so",       // both module kinds
      "pkcs11:object=a?pin-value=4711-test-pin&pin-source=/p",  // both PIN kinds
      "pkcs11:object=a?pin-source=pin.txt",                    // relative PIN file
      "pkcs11:object=a?pin-source=|/bin/echo",                 // a command
      "pkcs11:object=a?pin-source=file://host/p",              // a remote file
      "pkcs11:object=a%2",                                     // short escape
      "pkcs11:object=a%zz",                                    // bad escape
      "pkcs11:object=a b",                                     // space
      "pkcs11:object=a/b",                                     // '/' in the path part
      "pkcs11:object=",                                        // empty value
      "pkcs11:object",                                         // no '='
      "pkcs11:object=a;",                                      // empty attribute
      "pkcs11:object=a#frag",                                  // fragment
      "pkcs11:slot-id=12x",                                    // not a number
      "pkcs11:slot-id=99999999999999999999999",                // too big
      "pkcs11:type=cert",                                      // not a private key
      "pkcs11:object=%00",                                     // NUL in a label
      "pkcs11:object=a?pin-value=4711-test-pin&pin-value=4711-test-pin",  // PIN twice
      "pkcs11:object=a?pin-value=4711 test-pin",               // a space in the PIN
  };
  for (const char* uri : bad) {
    INFO(uri);
    Error e = error_of([&] { Pkcs11Uri::parse(uri); });
    CHECK(e.status() == Status::usage);
    CHECK(std::string(e.what()).starts_with("bad PKCS#11 URI: "));
    check_one_line_without_pin(e);
  }
  CHECK_THROWS_AS(Pkcs11Uri::parse("pkcs11:object=" + std::string(9000, 'a')), Error);
}

TEST_CASE("module-name is found in Debian's PKCS#11 folders and p11-kit's module list") {
  CHECK(find_pkcs11_module("softhsm2") == test::kSoftHsm);  // /usr/share/p11-kit/modules/softhsm2.module
  CHECK(find_pkcs11_module("libsofthsm2").value_or("").ends_with("/softhsm/libsofthsm2.so"));
  CHECK(find_pkcs11_module("opensc-pkcs11").value_or("").ends_with("/opensc-pkcs11.so"));
  CHECK(!find_pkcs11_module("no-such-module"));
  CHECK(!find_pkcs11_module("../softhsm2"));
  Error e = error_of([] { Pkcs11Uri::parse("pkcs11:object=a?module-name=no-such-module").module(); });
  CHECK(e.status() == Status::usage);
  CHECK(!e.hint().empty());
  e = error_of([] { Pkcs11Uri::parse("pkcs11:object=a").module(); });
  CHECK(e.status() == Status::usage);
}

TEST_CASE("keys generated on the token by pkcs11-tool (Ed25519 as PrintableString edwards25519)") {
  token().login("--keypairgen --key-type EC:prime256v1 --label gen-p256 --id 0201");
  token().login("--keypairgen --key-type EC:secp384r1 --label gen-p384 --id 0202");
  std::string out = token().login("--keypairgen --key-type EC:edwards25519 --label gen-ed --id 0203");
  CHECK(out.find("130c656477617264733235353139") != std::string::npos);  // the PrintableString form
  sign_and_verify(token().uri("object=gen-p256"), KeyType::ecdsa_p256);
  sign_and_verify(token().uri("object=gen-p384"), KeyType::ecdsa_p384);
  sign_and_verify(token().uri("object=gen-ed"), KeyType::ed25519);
  // by id alone, and through module-name
  sign_and_verify("pkcs11:id=%02%03?module-name=softhsm2&pin-source=" + token().pin_file.string(), KeyType::ed25519);
}

TEST_CASE("keys imported into the token: the public key is the one imported") {
  auto d = token().dir;
  for (auto [curve, label, type] : {std::tuple{"P-256", "imp-p256", KeyType::ecdsa_p256},
                                    std::tuple{"P-384", "imp-p384", KeyType::ecdsa_p384}}) {
    std::string key = (d / (std::string(label) + ".pem")).string(), pub = (d / (std::string(label) + ".pub")).string();
    REQUIRE(test::sh("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:" + std::string(curve) + " -out " + key +
                     " && openssl pkey -in " + key + " -pubout -out " + pub) == 0);
    token().login("--write-object " + key + " --type privkey --label " + label + " --id 03" + (type == KeyType::ecdsa_p256 ? "01" : "02"));
    token().login("--write-object " + pub + " --type pubkey --label " + label + " --id 03" + (type == KeyType::ecdsa_p256 ? "01" : "02"));
    sign_and_verify(token().uri(std::string("object=") + label), type);
    CHECK(Pkcs11Key::open(Pkcs11Uri::parse(token().uri(std::string("object=") + label))).public_key().der() ==
          PublicKey::load(pub).der());
  }
}

// Imports an Ed25519 key with C_CreateObject, as softhsm2-util --import does (pkcs11-tool 0.23
// cannot import Ed25519): CKA_EC_PARAMS is the RFC 8410 OID, CKA_VALUE the seed.
void import_ed25519(const std::string& label, const std::string& id, const std::string& seed, const std::string& pub) {
  void* lib = ::dlopen(test::kSoftHsm.c_str(), RTLD_NOW | RTLD_LOCAL);
  REQUIRE(lib);
  auto get = reinterpret_cast<CK_C_GetFunctionList>(::dlsym(lib, "C_GetFunctionList"));
  CK_FUNCTION_LIST_PTR f = nullptr;
  REQUIRE(get(&f) == CKR_OK);
  REQUIRE(f->C_Initialize(nullptr) == CKR_OK);
  CK_SLOT_ID slots[8];
  CK_ULONG n = 8;
  REQUIRE(f->C_GetSlotList(CK_TRUE, slots, &n) == CKR_OK);
  CK_SLOT_ID slot = slots[0];
  for (CK_ULONG i = 0; i < n; ++i) {
    CK_TOKEN_INFO info;
    if (f->C_GetTokenInfo(slots[i], &info) == CKR_OK && (info.flags & CKF_TOKEN_INITIALIZED)) slot = slots[i];
  }
  CK_SESSION_HANDLE s = 0;
  REQUIRE(f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &s) == CKR_OK);
  std::string pin = test::kPin;
  REQUIRE(f->C_Login(s, CKU_USER, reinterpret_cast<CK_UTF8CHAR_PTR>(pin.data()), pin.size()) == CKR_OK);
  const std::string oid("\x06\x03\x2b\x65\x70", 5), point = std::string("\x04\x20", 2) + pub;
  CK_OBJECT_CLASS priv_c = CKO_PRIVATE_KEY, pub_c = CKO_PUBLIC_KEY;
  CK_KEY_TYPE kt = CKK_EC_EDWARDS;
  CK_BBOOL yes = CK_TRUE;
  auto a = [](CK_ATTRIBUTE_TYPE t, const void* p, size_t len) { return CK_ATTRIBUTE{t, const_cast<void*>(p), len}; };
  CK_ATTRIBUTE priv_t[] = {a(CKA_CLASS, &priv_c, sizeof priv_c), a(CKA_KEY_TYPE, &kt, sizeof kt), a(CKA_TOKEN, &yes, 1),
                           a(CKA_PRIVATE, &yes, 1), a(CKA_SIGN, &yes, 1), a(CKA_LABEL, label.data(), label.size()),
                           a(CKA_ID, id.data(), id.size()), a(CKA_EC_PARAMS, oid.data(), oid.size()),
                           a(CKA_VALUE, seed.data(), seed.size())};
  CK_ATTRIBUTE pub_t[] = {a(CKA_CLASS, &pub_c, sizeof pub_c), a(CKA_KEY_TYPE, &kt, sizeof kt), a(CKA_TOKEN, &yes, 1),
                          a(CKA_VERIFY, &yes, 1), a(CKA_LABEL, label.data(), label.size()), a(CKA_ID, id.data(), id.size()),
                          a(CKA_EC_PARAMS, oid.data(), oid.size()), a(CKA_EC_POINT, point.data(), point.size())};
  CK_OBJECT_HANDLE h;
  CHECK(f->C_CreateObject(s, priv_t, sizeof priv_t / sizeof *priv_t, &h) == CKR_OK);
  CHECK(f->C_CreateObject(s, pub_t, sizeof pub_t / sizeof *pub_t, &h) == CKR_OK);
  f->C_CloseSession(s);
  f->C_Finalize(nullptr);
  ::dlclose(lib);
}

TEST_CASE("an Ed25519 key imported into the token signs exactly as PrivateKey does (RFC 8032 vector 1)") {
  const std::string seed = *from_hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
  const std::string pub = *from_hex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
  import_ed25519("imp-ed", "\x04\x01", seed, pub);
  PrivateKey file_key = PrivateKey::from_pem(
      "-----BEGIN PRIVATE KEY-----\n" + base64_encode(*from_hex("302e020100300506032b657004220420") + seed) +
          "\n-----END PRIVATE KEY-----\n",
      nullptr, "test key");
  Pkcs11Key key = Pkcs11Key::open(Pkcs11Uri::parse(token().uri("object=imp-ed")));
  CHECK(key.public_key().der() == file_key.public_key().der());
  CHECK(to_hex(key.sign("")) == "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b");
  for (const std::string& msg : {std::string(), std::string("DSSEv1 1 a 1 b"), std::string(100000, 'm')}) CHECK(key.sign(msg) == file_key.sign(msg));
  sign_and_verify(token().uri("object=imp-ed"), KeyType::ed25519);
}

TEST_CASE("a public key object that is not the private key's: signing fails, nothing is returned") {
  auto d = token().dir;
  std::string a = (d / "a.pem").string(), b = (d / "b.pem").string(), bpub = (d / "b.pub").string();
  REQUIRE(test::sh("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out " + a +
                   " && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out " + b +
                   " && openssl pkey -in " + b + " -pubout -out " + bpub) == 0);
  token().login("--write-object " + a + " --type privkey --label mixed --id 0501");
  token().login("--write-object " + bpub + " --type pubkey --label mixed --id 0501");
  Pkcs11Key key = Pkcs11Key::open(Pkcs11Uri::parse(token().uri("object=mixed")));
  Error e = error_of([&] { key.sign("message"); });
  CHECK(e.status() == Status::io);
  CHECK(std::string(e.what()).starts_with("PKCS#11 token made a signature that its public key does not verify: "));
}

TEST_CASE("Pkcs11Key::generate makes each key type on the token (Ed25519 with the RFC 8410 OID)") {
  for (KeyType t : {KeyType::ecdsa_p256, KeyType::ecdsa_p384, KeyType::ed25519}) {
    std::string label = "made-" + std::string(key_type_name(t));
    PublicKey pub = Pkcs11Key::generate(Pkcs11Uri::parse(token().uri("object=" + label)), t);
    CHECK(pub.type() == t);
    sign_and_verify(token().uri("object=" + label), t);
    CHECK(Pkcs11Key::open(Pkcs11Uri::parse(token().uri("object=" + label))).public_key().der() == pub.der());
    // the same label again is refused
    Error e = error_of([&] { Pkcs11Key::generate(Pkcs11Uri::parse(token().uri("object=" + label)), t); });
    CHECK(e.status() == Status::usage);
  }
  std::string out = token().login("--list-objects --type pubkey");
  CHECK(out.find("06032b6570") != std::string::npos);  // the OID form
}

TEST_CASE("failures: wrong PIN, PIN in the URI, missing object, no token, PIN file readable by others") {
  Pkcs11Key::generate(Pkcs11Uri::parse(token().uri("object=fail-key")), KeyType::ecdsa_p256);
  auto d = token().dir;
  test::write(d / "wrong-pin", "not-the-pin\n");
  std::string wrong = "pkcs11:token=" + token().label + ";object=fail-key?module-path=" + test::kSoftHsm +
                      "&pin-source=" + (d / "wrong-pin").string();
  Error e = error_of([&] { Pkcs11Key::open(Pkcs11Uri::parse(wrong)); });
  CHECK(e.status() == Status::usage);
  CHECK(std::string(e.what()).starts_with("wrong PIN for PKCS#11 token (CKR_PIN_INCORRECT): pkcs11:"));
  check_one_line_without_pin(e);

  // the PIN in the URI itself works, and is never shown
  std::string inline_pin = "pkcs11:token=" + token().label + ";object=fail-key?module-path=" + test::kSoftHsm +
                           "&pin-value=" + test::kPin;
  CHECK(Pkcs11Key::open(Pkcs11Uri::parse(inline_pin)).display().find(test::kPin) == std::string::npos);
  // (while a key of the token is open the process stays logged in, and the token checks no PIN)
  e = error_of([&] { Pkcs11Key::open(Pkcs11Uri::parse(inline_pin + "x")); });
  CHECK(e.status() == Status::usage);
  CHECK(std::string(e.what()).find(test::kPin + "x") == std::string::npos);

  e = error_of([&] { Pkcs11Key::open(Pkcs11Uri::parse(token().uri("object=no-such-key"))); });
  CHECK(e.status() == Status::usage);
  CHECK(std::string(e.what()).starts_with("no private key matches on PKCS#11 token: "));
  check_one_line_without_pin(e);

  e = error_of([&] { Pkcs11Key::open(Pkcs11Uri::parse("pkcs11:token=other;object=fail-key?module-path=" + test::kSoftHsm)); });
  CHECK(e.status() == Status::usage);
  CHECK(e.hint().find(token().label) != std::string::npos);  // names the tokens present

  e = error_of([&] {
    Pkcs11Key::open(Pkcs11Uri::parse("pkcs11:token=" + token().label + ";object=fail-key?module-path=" + test::kSoftHsm));
  });
  CHECK(e.status() == Status::usage);
  CHECK(std::string(e.what()).starts_with("PKCS#11 token needs a PIN"));

  test::write(d / "open-pin", test::kPin + "\n", std::filesystem::perms(0644));
  e = error_of([&] {
    Pkcs11Key::open(Pkcs11Uri::parse("pkcs11:token=" + token().label + ";object=fail-key?module-path=" +
                                     test::kSoftHsm + "&pin-source=" + (d / "open-pin").string()));
  });
  CHECK(e.status() == Status::usage);
  CHECK(e.hint() == "chmod 600 " + (d / "open-pin").string());

  // an ambiguous URI: the token holds several private keys
  e = error_of([&] {
    Pkcs11Key::open(Pkcs11Uri::parse("pkcs11:token=" + token().label + "?module-path=" + test::kSoftHsm +
                                     "&pin-source=" + token().pin_file.string()));
  });
  CHECK(e.status() == Status::usage);
  CHECK(std::string(e.what()).starts_with("more than one private key matches"));
}

TEST_CASE("modules that cannot be loaded, and a module unloaded mid-run") {
  auto d = token().dir;
  test::write(d / "not-a-module.so", "just text\n");
  for (std::string path : {(d / "not-a-module.so").string(), (d / "absent.so").string(),
                           std::string("/usr/lib/x86_64-linux-gnu/libz.so.1")}) {
    INFO(path);
    Error e = error_of([&] { Pkcs11Key::open(Pkcs11Uri::parse("pkcs11:object=a?module-path=" + path)); });
    CHECK(e.status() == Status::io);
    CHECK(std::string(e.what()).find(path) != std::string::npos);
    CHECK(std::string(e.what()).find('\n') == std::string::npos);
  }

  Pkcs11Key::generate(Pkcs11Uri::parse(token().uri("object=gone-key")), KeyType::ed25519);
  auto key = Pkcs11Key::open(Pkcs11Uri::parse(token().uri("object=gone-key")));
  CHECK(key.sign("before").size() == 64);
  // Another part of the process finalises the module under us: the token is gone.
  void* lib = ::dlopen(test::kSoftHsm.c_str(), RTLD_NOW | RTLD_NOLOAD);
  REQUIRE(lib);
  auto get = reinterpret_cast<CK_C_GetFunctionList>(::dlsym(lib, "C_GetFunctionList"));
  CK_FUNCTION_LIST_PTR f = nullptr;
  REQUIRE(get(&f) == CKR_OK);
  REQUIRE(f->C_Finalize(nullptr) == CKR_OK);
  Error e = error_of([&] { key.sign("after"); });
  CHECK(e.status() == Status::io);
  CHECK(std::string(e.what()).find("the token was removed or its module unloaded") != std::string::npos);
  check_one_line_without_pin(e);
  ::dlclose(lib);
}

TEST_CASE("keygen --pkcs11 writes the token's public key; a wrong PIN writes nothing") {
  const std::string keygen = env("MODELSEAL_BUILD", "build") + "/tools/modelseal-keygen";
  auto d = token().dir;
  std::string out;
  int rc = test::sh(keygen + " -t p384 -o " + (d / "cli").string() + " --pkcs11 '" + token().uri("object=cli-key") + "'",
                    &out);
  INFO(out);
  REQUIRE(rc == 0);
  CHECK(out.find(test::kPin) == std::string::npos);
  PublicKey pub = PublicKey::load(d / "cli.pub");
  CHECK(pub.type() == KeyType::ecdsa_p384);
  auto key = Pkcs11Key::open(Pkcs11Uri::parse(token().uri("object=cli-key")));
  CHECK(key.public_key().der() == pub.der());

  std::string wrong = "pkcs11:token=" + token().label + ";object=cli-key2?module-path=" + test::kSoftHsm +
                      "&pin-source=" + (d / "wrong-pin").string();
  test::write(d / "wrong-pin", "not-the-pin\n");
  rc = test::sh(keygen + " -o " + (d / "cli2").string() + " --pkcs11 '" + wrong + "'", &out);
  CHECK(rc == 2);
  CHECK(out.starts_with("modelseal: wrong PIN for PKCS#11 token"));
  CHECK(!std::filesystem::exists(d / "cli2.pub"));

  rc = test::sh(keygen + " -o " + (d / "cli3").string() + " --pkcs11 'pkcs11:object=x?colour=blue'", &out);
  CHECK(rc == 2);
  CHECK(out.starts_with("modelseal: bad PKCS#11 URI: unknown or unsupported attribute \"colour\"\n"));
  CHECK(!std::filesystem::exists(d / "cli3.pub"));
}
