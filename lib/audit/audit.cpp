#include "modelseal/audit.hpp"

#include <cerrno>
#include <cstdlib>
#include <fcntl.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "modelseal/error.hpp"
#include "modelseal/fileio.hpp"
#include "modelseal/hash.hpp"
#include "modelseal/json.hpp"
#include "modelseal/files.hpp"

namespace modelseal {

namespace {

const std::string kGenesis(64, '0');
constexpr size_t kMaxLine = 1u << 20;


// The last line of the file (without its newline), read backwards from the end.
std::string last_line(int fd, const std::string& path) {
  struct stat st;
  if (::fstat(fd, &st) != 0) throw errno_error("cannot stat audit log", path, errno);
  off_t end = st.st_size;
  if (end == 0) return {};
  std::string tail;
  off_t pos = end;
  while (pos > 0 && tail.size() < kMaxLine) {
    size_t n = static_cast<size_t>(std::min<off_t>(pos, 4096));
    pos -= static_cast<off_t>(n);
    std::string chunk(n, '\0');
    if (::pread(fd, chunk.data(), n, pos) != static_cast<ssize_t>(n)) throw errno_error("cannot read audit log", path, errno);
    tail.insert(0, chunk);
    // Skip the final newline, then look for the one before the last line.
    size_t nl = tail.size() > 1 ? tail.rfind('\n', tail.size() - 2) : std::string::npos;
    if (nl != std::string::npos) return tail.substr(nl + 1, tail.size() - nl - 2);
  }
  if (tail.empty() || tail.back() != '\n') throw io_error("audit log does not end with a newline: " + path);
  return tail.substr(0, tail.size() - 1);
}

std::string now_rfc3339_ms() {
  struct timeval tv;
  gettimeofday(&tv, nullptr);
  struct tm tm {};
  gmtime_r(&tv.tv_sec, &tm);
  char buf[40];
  size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%03ldZ", static_cast<long>(tv.tv_usec / 1000));
  return buf;
}

}  // namespace

void audit_event(json event, const std::filesystem::path& log) {
  std::string path = log.string();
  if (path.empty()) {
    const char* env = std::getenv("MODELSEAL_AUDIT_LOG");
    if (!env || !*env) return;
    path = env;
  }
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (fd.get() < 0) throw errno_error("cannot open audit log", path, errno);
  if (::flock(fd.get(), LOCK_EX) != 0) throw errno_error("cannot lock audit log", path, errno);
  std::string prev = last_line(fd.get(), path);
  uint64_t seq = 1;
  if (!prev.empty()) {
    json p = json::parse(prev, nullptr, false);
    if (p.is_discarded() || !p.contains("seq") || !p["seq"].is_number_unsigned())
      throw io_error("audit log's last line is damaged: " + path, "run 'modelseal audit verify " + path + "'");
    seq = p["seq"].get<uint64_t>() + 1;
  }
  char host[256] = "unknown";
  gethostname(host, sizeof host - 1);
  struct passwd* pw = getpwuid(getuid());
  event["time"] = now_rfc3339_ms();
  event["host"] = host;
  event["user"] = pw ? pw->pw_name : std::to_string(getuid());
  event["uid"] = getuid();
  event["pid"] = getpid();
  event["seq"] = seq;
  event["prev"] = prev.empty() ? kGenesis : digest_hex(sha256(prev));
  std::string line = event.dump() + "\n";
  ssize_t n = ::write(fd.get(), line.data(), line.size());
  if (n != static_cast<ssize_t>(line.size())) throw errno_error("cannot write audit log", path, n < 0 ? errno : EIO);
  if (::fsync(fd.get()) != 0) throw errno_error("cannot write audit log", path, errno);
}

std::vector<AuditProblem> audit_verify(const std::filesystem::path& log, size_t* lines_checked) {
  std::string text = read_file_limited(log, size_t{1} << 32, "audit log");
  std::vector<AuditProblem> problems;
  std::string prev_hash = kGenesis;
  uint64_t expect_seq = 1;
  size_t lineno = 0;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    ++lineno;
    if (nl == std::string::npos) {
      problems.push_back({lineno, "last line is incomplete (no newline)"});
      break;
    }
    std::string line = text.substr(start, nl - start);
    start = nl + 1;
    json j = json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      problems.push_back({lineno, "not a JSON object"});
    } else {
      if (!j.contains("prev") || j["prev"] != prev_hash)
        problems.push_back({lineno, lineno == 1 ? "first line does not start the chain"
                                                : "previous-line hash does not match line " + std::to_string(lineno - 1) +
                                                      " (a line was edited, inserted, deleted or moved)"});
      bool has_seq = j.contains("seq") && j["seq"].is_number_unsigned();
      if (!has_seq || j["seq"].get<uint64_t>() != expect_seq)
        problems.push_back({lineno, "sequence number is not " + std::to_string(expect_seq)});
      // Go on from what this line says, so that one bad line is reported once.
      expect_seq = (has_seq ? j["seq"].get<uint64_t>() : expect_seq) + 1;
    }
    prev_hash = digest_hex(sha256(line));
  }
  if (lines_checked) *lines_checked = lineno;
  return problems;
}

}  // namespace modelseal
