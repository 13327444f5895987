// Walking a model directory (or single file) into the list of files a manifest covers.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#pragma GCC visibility push(default)   // the installed API: exported from libmodelseal.so

namespace modelseal {

enum class EntryKind {
  regular,      // a regular file (or, with allow_symlinks, a symlink to one)
  symlink,      // a symlink while symlinks are not allowed, or a dangling / directory symlink
  special,      // FIFO, socket, device: never opened
};

// What a file is on disk: the same file, unchanged, has the same identity. ctime cannot be set
// from user space, so a file rewritten with its mtime restored still gets a new identity.
struct FileIdentity {
  uint64_t dev = 0, ino = 0, size = 0;
  int64_t mtime_ns = 0, ctime_ns = 0;
  bool operator==(const FileIdentity&) const = default;
};

struct ModelFile {
  std::string name;            // POSIX path relative to the model root (basename for a file model)
  std::filesystem::path path;  // where it is on disk
  EntryKind kind = EntryKind::regular;
  std::string kind_detail;     // "fifo", "socket", "symlink", ... for errors
  FileIdentity id;             // stat() of what will be read, to detect a file that changes while it is hashed
  uint64_t size() const { return id.size; }
};

struct ModelTree {
  std::filesystem::path root;
  bool single_file = false;
  std::string model_name;         // the directory's (or file's) base name
  std::vector<ModelFile> files;   // sorted in manifest order (name_less)
};

struct WalkOptions {
  std::vector<std::string> ignore_paths;  // relative to the model root, POSIX
  bool allow_symlinks = false;
  // When set (a real path), a symlink is followed if, and only if, it resolves to a regular file
  // inside this folder: a Hugging Face cache's blobs/ (hf_cache_blobs()). The file is then read
  // at its resolved path.
  std::filesystem::path symlink_dir;
};

// The blobs/ folder of the Hugging Face cache that `snapshot` (REPO/snapshots/REV) belongs to,
// as a real path; Error(usage) if `snapshot` is not such a folder.
std::filesystem::path hf_cache_blobs(const std::filesystem::path& snapshot);

// The real path of `link` when it resolves to a regular file inside `dir` (a real path).
std::optional<std::filesystem::path> resolves_inside(const std::filesystem::path& link, const std::filesystem::path& dir);

// Throws Error(io) if `model` does not exist or cannot be listed. Non-regular entries are
// returned with their kind so that the caller decides (sign refuses, verify reports).
ModelTree walk_model(const std::filesystem::path& model, const WalkOptions& opts);

// When `name` (relative to a model root) looks like what editors, notebooks, operating systems or
// `hf download` leave beside a model (.DS_Store, __pycache__/, backup and swap files,
// .cache/huggingface/), the path whose --ignore leaves it out; nullopt otherwise.
std::optional<std::string> clutter_path(std::string_view name);

// Order of resources: by path components, each compared by code point (UTF-8 bytes), as the
// reference implementation sorts its PurePosixPath keys.
bool name_less(std::string_view a, std::string_view b);

// True if `name` is one of `ignore_paths` or below one of them.
bool is_ignored(std::string_view name, const std::vector<std::string>& ignore_paths);

// Checks a resource path from an untrusted manifest; returns why it is invalid, if it is.
std::optional<std::string> invalid_path_reason(std::string_view name);

// Normalises a user-given ignore path to a path relative to the model root; nullopt if it is
// outside the model.
std::optional<std::string> relative_ignore_path(const std::filesystem::path& model_root,
                                                const std::string& given);

}  // namespace modelseal

#pragma GCC visibility pop
