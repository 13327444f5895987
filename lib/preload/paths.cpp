#include "paths.hpp"

#include <cerrno>
#include <climits>
#include <cstdio>
#include <fcntl.h>
#include <unistd.h>

namespace modelseal::preload {

std::string normalize(std::string_view base, std::string_view path) {
  std::string out;
  out.reserve(base.size() + path.size() + 1);
  auto add = [&](std::string_view p) {
    while (!p.empty()) {
      size_t slash = p.find('/');
      std::string_view comp = p.substr(0, slash);
      p = slash == std::string_view::npos ? std::string_view{} : p.substr(slash + 1);
      if (comp.empty() || comp == ".") continue;
      if (comp == "..") {
        size_t last = out.rfind('/');
        out.resize(last == std::string::npos ? 0 : last);
        continue;
      }
      out += '/';
      out += comp;
    }
  };
  if (path.empty() || path.front() != '/') add(base);
  add(path);
  return out.empty() ? std::string("/") : out;
}

std::string fd_path(int fd, bool* unknown) {
  char link[40], target[PATH_MAX + 1];
  std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = ::readlink(link, target, PATH_MAX);
  if (unknown) *unknown = n <= 0 || n >= PATH_MAX;
  if (n <= 0 || n >= PATH_MAX || target[0] != '/') return {};
  return std::string(target, static_cast<size_t>(n));
}

std::string proc_fd(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

std::string base_dir(int dirfd) {
  if (dirfd != AT_FDCWD) return fd_path(dirfd);
  char buf[PATH_MAX + 1];
  if (!::getcwd(buf, sizeof buf) || buf[0] != '/') return {};
  return buf;
}

std::optional<std::string_view> relative_to(std::string_view path, std::string_view root) {
  if (root == "/") return path.size() > 1 ? path.substr(1) : std::string_view{};
  if (!path.starts_with(root)) return std::nullopt;
  if (path.size() == root.size()) return std::string_view{};
  if (path[root.size()] != '/') return std::nullopt;
  return path.substr(root.size() + 1);
}

std::pair<std::string, std::string> split_last(std::string_view path) {
  while (path.size() > 1 && path.back() == '/') {
    path.remove_suffix(1);
    if (path.back() != '/') return {std::string(path), "."};
  }
  size_t slash = path.rfind('/');
  if (slash == std::string_view::npos) return {"", std::string(path)};
  return {std::string(path.substr(0, slash == 0 ? 1 : slash)), std::string(path.substr(slash + 1))};
}

}  // namespace modelseal::preload
