// ECDSA through the library: NIST CAVP SigVer vectors (FIPS 186-3, from Debian's
// python3-cryptography-vectors) for P-256/SHA-256 and P-384/SHA-384, and key identity: one key
// in another encoding is the same key.
#include <doctest/doctest.h>

#include <fstream>
#include <map>
#include <sstream>

#include "helpers.hpp"
#include "modelseal/encoding.hpp"
#include "modelseal/keys.hpp"

using namespace modelseal;
using test::status_of;

namespace {

// SubjectPublicKeyInfo prefixes (id-ecPublicKey, named curve, BIT STRING) before the point.
const std::map<std::string, std::pair<std::string, std::string>> kSpki = {
    {"P-256", {"3059301306072a8648ce3d020106082a8648ce3d030107034200", "3039301306072a8648ce3d020106082a8648ce3d030107032200"}},
    {"P-384", {"3076301006072a8648ce3d020106052b81040022036200", "3046301006072a8648ce3d020106052b81040022033200"}},
};

std::string pem_of(const std::string& der) {
  return "-----BEGIN PUBLIC KEY-----\n" + base64_encode(der) + "\n-----END PUBLIC KEY-----\n";
}

std::string der_int(std::string v) {
  while (v.size() > 1 && v[0] == 0 && !(static_cast<unsigned char>(v[1]) & 0x80)) v.erase(0, 1);
  if (static_cast<unsigned char>(v[0]) & 0x80) v.insert(v.begin(), '\0');
  return std::string("\x02", 1) + static_cast<char>(v.size()) + v;
}

std::string der_sig(const std::string& r, const std::string& s) {
  std::string body = der_int(r) + der_int(s);
  return std::string("\x30", 1) + static_cast<char>(body.size()) + body;
}

struct Case {
  std::string msg, qx, qy, r, s;
  bool pass = false;
};

std::vector<Case> sigver(const std::string& section) {
  std::ifstream in(test::vectors_dir() / "asymmetric/ECDSA/FIPS_186-3/SigVer.rsp");
  std::vector<Case> out;
  std::string line;
  bool inside = false;
  Case c;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.starts_with("[")) inside = line == "[" + section + "]";
    if (!inside) continue;
    auto eq = line.find(" = ");
    if (eq == std::string::npos) continue;
    std::string k = line.substr(0, eq), v = line.substr(eq + 3);
    if (k == "Msg") c.msg = test::unhex(v);
    else if (k == "Qx") c.qx = test::unhex(v);
    else if (k == "Qy") c.qy = test::unhex(v);
    else if (k == "R") c.r = test::unhex(v);
    else if (k == "S") c.s = test::unhex(v);
    else if (k == "Result") {
      c.pass = v.starts_with("P");
      out.push_back(c);
      c = {};
    }
  }
  return out;
}

}  // namespace

TEST_CASE("NIST SigVer: P-256/SHA-256 and P-384/SHA-384 through PublicKey::verify") {
  for (const auto& pair : {std::pair{"P-256,SHA-256", "P-256"}, std::pair{"P-384,SHA-384", "P-384"}}) {
    const char* section = pair.first;  // named, not a structured binding: the CHECK macros capture it
    const char* curve = pair.second;
    auto cases = sigver(section);
    REQUIRE_MESSAGE(cases.size() == 15, section);
    size_t passed = 0, agreed = 0;
    for (const Case& c : cases) {
      bool ok = false;
      try {
        PublicKey k = PublicKey::from_pem(pem_of(test::unhex(kSpki.at(curve).first) + "\x04" + c.qx + c.qy), "nist");
        k.verify(c.msg, der_sig(c.r, c.s));
        ok = true;
      } catch (const Error&) {
      }
      agreed += ok == c.pass;
      passed += c.pass;
    }
    CHECK_MESSAGE(agreed == cases.size(), section);
    CHECK(passed > 0);
  }
}

TEST_CASE("a compressed EC point is the same key: same DER, same key id") {
  for (const auto& pair : {std::pair{"P-256,SHA-256", "P-256"}, std::pair{"P-384,SHA-384", "P-384"}}) {
    const char* section = pair.first;  // named, not a structured binding: the CHECK macros capture it
    const char* curve = pair.second;
    for (const Case& c : sigver(section)) {
      if (!c.pass) continue;
      PublicKey full = PublicKey::from_pem(pem_of(test::unhex(kSpki.at(curve).first) + "\x04" + c.qx + c.qy), "full");
      const char parity = (static_cast<unsigned char>(c.qy.back()) & 1) ? '\x03' : '\x02';
      PublicKey packed = PublicKey::from_pem(pem_of(test::unhex(kSpki.at(curve).second) + parity + c.qx), "packed");
      CHECK(packed.keyid() == full.keyid());
      CHECK(packed.der() == full.der());
      CHECK(packed.pem() == full.pem());
      CHECK_NOTHROW(packed.verify(c.msg, der_sig(c.r, c.s)));
      // The wrong parity is another point (or none): never the same key.
      const char other = parity == '\x02' ? '\x03' : '\x02';
      std::string wrong = pem_of(test::unhex(kSpki.at(curve).second) + other + c.qx);
      CHECK((status_of([&] { PublicKey::from_pem(wrong, "wrong"); }) != Status::ok ||
             PublicKey::from_pem(wrong, "wrong").keyid() != full.keyid()));
    }
  }
}
