// Format detection by content, and the public scanning API.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <functional>
#include <string>
#include <system_error>

#include "internal.hpp"
#include "modelseal/fileio.hpp"
#include "modelseal/error.hpp"

namespace modelseal::scan {

namespace detail {

namespace {

bool starts_with(const std::string& s, std::string_view prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

bool is_opcode(unsigned char c) {
  static constexpr std::string_view kOps = "(.012FIJKLMNPQRSTUVXabcdeghijlopqrstu}])G";
  return (c >= 0x80 && c <= 0x98) || kOps.find(static_cast<char>(c)) != std::string_view::npos;
}

// PROTO then an opcode: a pickle, whose parse failures are unsafe rather than "not a pickle".
bool starts_with_proto(const std::string& head) {
  return head.size() >= 3 && static_cast<unsigned char>(head[0]) == 0x80 &&
         static_cast<unsigned char>(head[1]) <= 5 && is_opcode(static_cast<unsigned char>(head[2]));
}

// HDF5 finds its superblock at 0 or after a user block of 512, 1024, 2048... bytes.
bool hdf5_at(const Source& src, uint64_t* where) {
  static constexpr std::string_view kSig("\x89HDF\r\n\x1a\n", 8);
  for (uint64_t off = 0; off + kSig.size() <= src.size(); off = off ? off * 2 : 512) {
    if (src.peek(off, kSig.size()) == kSig) {
      *where = off;
      return true;
    }
  }
  return false;
}

// Archives that no model loader opens: their content is not scanned, so they are unsafe.
const char* unopened_archive(const std::string& head) {
  if (starts_with(head, std::string_view("7z\xbc\xaf\x27\x1c", 6))) return "7z";
  if (starts_with(head, "Rar!\x1a\x07")) return "rar";
  if (starts_with(head, std::string_view("\x28\xb5\x2f\xfd", 4))) return "zstd";
  return nullptr;
}

Result scan_wrapped(const Source& src, Wrapper w, int depth, uint64_t start = 0) {
  Result r;
  r.format = to_string(w);
  if (depth >= kMaxNesting) throw untrusted(std::string(to_string(w)) + ": nested too deeply");
  Decompressed d = decompress(src, start, src.size() - start, w, kMaxInflated);
  if (d.capped) {
    add_finding(r, std::string(to_string(w)) + ": " +
                       (d.error.empty() ? "decompressed data exceeds the scanner's limit of " +
                                              std::to_string(kMaxInflated >> 20) + " MiB; only the first part was scanned"
                                        : d.error + "; not read further"),
                "medium", 0);
  } else if (!d.error.empty()) {
    // A loader sees the same bytes and then the same error: what came before is what counts.
    add_finding(r, std::string(to_string(w)) + ": " + d.error + " after " + std::to_string(d.data.size()) +
                       " bytes (a loader fails there too)", "low", d.consumed);
  }
  if (d.trailing) {
    add_finding(r, std::to_string(d.trailing) + " bytes after the last " + to_string(w) + " stream", "low", d.consumed);
  }
  if (d.streams == 0 && d.data.empty() && !d.capped) {
    r.verdict = Verdict::unknown;
    return r;
  }
  MemorySource inner(std::move(d.data));
  Result m = scan_source(inner, depth + 1);
  merge_findings(r, m, std::string(to_string(w)) + ":" + m.format);
  r.verdict = has_serious(r) ? Verdict::unsafe : m.verdict;
  return r;
}

Result detect_and_scan(const Source& src, int depth, std::string& format) {
  std::string head = src.peek(0, 8);
  if (starts_with(head, "PK\x03\x04") || starts_with(head, "PK\x05\x06")) {
    format = "zip";
    return scan_zip(src, depth);
  }
  if (starts_with(head, "\x93NUMPY")) {
    format = "numpy";
    return scan_npy(src, depth);
  }
  if (starts_with(head, "GGUF")) {
    format = "gguf";
    return scan_gguf(src);
  }
  uint64_t superblock = 0;
  if (hdf5_at(src, &superblock)) {
    format = "hdf5";
    Result r = scan_hdf5(src);
    if (superblock) add_finding(r, "HDF5 user block of " + std::to_string(superblock) + " bytes", "low", 0);
    return r;
  }
  if (looks_like_safetensors(src)) {
    format = "safetensors";
    return scan_safetensors(src);
  }
  if (looks_like_tar(src)) {
    format = "tar";
    return scan_tar(src, depth);
  }
  // joblib's oldest format: "ZF", the length in hex padded to 19 bytes, maybe a space, zlib.
  if (starts_with(head, "ZF") && src.size() > 22) {
    uint64_t z = src.peek(21, 1) == " " ? 22 : 21;
    SubSource rest(src, z, src.size() - z);
    if (detect_wrapper(rest) == Wrapper::zlib) {
      format = "joblib-zfile";
      Result r = scan_wrapped(src, Wrapper::zlib, depth, z);
      r.format = format;
      return r;
    }
  }
  if (Wrapper w = detect_wrapper(src); w != Wrapper::none) {
    format = to_string(w);
    return scan_wrapped(src, w, depth);
  }
  if (const char* kind = unopened_archive(head)) {
    format = kind;
    Result r;
    r.format = kind;
    add_finding(r, std::string(kUnopenedArchive) + kind + ": no model loader opens it, so its content was not scanned",
                "medium", 0);
    r.verdict = Verdict::unsafe;
    return r;
  }
  format = "pickle";
  if (auto p = scan_pickle(src, starts_with_proto(src.peek(0, 3)), depth)) return *p;
  format = "json";
  if (auto j = scan_json(src)) return *j;
  Result r;  // not a format that can hold code: text, protobuf (ONNX), raw weights...
  r.format = "unknown";
  r.verdict = Verdict::unknown;
  return r;
}

Result guarded(const std::string& format, const std::function<Result()>& fn) {
  try {
    return fn();
  } catch (const Error& e) {
    if (e.status() == Status::io) throw;
    Result r;
    r.format = format;
    r.verdict = Verdict::unsafe;
    r.error = e.what();
    return r;
  }
}

// The same bytes read by another loader than the one their first bytes suggest: the pickle
// module reads from offset 0 whatever the file is, zipfile finds an archive from the end, and
// tarfile accepts headers without a magic. Each reading that imports something is reported.
void other_readings(const Source& src, int depth, bool whole_file, Result& r) {
  if (r.format != "pickle" && r.format != "pytorch-legacy" && r.format != "numpy") {
    if (auto p = scan_pickle(src, false, depth); p && (has_serious(*p) || !p->error.empty())) {
      merge_findings(r, *p, "as-pickle");
      add_finding(r, "the file also reads as a pickle that imports code (pickle.load would run it)", "high", 0);
    }
  }
  if (whole_file && r.format != "zip" && r.format != "pytorch-zip" && r.format != "torchscript" && r.format != "npz" && r.format != "keras" &&
      zip_found_from_end(src)) {
    Result z = guarded("zip", [&] { return scan_zip(src, depth); });
    merge_findings(r, z, "as-zip");
    add_finding(r, "a zip archive is found from the end of this " + r.format +
                   " file: zipfile-based loaders read it, others read the start", "medium", 0);
  }
  if (r.format != "tar" && looks_like_tar(src)) {
    Result t = guarded("tar", [&] { return scan_tar(src, depth); });
    merge_findings(r, t, "as-tar");
    add_finding(r, "the file also reads as a tar archive", "medium", 0);
  }
}

}  // namespace

Result scan_source(const Source& src, int depth, bool whole_file) {
  if (src.size() == 0) {
    Result r;
    r.format = "empty";
    return r;
  }
  std::string format = "unknown";
  Result r = guarded(format, [&] {
    try {
      return detect_and_scan(src, depth, format);
    } catch (const Error& e) {
      if (e.status() == Status::io) throw;
      Result bad;
      bad.format = format;
      bad.verdict = Verdict::unsafe;
      bad.error = e.what();
      return bad;
    }
  });
  other_readings(src, depth, whole_file, r);
  if (has_serious(r) || !r.error.empty()) r.verdict = Verdict::unsafe;
  return r;
}

}  // namespace detail

namespace {

FileReport to_report(const std::string& name, detail::Result r) {
  FileReport rep;
  rep.path = name;
  rep.format = std::move(r.format);
  rep.verdict = r.verdict;
  rep.findings = std::move(r.findings);
  rep.error = std::move(r.error);
  rep.members = std::move(r.members);
  if (r.dropped) {
    rep.findings.push_back(Finding{"findings limit reached: " + std::to_string(r.dropped) +
                                       " less severe findings are not listed", "medium", 0, {}});
    rep.verdict = Verdict::unsafe;
  }
  if (!rep.error.empty()) rep.verdict = Verdict::unsafe;
  return rep;
}


}  // namespace

FileReport scan_fd(int fd, const std::string& display_name) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw errno_error("cannot stat", display_name, errno);
  if (!S_ISREG(st.st_mode)) throw untrusted("not a regular file: " + display_name);
  detail::FdSource src(fd, static_cast<uint64_t>(st.st_size), display_name);
  return to_report(display_name, detail::scan_source(src, 0));
}

FileReport scan_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw errno_error("cannot read", path, errno);
  // FIFOs, sockets and devices are never opened (a FIFO would block).
  if (!S_ISREG(st.st_mode)) throw untrusted("not a regular file: " + path);
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (fd.get() < 0) throw errno_error("cannot open", path, errno);
  return scan_fd(fd.get(), path);
}

FileReport scan_memory(std::span<const uint8_t> data, const std::string& display_name) {
  detail::MemorySource src(data);
  return to_report(display_name, detail::scan_source(src, 0));
}

std::vector<FileReport> scan_paths(const std::vector<std::string>& paths) {
  namespace fs = std::filesystem;
  std::vector<FileReport> out;
  auto failed = [&](const std::string& p, const std::string& why, bool io) {
    FileReport r;
    r.path = p;
    r.format = "unknown";
    r.error = why;
    r.io_failed = io;
    r.verdict = io ? Verdict::unknown : Verdict::unsafe;
    out.push_back(std::move(r));
  };
  auto one = [&](const std::string& p) {
    try {
      out.push_back(scan_file(p));
    } catch (const Error& e) {
      failed(p, e.what(), e.status() == Status::io);
    }
  };
  for (const std::string& p : paths) {
    std::error_code ec;
    fs::file_status st = fs::status(p, ec);
    if (ec) {
      failed(p, "cannot read: " + p + ": " + ec.message(), true);
      continue;
    }
    if (!fs::is_directory(st)) {
      one(p);
      continue;
    }
    fs::recursive_directory_iterator it(p, fs::directory_options::none, ec), end;
    if (ec) {
      failed(p, "cannot read directory: " + p + ": " + ec.message(), true);
      continue;
    }
    for (; it != end; it.increment(ec)) {
      if (ec) {
        failed(p, "cannot read directory: " + p + ": " + ec.message(), true);
        break;
      }
      std::string path = it->path().string();
      std::error_code sec;
      fs::file_status target = fs::status(it->path(), sec);
      if (it->is_symlink(sec) && fs::is_directory(target)) {
        failed(path, "symbolic link to a directory, not followed", false);
      } else if (fs::is_regular_file(target)) {
        one(path);
      } else if (!fs::is_directory(target)) {
        failed(path, "not a regular file, not scanned", false);
      }
    }
  }
  std::sort(out.begin(), out.end(), [](const FileReport& a, const FileReport& b) { return a.path < b.path; });
  out.erase(std::unique(out.begin(), out.end(), [](const FileReport& a, const FileReport& b) { return a.path == b.path; }),
            out.end());
  return out;
}

void insecure_skip_unopened_archives(std::vector<FileReport>& reports) {
  for (FileReport& r : reports) {
    bool only_archive = r.error.empty() && !r.findings.empty();
    for (Finding& f : r.findings) {
      if (f.severity == "low") continue;
      if (f.what.starts_with(detail::kUnopenedArchive) && f.member.empty()) continue;
      only_archive = false;
    }
    if (!only_archive) continue;
    for (Finding& f : r.findings) f.severity = "low";
    r.verdict = Verdict::unknown;
  }
}

const char* to_string(Verdict v) {
  switch (v) {
    case Verdict::safe: return "safe";
    case Verdict::unsafe: return "unsafe";
    case Verdict::unknown: break;
  }
  return "unknown";
}

bool blocks_trust(const FileReport& r) { return r.verdict == Verdict::unsafe || !r.error.empty(); }

nlohmann::json to_json(const std::vector<FileReport>& reports) {
  nlohmann::json files = nlohmann::json::array();
  size_t safe = 0, unsafe = 0, unknown = 0, errors = 0;
  for (const FileReport& r : reports) {
    nlohmann::json findings = nlohmann::json::array();
    for (const Finding& f : r.findings) {
      nlohmann::json j = {{"what", f.what}, {"severity", f.severity}, {"offset", f.offset}};
      if (!f.member.empty()) j["member"] = f.member;
      findings.push_back(std::move(j));
    }
    nlohmann::json j = {{"path", r.path}, {"format", r.format}, {"verdict", to_string(r.verdict)},
                        {"findings", std::move(findings)}};
    if (!r.error.empty()) {
      j["error"] = r.error;
      ++errors;
    }
    if (!r.members.empty()) j["members"] = r.members;
    files.push_back(std::move(j));
    if (r.verdict == Verdict::safe) ++safe;
    else if (r.verdict == Verdict::unsafe) ++unsafe;
    else ++unknown;
  }
  bool ok = std::none_of(reports.begin(), reports.end(), blocks_trust);
  // Names and members come from the files: bytes that are not UTF-8 become U+FFFD, so the
  // report can always be written.
  files = nlohmann::json::parse(files.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  return {{"version", 1},
          {"files", std::move(files)},
          {"summary", {{"files", reports.size()}, {"safe", safe}, {"unsafe", unsafe}, {"unknown", unknown},
                       {"errors", errors}, {"passed", ok}}}};
}

}  // namespace modelseal::scan
