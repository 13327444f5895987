// Scanning model files for code injection, by content (DESIGN §6).
//
// Every file is classified by its bytes, never by its name: pickle (protocols 0-5, fully
// emulated), PyTorch zip and legacy checkpoints, NumPy .npy/.npz, Keras (.keras zip, H5,
// JSON configs), safetensors and GGUF (validated), tar. Anything executable that is not on
// the allowlist of tensor-rebuilding globals, and anything that claims to be one of these
// formats but does not parse, is `unsafe` (fail closed).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#pragma GCC visibility push(default)   // the installed API: exported from libmodelseal.so

namespace modelseal::scan {

enum class Verdict { safe, unsafe, unknown };

struct Finding {
  std::string what;      // e.g. "global os.system"
  std::string severity;  // "critical" | "high" | "medium" | "low" ("low" is informational)
  uint64_t offset = 0;   // byte offset in the file, or in `member` when that is set
  std::string member;    // path inside a container (zip/tar member, nested pickle), or empty
};

struct FileReport {
  std::string path;
  std::string format;  // "pickle", "pytorch-zip", "pytorch-legacy", "safetensors", "gguf", ...
  Verdict verdict = Verdict::unknown;
  std::vector<Finding> findings;
  std::string error;       // why the file could not be scanned or parsed (verdict unsafe)
  std::vector<std::string> members;  // archive members read (zip, tar), "outer/inner" when nested
  bool io_failed = false;  // the error was an I/O error (exit status 3), not bad content
};

// Scans one file by content. Throws Error(io) if it cannot be opened or read; FIFOs, sockets
// and devices are never opened (Error(usage)). Symbolic links are followed.
FileReport scan_file(const std::string& path);
// Scans an open regular file through pread on `fd` only (the file offset is not moved).
FileReport scan_fd(int fd, const std::string& display_name);
// Scans bytes already in memory (tests, fuzzing).
FileReport scan_memory(std::span<const uint8_t> data, const std::string& display_name);
// Files or directories (recursively, symlinked directories are not followed), sorted by path.
// Never throws for a single file: its I/O error is recorded in its report (io_failed).
std::vector<FileReport> scan_paths(const std::vector<std::string>& paths);

// scan --insecure-skip-archives: a file that is unsafe only because it is an archive no model
// loader opens (7z, RAR, lz4, zstd; not scanned inside) becomes unknown.
void insecure_skip_unopened_archives(std::vector<FileReport>& reports);

const char* to_string(Verdict v);
// True when the report must stop the model from being trusted: unsafe, or not scanned.
bool blocks_trust(const FileReport& r);
// The report as JSON (schemas/scan-report.schema.json).
nlohmann::json to_json(const std::vector<FileReport>& reports);

}  // namespace modelseal::scan

#pragma GCC visibility pop
