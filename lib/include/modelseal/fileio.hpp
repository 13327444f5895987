// Reading bounded files and writing files atomically.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <utility>

namespace modelseal {

// A file descriptor, closed when it goes out of scope.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd();
  UniqueFd(UniqueFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  int get() const noexcept { return fd_; }
  int release() noexcept { return std::exchange(fd_, -1); }
  explicit operator bool() const noexcept { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

// Reads a whole regular file of at most `max_bytes`; Error(io) if it cannot be read,
// Error(not_trusted) "<what> is too large" past the bound.
std::string read_file_limited(const std::filesystem::path& path, size_t max_bytes, const std::string& what);

// Writes `data` to a temporary file beside `path` (mode `mode`), fsyncs it, renames it over
// `path` and fsyncs the folder: a reader sees the old file or the new one, never a part.
void write_file_atomic(const std::filesystem::path& path, std::string_view data, mode_t mode = 0644);

}  // namespace modelseal
