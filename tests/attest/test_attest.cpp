// Unit tests of attestations, layouts, rules and chain verification (no subprocesses).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include "../unit/helpers.hpp"

#include <filesystem>
#include <fstream>
#include <sys/wait.h>
#include <unistd.h>

#include "modelseal/attest.hpp"
#include "modelseal/chain.hpp"
#include "modelseal/encoding.hpp"
#include "modelseal/error.hpp"
#include "modelseal/fileio.hpp"
#include "modelseal/formats.hpp"
#include "modelseal/layout.hpp"
#include "modelseal/policy.hpp"
#include "modelseal/json.hpp"
#include "modelseal/files.hpp"

using namespace modelseal;
using test::status_of;
using test::what_of;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    std::string t = (fs::temp_directory_path() / "modelseal-attest-XXXXXX").string();
    path = ::mkdtemp(t.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

void put(const fs::path& p, const std::string& data) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << data;
}

std::string slurp(const fs::path& p) { return read_file_limited(p, 1u << 26, "test"); }



Statement sample(const std::string& digest, const std::string& type = std::string(kReleaseApprovalType)) {
  Statement st;
  st.subjects = {{"bert", digest, {}}};
  st.predicate_type = type;
  st.predicate = approval_predicate("1.0.0", "alice", 1767225600, "");
  return st;
}

const std::string kDigestA(64, 'a');
const std::string kDigestB(64, 'b');

std::string key_json(const PrivateKey& k) {
  return json({{"type", key_type_name(k.type())}, {"pem", k.public_key().pem()}}).dump();
}

}  // namespace

TEST_CASE("statement round-trips and parses strictly") {
  Statement st = sample(kDigestA);
  Statement back = Statement::parse_unauthenticated(st.serialize(), "t");
  CHECK(back.to_json() == st.to_json());
  CHECK(back.has_subject(kDigestA));
  CHECK_FALSE(back.has_subject(kDigestB));
  CHECK_FALSE(back.has_subject(""));

  json j = st.to_json();
  auto bad = [&](json v) { return status_of([&] { Statement::parse_unauthenticated(v.dump(), "t"); }); };
  json t1 = j; t1["_type"] = "https://example.com/x"; CHECK(bad(t1) == Status::not_trusted);
  json t2 = j; t2["subject"] = json::array(); CHECK(bad(t2) == Status::not_trusted);
  json t3 = j; t3["subject"][0]["digest"]["sha256"] = "abc"; CHECK(bad(t3) == Status::not_trusted);
  json t4 = j; t4["predicate"] = "x"; CHECK(bad(t4) == Status::not_trusted);
  json t5 = j; t5["predicateType"] = 7; CHECK(bad(t5) == Status::not_trusted);
  json t6 = j; t6["subject"][0]["digest"]["sha512"] = 5; CHECK(bad(t6) == Status::not_trusted);
  CHECK(status_of([] { Statement::parse_unauthenticated(R"({"_type":"a","_type":"b"})", "t"); }) == Status::not_trusted);
  CHECK(status_of([] { Statement::parse_unauthenticated("{\"_type\":1" + std::string(400, '0') + "}", "t"); }) == Status::not_trusted);
  // Uppercase hex is accepted and normalised.
  json t7 = j; t7["subject"][0]["digest"]["sha256"] = std::string(64, 'A');
  CHECK(Statement::parse_unauthenticated(t7.dump(), "t").subjects[0].sha256 == kDigestA);
}

TEST_CASE("signed attestation verifies over the PAE and an edit breaks it") {
  PrivateKey k = PrivateKey::generate(KeyType::ed25519);
  PrivateKey p = PrivateKey::generate(KeyType::ecdsa_p256);
  Envelope env = sign_statement(sample(kDigestA), {&k, &p});
  REQUIRE(env.signatures.size() == 2);
  CHECK(env.payload_type == kInTotoPayloadType);
  const std::string msg = pae(env.payload_type, env.payload);
  k.public_key().verify(msg, env.signatures[0].sig);
  p.public_key().verify(msg, env.signatures[1].sig);
  std::string edited = env.payload;
  edited.replace(edited.find("alice"), 5, "mallo");
  CHECK(status_of([&] { k.public_key().verify(pae(env.payload_type, edited), env.signatures[0].sig); }) ==
        Status::not_trusted);
  CHECK(status_of([&] { sign_statement(sample(kDigestA), {&k, &k}); }) == Status::usage);
  CHECK(status_of([&] { sign_statement(sample(kDigestA), {}); }) == Status::usage);
}

TEST_CASE("append keeps every earlier line and refuses a damaged bundle") {
  TempDir d;
  PrivateKey k = PrivateKey::generate(KeyType::ed25519);
  fs::path b = d.path / "m.intoto.jsonl";
  append_attestation(b, sample(kDigestA), {&k});
  append_attestation(b, sample(kDigestB), {&k});
  std::string text = slurp(b);
  CHECK(std::count(text.begin(), text.end(), '\n') == 2);
  auto entries = load_attestations(b);
  REQUIRE(entries.size() == 2);
  CHECK(entries[1].source == b.string() + ":2");
  CHECK(Statement::parse_unauthenticated(entries[0].envelope.payload, "t").has_subject(kDigestA));
  CHECK(Statement::parse_unauthenticated(entries[1].envelope.payload, "t").has_subject(kDigestB));

  put(b, text + "{\"payload\":");   // a torn last line
  CHECK(status_of([&] { append_attestation(b, sample(kDigestA), {&k}); }) == Status::not_trusted);
  CHECK(slurp(b) == text + "{\"payload\":");   // untouched
  CHECK(what_of([&] { load_attestations(b); }).find(":3") != std::string::npos);
  // No stray temporary files.
  size_t files = 0;
  for (auto& e : fs::directory_iterator(d.path)) files += e.is_regular_file();
  CHECK(files == 1);
}

TEST_CASE("concurrent appenders never lose a line") {
  TempDir d;
  PrivateKey k = PrivateKey::generate(KeyType::ed25519);
  fs::path b = d.path / "m.intoto.jsonl";
  const int kProcs = 4, kEach = 8;
  std::vector<pid_t> kids;
  for (int i = 0; i < kProcs; ++i) {
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      int rc = 0;
      try {
        for (int n = 0; n < kEach; ++n) append_attestation(b, sample(kDigestA), {&k});
      } catch (...) {
        rc = 1;
      }
      ::_exit(rc);
    }
    kids.push_back(pid);
  }
  for (pid_t pid : kids) {
    int st = 0;
    ::waitpid(pid, &st, 0);
    CHECK((WIFEXITED(st) && WEXITSTATUS(st) == 0));
  }
  CHECK(load_attestations(b).size() == static_cast<size_t>(kProcs * kEach));
}

TEST_CASE("attestation bundles: bad input is one not_trusted error") {
  CHECK(parse_attestations("", "t").empty());
  CHECK(parse_attestations("\n\n", "t").empty());
  for (std::string bad : {std::string("garbage"), std::string("[]"), std::string("{\"payload\":\"x\"}"),
                          std::string("{\"payload\":\"eA==\",\"payloadType\":1,\"signatures\":[]}"),
                          std::string(100, '[') + std::string(100, ']'), std::string("{\"payload\":\"eA==\"")})
    CHECK(status_of([&] { parse_attestations(bad, "t"); }) == Status::not_trusted);
  std::string huge = "{\"payload\":\"" + std::string(kMaxAttestationLineBytes, 'A') + "\"}";
  CHECK(status_of([&] { parse_attestations(huge, "t"); }) == Status::not_trusted);
}

TEST_CASE("rules") {
  json st = {{"predicate", {{"result", "PASSED"}, {"metrics", {{"acc", {{"value", 0.93}}}}}, {"tags", {"a", "b"}}}}};
  auto rule = [](std::string path, Rule::Op op, json v) { return Rule{std::move(path), op, std::move(v)}; };
  CHECK_FALSE(rule("predicate.result", Rule::Op::eq, "PASSED").violation(st));
  CHECK(rule("predicate.result", Rule::Op::ne, "PASSED").violation(st));
  CHECK_FALSE(rule("predicate.metrics.acc.value", Rule::Op::ge, 0.9).violation(st));
  auto why = rule("predicate.metrics.acc.value", Rule::Op::ge, 0.95).violation(st);
  REQUIRE(why);
  CHECK(why->find("0.93") != std::string::npos);
  CHECK(why->find(">= 0.95") != std::string::npos);
  CHECK(rule("predicate.result", Rule::Op::gt, 1).violation(st)->find("not a number") != std::string::npos);
  CHECK(rule("predicate.missing", Rule::Op::eq, 1).violation(st)->find("missing") != std::string::npos);
  CHECK_FALSE(rule("predicate.tags.1", Rule::Op::eq, "b").violation(st));
  CHECK(rule("predicate.tags.2", Rule::Op::eq, "b").violation(st));
  CHECK_FALSE(rule("predicate.result", Rule::Op::in, json::array({"WARNED", "PASSED"})).violation(st));
  CHECK(rule("predicate.result", Rule::Op::in, json::array({"WARNED"})).violation(st));
  CHECK_FALSE(rule("predicate.metrics.acc.value", Rule::Op::lt, 1).violation(st));
}

TEST_CASE("predicates") {
  std::vector<Metric> ms = {{"accuracy", 0.93, 0.9, true}, {"loss", 0.3, 0.2, false}, {"f1", 0.5, std::nullopt, true}};
  CHECK(metrics_result(ms) == "FAILED");
  json p = test_result_predicate(metrics_result(ms), ms, "");
  CHECK(p["passedTests"] == json::array({"accuracy"}));
  CHECK(p["failedTests"] == json::array({"loss"}));
  CHECK(p["metrics"]["loss"]["comparison"] == "<=");
  CHECK_FALSE(p["metrics"]["f1"].contains("threshold"));
  CHECK(status_of([] { test_result_predicate("GOOD", {}, ""); }) == Status::usage);
  CHECK(parse_metric_arg("acc=0.5").second == 0.5);
  CHECK(parse_threshold_arg("loss<=0.25").higher_is_better == false);
  for (const char* bad : {"acc", "=1", "acc=x", "acc=1e999", "a c=1"})
    CHECK(status_of([&] { parse_metric_arg(bad); }) == Status::usage);
  CHECK(status_of([] { parse_threshold_arg("acc=1"); }) == Status::usage);

  Provenance prov;
  prov.build_type = "https://example.com/train/v1";
  prov.builder_id = "https://ci.example.com";
  prov.started = 100;
  prov.finished = 200;
  prov.dependencies = {{{"wiki", kDigestA, {}}, "dataset"}};
  json pj = provenance_predicate(prov);
  CHECK(pj["buildDefinition"]["resolvedDependencies"][0]["annotations"]["modelseal.role"] == "dataset");
  CHECK(pj["runDetails"]["metadata"]["finishedOn"] == "1970-01-01T00:03:20Z");
  prov.finished = 50;
  CHECK(status_of([&] { provenance_predicate(prov); }) == Status::usage);
  CHECK(scan_predicate("safe", "0.1.0", 0)["verdict"] == "safe");
  CHECK(status_of([] { scan_predicate("fine", "0.1.0", 0); }) == Status::usage);
}

TEST_CASE("subjects are OMS root digests; files are plain sha256") {
  TempDir d;
  put(d.path / "m" / "w.bin", "weights");
  put(d.path / "m" / "config.json", "{}");
  put(d.path / "f.txt", "hello");
  Subject s = model_subject(d.path / "m");
  CHECK(s.name == "m");
  CHECK(s.sha256 == digest_hex(manifest_for(d.path / "m", {}).root()));
  CHECK(model_subject((d.path / "m").string() + "/").name == "m");
  Subject f = file_subject(d.path / "f.txt");
  CHECK(f.sha256 == digest_hex(sha256("hello")));
  CHECK(default_attestations_path(d.path / "m" / "").filename() == "m.intoto.jsonl");
  // The model's own signature and attestation bundle do not change its digest.
  put(d.path / "m" / "model.sig", "x");
  CHECK(model_subject(d.path / "m").sha256 == s.sha256);
}

// A layout with one owner, one step each of model and dependency linkage.
struct Fixture {
  TempDir dir;
  PrivateKey owner = PrivateKey::generate(KeyType::ed25519);
  PrivateKey trainer = PrivateKey::generate(KeyType::ed25519);
  PrivateKey data = PrivateKey::generate(KeyType::ecdsa_p256);
  PrivateKey alice = PrivateKey::generate(KeyType::ed25519);
  PrivateKey bob = PrivateKey::generate(KeyType::ed25519);
  fs::path model = dir.path / "bert";
  fs::path dataset = dir.path / "wiki";
  fs::path bundle = dir.path / "bert.intoto.jsonl";
  fs::path layout_path = dir.path / "layout.dsse.json";
  json layout;

  Fixture() {
    put(model / "w.bin", "weights");
    put(dataset / "part-0.txt", "text");
    layout = json::parse(R"({"_type":"https://modelseal.dev/layout/v1","expires":"2999-01-01T00:00:00Z",
      "owners":{"keys":["owner"]},
      "steps":[
        {"name":"training","predicateType":"https://slsa.dev/provenance/v1","keys":["trainer"],"subject":"model"},
        {"name":"dataset","predicateType":"https://example.org/dataset/v1","keys":["data"],
         "subject":{"dependenciesOf":"training","role":"dataset"}},
        {"name":"approval","predicateType":"https://modelseal.dev/release-approval/v1","keys":["alice","bob"],
         "threshold":2,"subject":"model","rules":[{"path":"predicate.version","op":"==","value":"1.0.0"}]}]})");
    for (auto [name, key] : {std::pair{"owner", &owner}, {"trainer", &trainer}, {"data", &data}, {"alice", &alice},
                             {"bob", &bob}})
      layout["keys"][name] = json::parse(key_json(*key));
    sign_layout_as(owner);
  }
  void sign_layout_as(const PrivateKey& k) {
    write_file_atomic(layout_path, sign_layout(layout.dump(), {&k}).to_json().dump());
  }
  void attest(const Statement& st, const PrivateKey& k) { append_attestation(bundle, st, {&k}); }
  void build_chain() {
    Subject m = model_subject(model), ds = model_subject(dataset);
    Provenance p{"https://example.com/train", json::object(), {{ds, "dataset"}}, "https://ci", 1, 2, ""};
    attest({{m}, std::string(kSlsaProvenanceType), provenance_predicate(p)}, trainer);
    attest({{ds}, "https://example.org/dataset/v1", {{"license", "cc-by"}}}, data);
    attest({{m}, std::string(kReleaseApprovalType), approval_predicate("1.0.0", "alice", 3, "")}, alice);
    attest({{m}, std::string(kReleaseApprovalType), approval_predicate("1.0.0", "bob", 3, "")}, bob);
  }
  ChainReport verify(std::time_t now = 0) {
    ChainInputs in{model, layout_path, {owner.public_key()}, {bundle}, {}, {}, now};
    ChainReport r;
    verify_chain(in, r);
    return r;
  }
  std::string failure(std::time_t now = 0) { return what_of([&] { verify(now); }); }
};

TEST_CASE("a complete chain verifies") {
  Fixture f;
  f.build_chain();
  ChainReport r = f.verify();
  CHECK(r.status == Status::ok);
  REQUIRE(r.steps.size() == 3);
  CHECK(r.steps[1].subject_name == "wiki");
  CHECK(r.steps[2].signers.size() == 2);
  CHECK(r.ignored.empty());
  CHECK(r.layout_signers == std::vector<std::string>{"owner"});
}

TEST_CASE("chain failures name the step") {
  SUBCASE("missing dataset attestation") {
    Fixture f;
    Subject m = model_subject(f.model), ds = model_subject(f.dataset);
    Provenance p{"t", json::object(), {{ds, "dataset"}}, "b", 1, 2, ""};
    f.attest({{m}, std::string(kSlsaProvenanceType), provenance_predicate(p)}, f.trainer);
    CHECK(f.failure().find("step dataset") != std::string::npos);
  }
  SUBCASE("one key approving twice") {
    Fixture f;
    f.build_chain();
    // Rebuild without bob: alice approves twice.
    fs::remove(f.bundle);
    Subject m = model_subject(f.model), ds = model_subject(f.dataset);
    Provenance p{"t", json::object(), {{ds, "dataset"}}, "b", 1, 2, ""};
    f.attest({{m}, std::string(kSlsaProvenanceType), provenance_predicate(p)}, f.trainer);
    f.attest({{ds}, "https://example.org/dataset/v1", json::object()}, f.data);
    f.attest({{m}, std::string(kReleaseApprovalType), approval_predicate("1.0.0", "alice", 3, "")}, f.alice);
    f.attest({{m}, std::string(kReleaseApprovalType), approval_predicate("1.0.0", "alice", 4, "")}, f.alice);
    std::string why = f.failure();
    CHECK(why.find("step approval") != std::string::npos);
    CHECK(why.find("threshold is 2") != std::string::npos);
  }
  SUBCASE("expired layout, with one clock reading given") {
    Fixture f;
    f.build_chain();
    CHECK(f.failure(*parse_rfc3339("2999-01-01T00:00:00Z")).find("expired") != std::string::npos);
    CHECK(f.verify(*parse_rfc3339("2998-12-31T23:59:59Z")).status == Status::ok);
  }
  SUBCASE("layout signed by a non-owner, even one the verifier trusts") {
    Fixture f;
    f.build_chain();
    f.sign_layout_as(f.trainer);
    CHECK(f.failure().find("not signed by a trusted layout key") != std::string::npos);
    ChainInputs in{f.model, f.layout_path, {f.trainer.public_key()}, {f.bundle}, {}, {}, 0};
    ChainReport r;
    CHECK(what_of([&] { verify_chain(in, r); }).find("owners") != std::string::npos);
    CHECK_FALSE(r.layout_ok);
  }
  SUBCASE("model changed on disk") {
    Fixture f;
    f.build_chain();
    put(f.model / "w.bin", "weightz");
    std::string why = f.failure();
    CHECK(why.find("step training") != std::string::npos);
    CHECK(why.find("about other artifacts") != std::string::npos);
  }
  SUBCASE("a file renamed, or moved into a folder: same contents in the same order") {
    // The OMS root digest covers contents only; the manifest digest in the subject binds names.
    Fixture f;
    put(f.model / "x.bin", "more");
    f.build_chain();
    REQUIRE(f.verify().status == Status::ok);
    const std::string root = model_subject(f.model).sha256;
    fs::rename(f.model / "x.bin", f.model / "y.bin");
    REQUIRE(model_subject(f.model).sha256 == root);
    std::string why = f.failure();
    CHECK(why.find("step training") != std::string::npos);
    CHECK(why.find("renamed or moved") != std::string::npos);
    fs::create_directories(f.model / "x");
    fs::rename(f.model / "y.bin", f.model / "x" / "x.bin");   // sorts after w.bin, as x.bin did
    REQUIRE(model_subject(f.model).sha256 == root);
    CHECK(f.failure().find("renamed or moved") != std::string::npos);
    fs::rename(f.model / "x" / "x.bin", f.model / "x.bin");
    CHECK(f.verify().status == Status::ok);
  }
  SUBCASE("an attestation of the model's root digest that does not bind its names") {
    Fixture f;
    f.build_chain();
    fs::remove(f.bundle);
    Subject m = model_subject(f.model), ds = model_subject(f.dataset);
    m.manifest_sha256.clear();
    Provenance p{"t", json::object(), {{ds, "dataset"}}, "b", 1, 2, ""};
    f.attest({{m}, std::string(kSlsaProvenanceType), provenance_predicate(p)}, f.trainer);
    std::string why = f.failure();
    CHECK(why.find("step training") != std::string::npos);
    CHECK(why.find("does not bind the model's file names") != std::string::npos);
  }
}

TEST_CASE("layout parser rejects what it does not understand") {
  Fixture f;
  auto bad = [&](const std::function<void(json&)>& edit) {
    json l = f.layout;
    edit(l);
    return what_of([&] { Layout::parse_unauthenticated(l.dump(), "l"); });
  };
  CHECK(bad([](json&) {}).empty());
  CHECK(bad([](json& l) { l["stpes"] = 1; }).find("unknown field") != std::string::npos);
  CHECK(bad([](json& l) { l["steps"][2]["threshold"] = 3; }).find("threshold") != std::string::npos);
  CHECK(bad([](json& l) { l["steps"][2]["threshold"] = 0; }).find("threshold") != std::string::npos);
  CHECK(bad([](json& l) { l["steps"][0]["keys"] = {"nobody"}; }).find("unknown key") != std::string::npos);
  CHECK(bad([](json& l) { l["keys"]["bob2"] = l["keys"]["bob"]; }).find("same key") != std::string::npos);
  CHECK(bad([](json& l) { l["keys"]["bob"]["type"] = "p256"; }).find("not p256") != std::string::npos);
  CHECK(bad([](json& l) { l["keys"]["bob"]["pem"] = "junk"; }).size() > 0);
  CHECK(bad([](json& l) { l["steps"][1]["subject"]["dependenciesOf"] = "approval"; }).find("earlier") !=
        std::string::npos);
  CHECK(bad([](json& l) { l["steps"][2]["rules"][0]["op"] = "~="; }).find("operator") != std::string::npos);
  CHECK(bad([](json& l) { l["steps"][2]["rules"][0]["op"] = ">="; }).find("number") != std::string::npos);
  CHECK(bad([](json& l) { l["expires"] = "tomorrow"; }).find("RFC 3339") != std::string::npos);
  CHECK(bad([](json& l) { l["steps"].push_back(l["steps"][0]); }).find("twice") != std::string::npos);
  CHECK(bad([](json& l) { l["steps"] = json::array(); }).size() > 0);
  CHECK(bad([](json& l) { l["owners"]["keys"] = json::array(); }).size() > 0);
  json huge = f.layout;
  huge["owners"]["threshold"] = 1;
  std::string text = huge.dump();
  text.replace(text.find("\"threshold\":1"), 13, "\"threshold\":1" + std::string(400, '0'));
  CHECK(what_of([&] { Layout::parse_unauthenticated(text, "l"); }).find("invalid json") != std::string::npos);
  for (std::string junk : {std::string(""), std::string("null"), std::string("{"), std::string(200, '['),
                           std::string(kMaxLayoutBytes + 1, ' ')})
    CHECK(status_of([&] { Layout::parse_unauthenticated(junk, "l"); }) == Status::not_trusted);
}
