#include "modelseal/fileio.hpp"

#include <cerrno>
#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include "modelseal/encoding.hpp"
#include "modelseal/error.hpp"
#include "modelseal/files.hpp"

namespace fs = std::filesystem;

namespace modelseal {

UniqueFd::~UniqueFd() {
  if (fd_ >= 0) ::close(fd_);
}

UniqueFd& UniqueFd::operator=(UniqueFd&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(o.fd_, -1);
  }
  return *this;
}

std::string read_file_limited(const fs::path& path, size_t max_bytes, const std::string& what, Status too_large) {
  UniqueFd file(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  const int fd = file.get();
  if (fd < 0) throw errno_error("cannot open " + what, path.string(), errno);
  struct stat st;
  if (::fstat(fd, &st) != 0) throw errno_error("cannot stat " + what, path.string(), errno);
  if (!S_ISREG(st.st_mode)) throw io_error(what + " is not a regular file: " + path.string());
  if (static_cast<uint64_t>(st.st_size) > max_bytes)
    throw Error(too_large, what + " is too large (" + std::to_string(st.st_size) + " bytes, at most " +
                               std::to_string(max_bytes) + "): " + path.string());
  std::string out(static_cast<size_t>(st.st_size), '\0');
  size_t got = 0;
  char more[4096];   // what a file that grew meanwhile has past its size
  for (;;) {
    const bool past = got >= out.size();
    ssize_t n = past ? ::read(fd, more, sizeof more) : ::read(fd, out.data() + got, out.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw errno_error("cannot read " + what, path.string(), errno);
    if (n == 0) break;
    if (past) out.append(more, static_cast<size_t>(n));
    got += static_cast<size_t>(n);
    if (got > max_bytes) throw Error(too_large, what + " is too large: " + path.string());
  }
  out.resize(got);
  return out;
}

void write_file_atomic(const fs::path& path, std::string_view data, mode_t mode) {
  fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  // An unnamed O_TMPFILE gets a name only once it is complete, so a run killed at any moment
  // leaves neither a partial file nor a stray temporary one in (say) a model directory.
  int fd = ::open(dir.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, mode);
  bool named = false;
  std::string tmp = (dir / ("." + path.filename().string() + ".tmp-XXXXXX")).string();
  if (fd < 0) {
    if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
      throw errno_error("cannot create a temporary file in", dir.string(), errno);
    fd = ::mkstemp(tmp.data());
    if (fd < 0) throw errno_error("cannot create a temporary file in", dir.string(), errno);
    named = true;
  }
  bool done = false;
  struct Cleanup {
    int& fd; const std::string& name; const bool& named; bool& done;
    ~Cleanup() {
      if (fd >= 0) ::close(fd);
      if (named && !done) ::unlink(name.c_str());
    }
  } cleanup{fd, tmp, named, done};
  if (::fchmod(fd, mode) != 0) throw errno_error("cannot set the mode of", path.string(), errno);
  for (size_t off = 0; off < data.size();) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw errno_error("cannot write", path.string(), errno);
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) throw errno_error("cannot write", path.string(), errno);
  if (!named) {
    // Give it a random temporary name (linkat fails rather than replace), then rename it over the
    // target: the name exists only between these two calls.
    std::string proc = "/proc/self/fd/" + std::to_string(fd);
    for (int attempt = 0; !named; ++attempt) {
      unsigned char rnd[8];
      randombytes_buf(rnd, sizeof rnd);
      tmp = (dir / ("." + path.filename().string() + ".tmp-" + to_hex(rnd))).string();
      if (::linkat(AT_FDCWD, proc.c_str(), AT_FDCWD, tmp.c_str(), AT_SYMLINK_FOLLOW) == 0) {
        named = true;
      } else if (errno != EEXIST || attempt > 8) {
        throw errno_error("cannot write", path.string(), errno);
      }
    }
  }
  int rc = ::close(fd);
  fd = -1;
  if (rc != 0) throw errno_error("cannot write", path.string(), errno);
  if (::rename(tmp.c_str(), path.c_str()) != 0) throw errno_error("cannot replace", path.string(), errno);
  done = true;
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

}  // namespace modelseal
