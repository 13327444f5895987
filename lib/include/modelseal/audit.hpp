// A tamper-evident audit log: one JSON line per decision, each carrying a sequence number and
// the SHA-256 of the line before it.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#pragma GCC visibility push(default)   // the installed API: exported from libmodelseal.so

namespace modelseal {

// Where events go: `log` if given, else $MODELSEAL_AUDIT_LOG; nothing happens when neither is
// set. Adds time, host, user, pid, seq and prev to `event` (which should carry tool, decision,
// reason, model, model_digest, keyids) and appends it as one line: O_APPEND, one write, under an
// exclusive flock, so concurrent writers never interleave or fork the chain. Throws Error(io).
void audit_event(nlohmann::json event, const std::filesystem::path& log = {});

struct AuditProblem {
  size_t line = 0;        // 1-based
  std::string reason;
};

// Checks every line's JSON, sequence number and previous-line hash. Returns the problems found
// (empty when the log is intact); Error(io) if it cannot be read.
std::vector<AuditProblem> audit_verify(const std::filesystem::path& log, size_t* lines_checked = nullptr);

}  // namespace modelseal

#pragma GCC visibility pop
