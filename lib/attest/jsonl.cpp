// `.intoto.jsonl` bundles: one DSSE envelope per line.
//
// Appending: the bundle is replaced, never written in place. Under an exclusive flock on the
// bundle, the whole old file is read, checked to end with '\n', and old + new line are written to
// a temporary file, fsynced and renamed over it (write_file_atomic). O_APPEND with one write()
// would be simpler, but a crash or a full disk in the middle of that write leaves a torn last
// line, and a torn line makes the whole bundle unreadable (readers fail closed). With the rename,
// a reader sees the old bundle or the new one. The lock serialises concurrent appenders; since
// the rename replaces the inode the lock is on, a waiter checks after locking that its descriptor
// is still the file at the path, and starts over if not.
#include <cerrno>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "modelseal/attest.hpp"
#include "modelseal/error.hpp"
#include "modelseal/formats.hpp"
#include "modelseal/fileio.hpp"
#include "modelseal/json.hpp"
#include "modelseal/files.hpp"

namespace fs = std::filesystem;

namespace modelseal {

namespace {

struct Fd {
  int fd = -1;
  ~Fd() { if (fd >= 0) ::close(fd); }
};

// Opens and exclusively locks the bundle at `path` (creating it), retrying until the locked
// descriptor is the file the path names.
void lock_current(const fs::path& path, Fd& out) {
  for (int attempt = 0; attempt < 1000; ++attempt) {
    Fd f;
    f.fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0644);
    if (f.fd < 0) throw errno_error("cannot open attestation bundle", path.string(), errno);
    while (::flock(f.fd, LOCK_EX) != 0)
      if (errno != EINTR) throw errno_error("cannot lock attestation bundle", path.string(), errno);
    struct stat held, named;
    if (::fstat(f.fd, &held) != 0) throw errno_error("cannot stat attestation bundle", path.string(), errno);
    if (!S_ISREG(held.st_mode)) throw io_error("attestation bundle is not a regular file: " + path.string());
    if (::stat(path.c_str(), &named) == 0 && named.st_dev == held.st_dev && named.st_ino == held.st_ino) {
      std::swap(out.fd, f.fd);
      return;
    }
  }
  throw io_error("cannot lock attestation bundle (it keeps being replaced): " + path.string());
}

std::string read_fd(int fd, const fs::path& path) {
  std::string out;
  char buf[65536];
  for (off_t off = 0;;) {
    ssize_t n = ::pread(fd, buf, sizeof buf, off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw errno_error("cannot read attestation bundle", path.string(), errno);
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    off += n;
    if (out.size() > kMaxAttestationFileBytes) throw untrusted("attestation bundle is too large: " + path.string());
  }
  return out;
}

}  // namespace

void append_line_atomic(const fs::path& jsonl, std::string_view line) {
  if (line.empty() || line.find('\n') != std::string_view::npos || line.size() > kMaxAttestationLineBytes)
    throw usage_error("an attestation line must be non-empty, without newlines and at most " +
                      std::to_string(kMaxAttestationLineBytes) + " bytes");
  Fd lock;
  lock_current(jsonl, lock);
  std::string data = read_fd(lock.fd, jsonl);
  if (!data.empty() && data.back() != '\n')
    throw untrusted("attestation bundle does not end with a newline (damaged?): " + jsonl.string(),
                    "nothing was appended; repair or move the file first");
  data.append(line);
  data.push_back('\n');
  write_file_atomic(jsonl, data, 0644);
}

std::vector<AttestationEntry> parse_attestations(std::string_view bytes, const std::string& what) {
  if (bytes.size() > kMaxAttestationFileBytes) throw untrusted(what + ": attestation bundle is too large");
  std::vector<AttestationEntry> out;
  size_t lineno = 0;
  while (!bytes.empty()) {
    ++lineno;
    size_t nl = bytes.find('\n');
    std::string_view line = bytes.substr(0, nl);
    bytes.remove_prefix(nl == std::string_view::npos ? bytes.size() : nl + 1);
    const std::string where = what + ":" + std::to_string(lineno);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
    if (line.size() > kMaxAttestationLineBytes) throw untrusted(where + ": line is too long");
    json j = parse_json_strict(line, where, kMaxEnvelopeValues);
    if (!j.is_object()) throw untrusted(where + ": not a DSSE envelope");
    out.push_back({where, Envelope::from_json(j, where)});
  }
  return out;
}

std::vector<AttestationEntry> load_attestations(const fs::path& jsonl) {
  return parse_attestations(read_file_limited(jsonl, kMaxAttestationFileBytes, "attestation bundle"),
                            jsonl.string());
}

}  // namespace modelseal
