#include "modelseal/walk.hpp"

#include <algorithm>
#include <climits>
#include <cerrno>
#include <sys/stat.h>

#include "modelseal/content.hpp"
#include "modelseal/error.hpp"

namespace fs = std::filesystem;

namespace modelseal {

namespace {

void fill_stat(ModelFile& f, const struct stat& st) { f.id = identity_of(st); }

std::string special_kind(mode_t m) {
  if (S_ISFIFO(m)) return "fifo";
  if (S_ISSOCK(m)) return "socket";
  if (S_ISCHR(m)) return "character device";
  if (S_ISBLK(m)) return "block device";
  return "special file";
}

// Classifies one entry from its lstat; follows a symlink only when allowed, or (with a
// `symlink_dir`) only to a regular file inside that folder, then read at its real path.
ModelFile classify(const fs::path& path, std::string name, const struct stat& lst, const WalkOptions& opts) {
  const bool allow_symlinks = opts.allow_symlinks;
  ModelFile f;
  f.name = std::move(name);
  f.path = path;
  if (S_ISREG(lst.st_mode)) {
    fill_stat(f, lst);
    return f;
  }
  if (S_ISLNK(lst.st_mode)) {
    f.kind = EntryKind::symlink;
    f.kind_detail = "symlink";
    struct stat st;
    if (!opts.symlink_dir.empty() && !allow_symlinks) {
      auto real = resolves_inside(path, opts.symlink_dir);
      if (!real || ::lstat(real->c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
        f.kind_detail = "symlink that does not resolve to a file in the cache's blobs/";
        return f;
      }
      f.kind = EntryKind::regular;
      f.kind_detail.clear();
      f.path = *real;
      fill_stat(f, st);
      return f;
    }
    if (!allow_symlinks) return f;
    if (::stat(path.c_str(), &st) != 0) {
      f.kind_detail = "dangling symlink";
    } else if (S_ISREG(st.st_mode)) {
      f.kind = EntryKind::regular;
      f.kind_detail.clear();
      fill_stat(f, st);
    } else {
      f.kind_detail = S_ISDIR(st.st_mode) ? "symlink to a directory" : "symlink to a " + special_kind(st.st_mode);
    }
    return f;
  }
  f.kind = EntryKind::special;
  f.kind_detail = special_kind(lst.st_mode);
  return f;
}

void walk_dir(const fs::path& dir, const std::string& prefix, const WalkOptions& opts,
              std::vector<ModelFile>& out) {
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) throw errno_error("cannot list", dir.string(), ec.value());
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec) throw errno_error("cannot list", dir.string(), ec.value());
    const fs::path& p = it->path();
    std::string name = prefix.empty() ? p.filename().string() : prefix + "/" + p.filename().string();
    if (is_ignored(name, opts.ignore_paths)) continue;
    struct stat lst;
    if (::lstat(p.c_str(), &lst) != 0) throw errno_error("cannot stat", p.string(), errno);
    if (S_ISDIR(lst.st_mode)) {
      walk_dir(p, name, opts, out);
      continue;
    }
    out.push_back(classify(p, std::move(name), lst, opts));
  }
}

}  // namespace

fs::path hf_cache_blobs(const fs::path& snapshot) {
  std::error_code ec;
  fs::path real = fs::canonical(snapshot, ec);
  const std::string hint = "a Hugging Face cache snapshot is REPO/snapshots/REVISION, beside REPO/blobs";
  if (ec || !fs::is_directory(real, ec) || real.parent_path().filename() != "snapshots")
    throw usage_error("not a snapshot folder of a Hugging Face cache: " + snapshot.string(), hint);
  fs::path blobs = real.parent_path().parent_path() / "blobs";
  struct stat st;
  if (::lstat(blobs.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    throw usage_error("the Hugging Face cache of " + snapshot.string() + " has no blobs/ folder", hint);
  return blobs;
}

std::optional<fs::path> resolves_inside(const fs::path& link, const fs::path& dir) {
  char real[PATH_MAX];
  if (!::realpath(link.c_str(), real)) return std::nullopt;
  const std::string r = real, d = dir.string();
  if (r.size() <= d.size() + 1 || r.compare(0, d.size(), d) != 0 || r[d.size()] != '/') return std::nullopt;
  return fs::path(r);
}

std::optional<std::string> clutter_path(std::string_view name) {
  if (name.starts_with(".cache/huggingface/")) return std::string(".cache/huggingface");
  static constexpr std::string_view kNames[] = {".DS_Store", "Thumbs.db", "desktop.ini", ".ipynb_checkpoints",
                                                "__pycache__", "__MACOSX"};
  // A component with one of these names: the path up to and including it.
  for (size_t start = 0; start <= name.size();) {
    size_t end = std::min(name.find('/', start), name.size());
    std::string_view comp = name.substr(start, end - start);
    for (auto n : kNames)
      if (comp == n) return std::string(name.substr(0, end));
    start = end + 1;
  }
  const std::string_view base = name.substr(name.rfind('/') + 1);
  for (std::string_view suffix : {"~", ".swp", ".bak", ".orig"})
    if (base.size() > suffix.size() && base.ends_with(suffix)) return std::string(name);
  return std::nullopt;
}

bool name_less(std::string_view a, std::string_view b) {
  // Component-wise order equals byte order with '/' ranked below every other byte.
  auto rank = [](char c) { return c == '/' ? 0 : static_cast<unsigned char>(c) + 1; };
  return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(),
                                      [&](char x, char y) { return rank(x) < rank(y); });
}

bool is_ignored(std::string_view name, const std::vector<std::string>& ignore_paths) {
  for (const auto& ig : ignore_paths) {
    if (name == ig) return true;
    if (name.size() > ig.size() && name.starts_with(ig) && name[ig.size()] == '/') return true;
  }
  return false;
}

std::optional<std::string> invalid_path_reason(std::string_view name) {
  if (name.empty()) return "empty path";
  if (name.front() == '/') return "absolute path";
  for (unsigned char c : name)
    if (c < 0x20 || c == 0x7f) return "control character in path";
  size_t start = 0;
  while (start <= name.size()) {
    size_t end = name.find('/', start);
    if (end == std::string_view::npos) end = name.size();
    std::string_view comp = name.substr(start, end - start);
    if (comp.empty()) return "empty path component";
    if (comp == "." || comp == "..") return "'.' or '..' in path";
    start = end + 1;
  }
  // Valid UTF-8 (no overlongs, no surrogates).
  for (size_t i = 0; i < name.size();) {
    unsigned char c = name[i];
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > name.size()) return "path is not valid utf-8";
    uint32_t cp = n == 1 ? c : c & (0x7f >> n);
    for (size_t k = 1; k < n; ++k) {
      unsigned char cc = name[i + k];
      if ((cc & 0xc0) != 0x80) return "path is not valid utf-8";
      cp = cp << 6 | (cc & 0x3f);
    }
    static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return "path is not valid utf-8";
    i += n;
  }
  return std::nullopt;
}

std::optional<std::string> relative_ignore_path(const fs::path& model_root, const std::string& given) {
  fs::path p(given);
  fs::path rel;
  if (p.is_absolute()) {
    std::error_code ec;
    fs::path root = fs::weakly_canonical(model_root, ec);
    fs::path abs = fs::weakly_canonical(p, ec);
    rel = abs.lexically_relative(root);
  } else {
    rel = p.lexically_normal();
  }
  std::string s = rel.generic_string();
  while (!s.empty() && s.back() == '/') s.pop_back();
  if (s.empty() || s == "." || s == ".." || s.starts_with("../")) return std::nullopt;
  return s;
}

ModelTree walk_model(const fs::path& model, const WalkOptions& opts) {
  ModelTree tree;
  tree.root = model;
  struct stat lst;
  if (::lstat(model.c_str(), &lst) != 0) throw errno_error("cannot open model", model.string(), errno);
  struct stat st = lst;
  if (S_ISLNK(lst.st_mode) && ::stat(model.c_str(), &st) != 0)
    throw errno_error("cannot open model", model.string(), errno);
  fs::path named = model.lexically_normal();
  if (!named.has_filename()) named = named.parent_path();
  tree.model_name = named.filename().string();
  if (tree.model_name.empty() || tree.model_name == "." || tree.model_name == "..") {
    std::error_code ec;
    tree.model_name = fs::weakly_canonical(model, ec).filename().string();
  }
  if (S_ISDIR(st.st_mode)) {
    walk_dir(model, "", opts, tree.files);
  } else {
    // A single-file model: its one resource is named by its base name; a symlink given as the
    // model itself is what the user asked for, so it is followed.
    tree.single_file = true;
    WalkOptions follow = opts;
    follow.allow_symlinks = true;
    tree.files.push_back(classify(model, tree.model_name, st, follow));
  }
  std::sort(tree.files.begin(), tree.files.end(),
            [](const ModelFile& a, const ModelFile& b) { return name_less(a.name, b.name); });
  return tree;
}

}  // namespace modelseal
