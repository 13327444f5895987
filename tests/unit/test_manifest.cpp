// Manifest, statement, bundle and JSON parsing.
#include <doctest/doctest.h>

#include "helpers.hpp"
#include "modelseal/bundle.hpp"
#include "modelseal/dsse.hpp"
#include "modelseal/error.hpp"
#include "modelseal/manifest.hpp"
#include "modelseal/sign.hpp"
#include "modelseal/json.hpp"

using namespace modelseal;
using test::status_of;
using test::what_of;

namespace {


Manifest sample() {
  Manifest m;
  m.model_name = "m";
  m.serialization.ignore_paths = {".git", "model.sig"};
  m.resources = {{"a", "sha256", sha256("a")}, {"d/b", "sha256", sha256("b")}};
  return m;
}

}  // namespace

TEST_CASE("PAE is DSSEv1 with decimal byte lengths") {
  CHECK(pae("t", "") == "DSSEv1 1 t 0 ");
  CHECK(pae("application/vnd.in-toto+json", "{}") == "DSSEv1 28 application/vnd.in-toto+json 2 {}");
  CHECK(pae("x", std::string("\0\xff", 2)) == std::string("DSSEv1 1 x 2 \0\xff", 15));
}

TEST_CASE("root digest is sha256 over the raw digests in listed order") {
  Manifest m = sample();
  Sha256 h;
  h.update(m.resources[0].digest.data(), 32);
  h.update(m.resources[1].digest.data(), 32);
  CHECK(m.root() == h.finish());
  std::swap(m.resources[0], m.resources[1]);
  CHECK(m.root() != sample().root());
}

TEST_CASE("statement round-trips and is checked") {
  Manifest m = sample();
  Manifest back = Manifest::parse_unauthenticated(m.statement());
  CHECK(back.root() == m.root());
  CHECK(back.model_name == "m");
  CHECK(back.resources.size() == 2);
  CHECK(back.serialization.ignore_paths == m.serialization.ignore_paths);

  json st = json::parse(m.statement());
  auto bad = [&](const std::function<void(json&)>& edit) {
    json j = st;
    edit(j);
    return status_of([&] { Manifest::parse_unauthenticated(j.dump()); });
  };
  CHECK(bad([](json& j) { j["_type"] = "https://in-toto.io/Statement/v2"; }) == Status::not_trusted);
  CHECK(bad([](json& j) { j["predicateType"] = "x"; }) == Status::not_trusted);
  CHECK(bad([](json& j) { j["subject"][0]["digest"]["sha256"] = std::string(64, '0'); }) == Status::not_trusted);
  CHECK(bad([](json& j) { j["predicate"]["serialization"]["hash_type"] = "md5"; }) == Status::not_trusted);
  CHECK(bad([](json& j) { j["predicate"]["resources"][0]["digest"] = "zz"; }) == Status::not_trusted);
  CHECK(bad([](json& j) { j["predicate"]["resources"] = "nope"; }) == Status::not_trusted);
  CHECK(bad([](json& j) { j.erase("subject"); }) == Status::not_trusted);
  // Paths that would escape the model or alias another entry.
  for (const char* name : {"../x", "/etc/passwd", "a//b", "./a", "a/", "", "a\nb"}) {
    Manifest evil = sample();
    evil.resources[1].name = name;
    CHECK_MESSAGE(status_of([&] { Manifest::parse_unauthenticated(evil.statement()); }) == Status::not_trusted, name);
  }
  Manifest nul = sample();
  nul.resources[1].name = std::string("a\0b", 3);
  CHECK(status_of([&] { Manifest::parse_unauthenticated(nul.statement()); }) == Status::not_trusted);
  Manifest dup = sample();
  dup.resources[1].name = "a";
  CHECK(status_of([&] { Manifest::parse_unauthenticated(dup.statement()); }) == Status::not_trusted);
}

TEST_CASE("legacy model_signing v0.x statements (Digests/v0.1: one subject per file) are read") {
  json st = {{"_type", "https://in-toto.io/Statement/v1"},
             {"predicateType", "https://model_signing/Digests/v0.1"},
             {"subject", json::array({{{"name", "a.bin"}, {"digest", {{"sha256", digest_hex(sha256("a"))}}}},
                                      {{"name", "d/b.bin"}, {"digest", {{"sha256", digest_hex(sha256("b"))}}}}})},
             {"predicate", json::object()}};
  Manifest m = Manifest::parse_unauthenticated(st.dump());
  CHECK(m.legacy);
  REQUIRE(m.resources.size() == 2);
  CHECK(m.resources[1].name == "d/b.bin");
  CHECK(m.resources[1].digest == sha256("b"));
  st["subject"][1]["name"] = "../b.bin";
  CHECK(status_of([&] { Manifest::parse_unauthenticated(st.dump()); }) == Status::not_trusted);
}

TEST_CASE("resources sort by path components, as the reference sorts PurePosixPath") {
  CHECK(name_less("a/b", "a-b"));   // 'a' < 'a-b' as components; '/' > '-' as bytes
  CHECK(name_less("a", "a/b"));
  CHECK(name_less("A", "a"));
  CHECK(name_less("z", "\xc3\xa9"));  // code point order
  CHECK_FALSE(name_less("a", "a"));
}

TEST_CASE("shard names") {
  auto s = parse_shard_name("dir/x:y.bin:10:20");
  REQUIRE(s);
  CHECK(s->path == "dir/x:y.bin");
  CHECK(s->start == 10);
  CHECK(s->end == 20);
  CHECK_FALSE(parse_shard_name("x:20:10"));
  CHECK_FALSE(parse_shard_name("x:1"));
  CHECK_FALSE(parse_shard_name("x:01:2"));
  CHECK_FALSE(parse_shard_name("x:-1:2"));
  CHECK(shard_ranges(0, 4) == std::vector<std::pair<uint64_t, uint64_t>>{{0, 0}});
  CHECK(shard_ranges(9, 4) == std::vector<std::pair<uint64_t, uint64_t>>{{0, 4}, {4, 8}, {8, 9}});
}

TEST_CASE("strict JSON: depth, repeated keys, garbage") {
  CHECK(status_of([] { parse_json_strict(std::string(100000, '[') + std::string(100000, ']'), "x"); }) ==
        Status::not_trusted);
  CHECK(status_of([] { parse_json_strict(R"({"a":1,"a":2})", "x"); }) == Status::not_trusted);
  CHECK(status_of([] { parse_json_strict(R"({"a":{"b":1},"b":{"b":2}})", "x"); }) == Status::ok);
  CHECK(status_of([] { parse_json_strict("{\"a\":", "x"); }) == Status::not_trusted);
  CHECK(status_of([] { parse_json_strict("\xff\xfe", "x"); }) == Status::not_trusted);
}

TEST_CASE("bundles: structure is checked before anything else") {
  Bundle b;
  b.envelope.payload = "p";
  b.envelope.payload_type = "t";
  b.envelope.signatures = {{"sig", "k"}};
  Bundle back = Bundle::parse(b.serialize(), "b");
  CHECK(back.envelope.payload == "p");
  CHECK(back.envelope.signatures[0].sig == "sig");
  for (const char* bad : {"", "   ", "null", "[]", "{}", R"({"mediaType":"x"})",
                          R"({"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"})",
                          R"({"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","dsseEnvelope":{"payload":"!!","payloadType":"t","signatures":[{"sig":"AA=="}]}})",
                          R"({"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","dsseEnvelope":{"payload":"","payloadType":"t","signatures":[]}})"})
    CHECK_MESSAGE(status_of([&] { Bundle::parse(bad, "b"); }) == Status::not_trusted, bad);
}
