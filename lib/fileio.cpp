#include "modelseal/fileio.hpp"

#include <cerrno>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "modelseal/error.hpp"

namespace fs = std::filesystem;

namespace modelseal {

std::string read_file_limited(const fs::path& path, size_t max_bytes, const std::string& what) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) throw errno_error("cannot open " + what, path.string(), errno);
  struct Closer { int fd; ~Closer() { ::close(fd); } } closer{fd};
  struct stat st;
  if (::fstat(fd, &st) != 0) throw errno_error("cannot stat " + what, path.string(), errno);
  if (!S_ISREG(st.st_mode)) throw io_error(what + " is not a regular file: " + path.string());
  if (static_cast<uint64_t>(st.st_size) > max_bytes)
    throw untrusted(what + " is too large (" + std::to_string(st.st_size) + " bytes, at most " +
                    std::to_string(max_bytes) + "): " + path.string());
  std::string out;
  out.resize(static_cast<size_t>(st.st_size));
  size_t got = 0;
  for (;;) {
    if (got == out.size()) {
      if (out.size() >= max_bytes + 1) break;
      out.resize(std::min(max_bytes + 1, out.size() + 65536));  // a file that grew meanwhile
    }
    ssize_t n = ::read(fd, out.data() + got, out.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw errno_error("cannot read " + what, path.string(), errno);
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  out.resize(got);
  if (got > max_bytes) throw untrusted(what + " is too large: " + path.string());
  return out;
}

void write_file_atomic(const fs::path& path, std::string_view data, mode_t mode) {
  fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  std::string tmpl = (dir / ("." + path.filename().string() + ".tmp-XXXXXX")).string();
  int fd = ::mkstemp(tmpl.data());
  if (fd < 0) throw errno_error("cannot create a temporary file in", dir.string(), errno);
  bool done = false;
  struct Cleanup {
    int& fd; const std::string& name; bool& done;
    ~Cleanup() { if (fd >= 0) ::close(fd); if (!done) ::unlink(name.c_str()); }
  } cleanup{fd, tmpl, done};
  if (::fchmod(fd, mode) != 0) throw errno_error("cannot set the mode of", tmpl, errno);
  for (size_t off = 0; off < data.size();) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw errno_error("cannot write", path.string(), errno);
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) throw errno_error("cannot write", path.string(), errno);
  int rc = ::close(fd);
  fd = -1;
  if (rc != 0) throw errno_error("cannot write", path.string(), errno);
  if (::rename(tmpl.c_str(), path.c_str()) != 0) throw errno_error("cannot replace", path.string(), errno);
  done = true;
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

}  // namespace modelseal
