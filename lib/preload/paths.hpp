// Where an open really lands: lexical normalisation, the kernel's path of a descriptor, and
// whether a path is below a protected root. Nothing here throws or allocates from a hook's
// point of view beyond std::string.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace modelseal::preload {

// `path` made absolute against `base` (an absolute directory) with '.', '..' and repeated '/'
// resolved as text. Exact when the kernel met no symlink while resolving `path`.
std::string normalize(std::string_view base, std::string_view path);

// The kernel's path of an open descriptor (readlink of /proc/self/fd/N); empty if unknown or if
// the descriptor is not a file in the file system (pipe, socket, anonymous). `unknown`, if
// given, tells the two apart: true when the kernel could not name it (a path past PATH_MAX).
std::string fd_path(int fd, bool* unknown = nullptr);

// "/proc/self/fd/N": the name of an open descriptor that the kernel resolves to its open file.
std::string proc_fd(int fd);

// The directory a relative path starts from: the working directory for AT_FDCWD, else the
// path of `dirfd`. Empty if unknown.
std::string base_dir(int dirfd);

// The name of `path` relative to `root` ("" for the root itself), or nullopt if it is not below.
std::optional<std::string_view> relative_to(std::string_view path, std::string_view root);

// The last component and the rest: "a/b/c" -> {"a/b", "c"}, "c" -> {"", "c"}, "a/" -> {"a", "."}.
std::pair<std::string, std::string> split_last(std::string_view path);

}  // namespace modelseal::preload
