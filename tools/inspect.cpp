// modelseal inspect: show what a signature claims, without verifying anything.
#include <cstdio>

#include "common.hpp"
#include "modelseal/bundle.hpp"
#include "modelseal/encoding.hpp"
#include "modelseal/json.hpp"
#include "modelseal/sigstore.hpp"

using namespace modelseal;

namespace {
constexpr const char* kWarning = "UNVERIFIED: nothing here has been checked against a trusted key";

// Every string shown comes from the unverified bundle: control characters are escaped.
std::string str(const json& j, const char* key) {
  auto it = j.is_object() ? j.find(key) : j.end();
  return it != j.end() && it->is_string() ? printable(it->get<std::string>()) : std::string("(missing)");
}
}  // namespace

int main(int argc, char** argv) {
  tool::App app{"Show what a signature bundle claims. Nothing is verified: use 'modelseal verify' for that.",
                "modelseal inspect"};
  std::string sig;
  bool as_json = false, quiet = false;
  app.add_option("SIG", sig, "Signature bundle (model.sig)")->required();
  app.add_flag("--json", as_json, "Print a JSON report (schemas/inspect-report.schema.json)");
  tool::add_common(app, quiet);
  app.footer("Example:\n  $ modelseal inspect ./bert/model.sig");
  return tool::run(app, argc, argv, [&] {
    Bundle b = Bundle::load(sig);
    json statement;
    std::string statement_error;
    try {
      statement = parse_json_strict(b.envelope.payload, "statement");
    } catch (const Error& e) {
      statement_error = e.what();
    }
    const json material = describe_material(b.material);
    if (as_json) {
      json sigs = json::array();
      for (const auto& s : b.envelope.signatures) sigs.push_back({{"keyid", s.keyid}, {"bytes", s.sig.size()}});
      json out = {{"verified", false},
                  {"warning", kWarning},
                  {"media_type", b.media_type},
                  {"payload_type", b.envelope.payload_type},
                  {"key_hint", b.key_hint},
                  {"signatures", sigs},
                  {"verification_material", material},
                  {"statement", statement_error.empty() ? statement : json()}};
      if (!statement_error.empty()) out["statement_error"] = statement_error;
      std::printf("%s\n", out.dump(2).c_str());
      return 0;
    }
    std::printf("%s\n", kWarning);
    std::printf("bundle:        %s\n", printable(b.media_type).c_str());
    std::printf("payload type:  %s\n", printable(b.envelope.payload_type).c_str());
    std::printf("key hint:      %s\n", b.key_hint.empty() ? "(none)" : printable(b.key_hint).c_str());
    for (const auto& s : b.envelope.signatures)
      std::printf("signature:     %zu bytes, keyid %s\n", s.sig.size(),
                  s.keyid.empty() ? "(none)" : printable(s.keyid).c_str());
    std::printf("method:        %s\n", material["method"].get<std::string>().c_str());
    if (material.contains("certificate")) {
      const json& c = material["certificate"];
      std::string ids;
      for (const auto& i : c["identities"]) ids += (ids.empty() ? "" : ", ") + i.get<std::string>();
      std::printf("identity:      %s\n", ids.empty() ? "(none)" : ids.c_str());
      if (c.contains("oidc_issuer")) std::printf("oidc issuer:   %s\n", c["oidc_issuer"].get<std::string>().c_str());
      std::printf("subject:       %s\n", c["subject"].get<std::string>().c_str());
      std::printf("issued by:     %s\n", c["issuer"].get<std::string>().c_str());
      std::printf("valid:         %s to %s (%zu certificates in the chain)\n", c["not_before"].get<std::string>().c_str(),
                  c["not_after"].get<std::string>().c_str(), material["chain_length"].get<size_t>());
    } else if (material.contains("certificate_error")) {
      std::printf("certificate:   unreadable (%s)\n", material["certificate_error"].get<std::string>().c_str());
    }
    for (const auto& e : material["tlog_entries"])
      std::printf("tlog entry:    log index %lld, integrated %s\n", static_cast<long long>(e["log_index"].get<int64_t>()),
                  e["integrated_time"].get<std::string>().c_str());
    if (material["rfc3161_timestamps"].get<size_t>() > 0)
      std::printf("timestamps:    %zu RFC 3161\n", material["rfc3161_timestamps"].get<size_t>());
    if (!statement_error.empty()) {
      std::printf("statement:     unreadable (%s)\n", statement_error.c_str());
      return 0;
    }
    std::printf("statement:     %s\n", str(statement, "_type").c_str());
    std::printf("predicate:     %s\n", str(statement, "predicateType").c_str());
    const json& subj = statement.value("subject", json::array());
    if (subj.is_array() && !subj.empty()) {
      std::printf("model name:    %s\n", str(subj[0], "name").c_str());
      std::printf("root digest:   sha256:%s\n", str(subj[0].value("digest", json::object()), "sha256").c_str());
    }
    const json pred = statement.value("predicate", json::object());
    if (pred.is_object() && pred.contains("serialization"))
      std::printf("serialization: %s\n", pred["serialization"].dump().c_str());  // dump() escapes
    const json res = pred.is_object() ? pred.value("resources", json::array()) : json::array();
    if (res.is_array()) {
      std::printf("resources:     %zu\n", res.size());
      for (const auto& r : res) std::printf("  %s:%s  %s\n", str(r, "algorithm").c_str(), str(r, "digest").c_str(), str(r, "name").c_str());
    }
    return 0;
  });
}
