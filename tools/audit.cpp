// modelseal audit: check a tamper-evident audit log.
#include <cstdio>

#include "common.hpp"
#include "modelseal/audit.hpp"
#include "modelseal/encoding.hpp"
#include "modelseal/json.hpp"

using namespace modelseal;

int main(int argc, char** argv) {
  tool::App app{"Check a modelseal audit log: every line's JSON, sequence number and the SHA-256 of the line "
                "before it.",
                "modelseal audit"};
  bool quiet = false, as_json = false;
  std::string log;
  tool::add_common(app, quiet);
  app.require_subcommand(1);
  auto* verify = app.add_subcommand("verify", "Detect an edited, inserted, deleted or reordered line");
  verify->add_option("FILE", log, "The audit log (MODELSEAL_AUDIT_LOG or --audit-log of the tools)")->required();
  verify->add_flag("--json", as_json, "Print a JSON report (schemas/audit-report.schema.json)");
  app.footer("Exit status: 0 the chain of lines is intact, 1 it is not, 2 usage error, 3 I/O error.\n\n"
             "Example:\n  $ modelseal audit verify /var/log/modelseal.jsonl\n"
             "  /var/log/modelseal.jsonl: OK (1532 lines)\n"
             "  $ modelseal audit verify tampered.jsonl\n"
             "  tampered.jsonl: line 7: previous-line hash does not match line 6 (a line was edited, inserted, "
             "deleted or moved)");
  return tool::run(app, argc, argv, [&]() -> int {
    size_t lines = 0;
    std::vector<AuditProblem> problems = audit_verify(log, &lines);
    if (as_json) {
      json p = json::array();
      for (const auto& pr : problems) p.push_back({{"line", pr.line}, {"reason", pr.reason}});
      std::printf("%s\n", json({{"log", log}, {"ok", problems.empty()}, {"lines", lines}, {"problems", p}}).dump(2).c_str());
    } else {
      for (const auto& pr : problems) std::printf("%s: line %zu: %s\n", printable(log).c_str(), pr.line, pr.reason.c_str());
      if (problems.empty() && !quiet) std::printf("%s: OK (%zu lines)\n", printable(log).c_str(), lines);
    }
    if (!problems.empty()) {
      tool::print_error(untrusted("audit log has been tampered with: " + log));
      return static_cast<int>(Status::not_trusted);
    }
    return 0;
  });
}
