// The built-in predicates: SLSA provenance v1, in-toto test-result v0.1, release approval.
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "modelseal/attest.hpp"
#include "modelseal/error.hpp"
#include "modelseal/policy.hpp"
#include "modelseal/json.hpp"

namespace modelseal {

json provenance_predicate(const Provenance& p) {
  if (p.build_type.empty()) throw usage_error("provenance needs a build type", "use --build-type URI");
  if (p.builder_id.empty()) throw usage_error("provenance needs a builder id", "use --builder-id URI");
  if (!p.external_parameters.is_object()) throw usage_error("external parameters must be a JSON object");
  if (p.finished < p.started) throw usage_error("the build finished before it started");
  json deps = json::array();
  for (const Dependency& d : p.dependencies) {
    json rd = {{"name", d.subject.name}, {"digest", {{"sha256", d.subject.sha256}}}};
    if (!d.role.empty()) rd["annotations"] = {{std::string(kRoleAnnotation), d.role}};
    deps.push_back(std::move(rd));
  }
  json metadata = {{"startedOn", format_rfc3339(p.started)}, {"finishedOn", format_rfc3339(p.finished)}};
  if (!p.invocation_id.empty()) metadata["invocationId"] = p.invocation_id;
  return {{"buildDefinition",
           {{"buildType", p.build_type}, {"externalParameters", p.external_parameters}, {"resolvedDependencies", deps}}},
          {"runDetails", {{"builder", {{"id", p.builder_id}}}, {"metadata", metadata}}}};
}

bool Metric::passed() const {
  if (!threshold) return true;
  return higher_is_better ? value >= *threshold : value <= *threshold;
}

static double parse_number(std::string_view text, std::string_view arg) {
  std::string s(text);
  char* end = nullptr;
  errno = 0;
  double v = s.empty() ? 0 : std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size() || errno != 0 || !std::isfinite(v))
    throw usage_error("not a number in \"" + std::string(arg) + "\"");
  return v;
}

static void check_metric_name(std::string_view name, std::string_view arg) {
  bool ok = !name.empty() && name.size() <= 128 && std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
  if (!ok)
    throw usage_error("bad metric name in \"" + std::string(arg) + "\"", "metric names use letters, digits, '_' and '-'");
}

std::pair<std::string, double> parse_metric_arg(std::string_view arg) {
  size_t eq = arg.find('=');
  if (eq == std::string_view::npos) throw usage_error("expected NAME=VALUE, got \"" + std::string(arg) + "\"");
  std::string_view name = arg.substr(0, eq);
  check_metric_name(name, arg);
  return {std::string(name), parse_number(arg.substr(eq + 1), arg)};
}

ThresholdArg parse_threshold_arg(std::string_view arg) {
  for (std::string_view op : {">=", "<="}) {
    size_t at = arg.find(op);
    if (at == std::string_view::npos) continue;
    std::string_view name = arg.substr(0, at);
    check_metric_name(name, arg);
    return {std::string(name), parse_number(arg.substr(at + 2), arg), op == ">="};
  }
  throw usage_error("expected NAME>=VALUE or NAME<=VALUE, got \"" + std::string(arg) + "\"");
}

std::string metrics_result(const std::vector<Metric>& metrics) {
  return std::all_of(metrics.begin(), metrics.end(), [](const Metric& m) { return m.passed(); }) ? "PASSED"
                                                                                                 : "FAILED";
}

json test_result_predicate(const std::string& result, const std::vector<Metric>& metrics, const std::string& url) {
  if (result != "PASSED" && result != "WARNED" && result != "FAILED")
    throw usage_error("result must be PASSED, WARNED or FAILED, not \"" + result + "\"");
  json passed = json::array(), failed = json::array(), table = json::object();
  for (const Metric& m : metrics) {
    if (table.contains(m.name)) throw usage_error("metric " + m.name + " given twice");
    json entry = {{"value", m.value}};
    if (m.threshold) {
      entry["threshold"] = *m.threshold;
      entry["comparison"] = m.higher_is_better ? ">=" : "<=";
      (m.passed() ? passed : failed).push_back(m.name);
    }
    table[m.name] = std::move(entry);
  }
  json p = {{"result", result}, {"configuration", json::array()}, {"passedTests", passed},
            {"warnedTests", json::array()}, {"failedTests", failed}, {"metrics", table}};
  if (!url.empty()) p["url"] = url;
  return p;
}

json approval_predicate(const std::string& version, const std::string& approver, std::time_t when,
                        const std::string& comment) {
  if (version.empty()) throw usage_error("an approval needs the version it approves");
  if (approver.empty()) throw usage_error("an approval needs an approver", "use --approver NAME");
  json p = {{"version", version}, {"approver", approver}, {"approvedOn", format_rfc3339(when)}};
  if (!comment.empty()) p["comment"] = comment;
  return p;
}

json scan_predicate(const std::string& verdict, const std::string& scanner_version, std::time_t when,
                    const json& report) {
  if (verdict != "safe" && verdict != "unsafe" && verdict != "unknown")
    throw usage_error("scan verdict must be safe, unsafe or unknown, not \"" + verdict + "\"");
  json p = {{"scanner", {{"name", "modelseal-scan"}, {"version", scanner_version}}},
            {"verdict", verdict},
            {"scannedOn", format_rfc3339(when)}};
  if (!report.is_null()) p["report"] = report;
  return p;
}

}  // namespace modelseal
