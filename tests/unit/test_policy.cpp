// Trust policy: parsing is strict, and decisions follow threshold, validity and scope.
#include <doctest/doctest.h>

#include "helpers.hpp"
#include "modelseal/error.hpp"
#include "modelseal/policy.hpp"
#include "modelseal/json.hpp"

using namespace modelseal;

namespace {

Status parse_status(const std::string& text) {
  try {
    Policy::parse(text, ".", "policy");
  } catch (const Error& e) {
    return e.status();
  }
  return Status::ok;
}

std::string key_entry(const PublicKey& k, const std::string& extra = "") {
  return R"({"type":")" + std::string(key_type_name(k.type())) + R"(","pem":)" + json(k.pem()).dump() + extra + "}";
}

Envelope signed_by(const std::vector<const SigningKey*>& keys) {
  Envelope env{"payload", "application/vnd.in-toto+json", {}};
  for (auto* k : keys) env.signatures.push_back({k->sign(pae(env.payload_type, env.payload)), "hint"});
  return env;
}

}  // namespace

TEST_CASE("policy parse errors are usage errors, never trust-everything") {
  PrivateKey k = PrivateKey::generate(KeyType::ed25519);
  CHECK(parse_status("") == Status::usage);
  CHECK(parse_status("{") == Status::usage);
  CHECK(parse_status("{}") == Status::usage);
  CHECK(parse_status(R"({"keys":[]})") == Status::usage);
  CHECK(parse_status(R"({"keys":[{"type":"rsa","pem":"x"}]})") == Status::usage);
  CHECK(parse_status(R"({"keys":[)" + key_entry(k.public_key()) + R"(],"threshold":2})") == Status::usage);
  CHECK(parse_status(R"({"keys":[)" + key_entry(k.public_key()) + R"(],"unknown":1})") == Status::usage);
  CHECK(parse_status(R"({"keys":[{"type":"p256","pem":)" + json(k.public_key().pem()).dump() + "}]}") == Status::usage);
  CHECK(parse_status(R"({"keys":[)" + key_entry(k.public_key(), R"(,"not_after":"tomorrow")") + "]}") == Status::usage);
  // Wrong types, repeated keys and nesting arise in the JSON helpers: they carry the status too.
  CHECK(parse_status(R"({"keys":5})") == Status::usage);
  CHECK(parse_status(R"({"keys":[5]})") == Status::usage);
  CHECK(parse_status(R"({"keys":[{"type":1,"pem":"x"}]})") == Status::usage);
  CHECK(parse_status(R"({"keys":[],"keys":[]})") == Status::usage);
  CHECK(parse_status(std::string(100, '[') + std::string(100, ']')) == Status::usage);
  CHECK(parse_status(R"({"keys":[)" + key_entry(k.public_key()) + R"(],"threshold":"1"})") == Status::usage);
  CHECK(parse_status(R"({"keys":[)" + key_entry(k.public_key(), R"(,"revoked":"yes")") + "]}") == Status::usage);
  CHECK(parse_status(R"({"keys":[)" + key_entry(k.public_key()) + "]}") == Status::ok);
}

TEST_CASE("threshold counts distinct trusted keys; the same key twice counts once") {
  PrivateKey a = PrivateKey::generate(KeyType::ed25519), b = PrivateKey::generate(KeyType::ecdsa_p256);
  PrivateKey stranger = PrivateKey::generate(KeyType::ed25519);
  Policy p = Policy::parse(R"({"threshold":2,"keys":[)" + key_entry(a.public_key()) + "," + key_entry(b.public_key()) + "]}",
                           ".", "policy");
  Digest root = sha256("model");
  CHECK(p.authorize(p.authenticate(signed_by({&a, &b}), "t"), "m", root, 0).size() == 2);
  CHECK_THROWS_AS(p.authorize(p.authenticate(signed_by({&a, &a}), "t"), "m", root, 0), Error);
  CHECK_THROWS_AS(p.authorize(p.authenticate(signed_by({&a, &stranger}), "t"), "m", root, 0), Error);
  CHECK_THROWS_AS(p.authenticate(signed_by({&stranger}), "t"), Error);
}

TEST_CASE("validity window, revocation and model scope") {
  PrivateKey a = PrivateKey::generate(KeyType::ed25519);
  auto decide = [&](const std::string& extra, std::time_t now, const std::string& model, const std::string& top = "") {
    Policy p = Policy::parse("{" + top + R"("keys":[)" + key_entry(a.public_key(), extra) + "]}", ".", "policy");
    try {
      p.authorize(p.authenticate(signed_by({&a}), "t"), model, sha256("model"), now);
      return std::string("ok");
    } catch (const Error& e) {
      return std::string(e.what());
    }
  };
  std::time_t t2026 = *parse_rfc3339("2026-06-01T00:00:00Z");
  CHECK(decide(R"(,"not_after":"2026-01-01T00:00:00Z")", t2026, "m").find("expired") != std::string::npos);
  CHECK(decide(R"(,"not_before":"2027-01-01T00:00:00Z")", t2026, "m").find("not valid before") != std::string::npos);
  CHECK(decide(R"(,"not_before":"2026-01-01T00:00:00Z","not_after":"2027-01-01T00:00:00Z")", t2026, "m") == "ok");
  CHECK(decide(R"(,"revoked":true)", t2026, "m").find("revoked") != std::string::npos);
  CHECK(decide(R"(,"models":["org/*"])", t2026, "other/m").find("may not sign") != std::string::npos);
  CHECK(decide(R"(,"models":["org/*"])", t2026, "org/bert") == "ok");
  std::string revoked = R"("revoked_digests":["sha256:)" + digest_hex(sha256("model")) + R"("],)";
  CHECK(decide("", t2026, "m", revoked).find("revoked by the policy") != std::string::npos);
}

TEST_CASE("rfc3339 and globs") {
  CHECK(parse_rfc3339("1970-01-01T00:00:00Z") == 0);
  CHECK(parse_rfc3339("1970-01-01T01:00:00+01:00") == 0);
  CHECK(parse_rfc3339("1970-01-01T00:00:00.5Z") == 0);
  CHECK_FALSE(parse_rfc3339("1970-01-01 00:00:00"));
  CHECK_FALSE(parse_rfc3339("1970-13-01T00:00:00Z"));
  CHECK(format_rfc3339(0) == "1970-01-01T00:00:00Z");
  CHECK(glob_match("org/*", "org/a/b"));
  CHECK_FALSE(glob_match("org/*", "org2/a"));
  CHECK(glob_match("bert-v?", "bert-v2"));
}
