#include "code.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fcntl.h>
#include <mutex>
#include <string>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <vector>

#include "config.hpp"
#include "open.hpp"
#include "paths.hpp"

namespace modelseal::preload {

namespace {

// The sealed copies handed to the loader stay open for the life of the process (the loader
// may map them again, and a second dlopen of the same file must name the same copy so that
// the loader sees one object). Keyed on the file version they were made from; a deque keeps
// each name where it is.
struct Kept {
  FileIdentity id;
  UniqueFd fd;
  std::string name;   // /proc/self/fd/N
};
struct Copies {
  std::mutex mu;
  std::deque<Kept> kept;
};

const char* keep_copy(int original, UniqueFd copy) {
  FileIdentity id = identity_of(original, "library");
  Copies& c = immortal<Copies>();
  std::lock_guard<std::mutex> lock(c.mu);
  for (const auto& k : c.kept)
    if (k.id == id) return k.name.c_str();
  std::string name = proc_fd(copy.get());
  c.kept.push_back(Kept{id, std::move(copy), std::move(name)});
  return c.kept.back().name.c_str();
}

bool has_slash(const char* s) { return s && std::strchr(s, '/'); }

}  // namespace

void hold_code_locks(bool hold) noexcept {
  Copies& c = immortal<Copies>();
  hold ? c.mu.lock() : c.mu.unlock();
}

const char* const kRefused = reinterpret_cast<const char*>(-1);

// What the loader is given instead of `file`: kRefused (errno EACCES), or `file` itself when
// the shim has no say (a name the loader searches for, outside every root, RTLD_NOLOAD).
const char* loader_name(const char* file, int mode) noexcept {
  if (inside_shim() || !has_slash(file) || (mode & RTLD_NOLOAD)) return file;
  CodeOpen o = open_code(AT_FDCWD, file, 0, Use::load, "load");
  if (o.kind == CodeOpen::outside) return file;
  if (o.kind == CodeOpen::refused) {
    errno = EACCES;
    return kRefused;
  }
  if (!o.copy) return file;  // warn mode: logged, loaded as it is
  Inside in;
  try {
    return keep_copy(o.fd.get(), std::move(o.copy));
  } catch (...) {
    write_stderr(std::string("modelseal: load refused (cannot keep the verified copy): ") + file + "\n");
    errno = EACCES;
    return kRefused;
  }
}

namespace {

// A script is run by its interpreter, which opens /dev/fd/N by name: N must survive the exec.
void keep_open_for_script(int fd) {
  char head[2];
  if (::pread(fd, head, 2, 0) == 2 && head[0] == '#' && head[1] == '!') {
    int fl = ::fcntl(fd, F_GETFD);
    if (fl >= 0) ::fcntl(fd, F_SETFD, fl & ~FD_CLOEXEC);
  }
}

long sys_execveat(int dirfd, const char* path, char* const argv[], char* const envp[], int flags) {
  return ::syscall(SYS_execveat, dirfd, path, argv, envp, flags);
}

// The interpreter a script names on its #! line ("" if none): the kernel opens it by name, so
// one below a root is judged like the script.
std::string interpreter_of(int dirfd, const char* path, int at_flags) {
  Inside in;
  std::string self;
  if (!*path && (at_flags & AT_EMPTY_PATH)) {
    self = proc_fd(dirfd);
    path = self.c_str();
    dirfd = AT_FDCWD;
  }
  UniqueFd fd(::openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  char head[256];
  ssize_t n = fd ? ::pread(fd.get(), head, sizeof head, 0) : -1;
  if (n < 3 || head[0] != '#' || head[1] != '!') return {};
  std::string_view line(head + 2, static_cast<size_t>(n - 2));
  line = line.substr(0, line.find('\n'));
  size_t start = line.find_first_not_of(" \t");
  if (start == std::string_view::npos) return {};
  line = line.substr(start);
  return std::string(line.substr(0, line.find_first_of(" \t")));
}

// Runs `path` if the shim lets it; sets `refused` when the shim said no.
int exec_one(int dirfd, const char* path, char* const argv[], char* const envp[], int at_flags, bool& refused) {
  CodeOpen o = open_code(dirfd, path, at_flags, Use::exec, "exec");
  if (o.kind != CodeOpen::refused && !inside_shim() && !config().roots.empty()) {
    std::string interp = interpreter_of(o.fd ? o.fd.get() : dirfd, o.fd ? "" : path, o.fd ? AT_EMPTY_PATH : at_flags);
    if (!interp.empty() && open_code(AT_FDCWD, interp.c_str(), 0, Use::exec, "exec").kind == CodeOpen::refused)
      o.kind = CodeOpen::refused;
  }
  if (o.kind == CodeOpen::refused) {
    refused = true;
    errno = EACCES;
    return -1;
  }
  if (o.kind == CodeOpen::outside) return static_cast<int>(sys_execveat(dirfd, path, argv, envp, at_flags));
  keep_open_for_script(o.fd.get());
  // The kernel runs the inode of the verified descriptor, and refuses (ETXTBSY) while anyone
  // has it open for writing; no second lookup by name.
  return static_cast<int>(sys_execveat(o.fd.get(), "", argv, envp, AT_EMPTY_PATH));
}

bool retry_next(int err) {
  return err == ENOENT || err == ENOTDIR || err == ESTALE || err == ENODEV || err == ETIMEDOUT || err == EACCES;
}

// The candidates for a name searched in PATH, in order.
std::vector<std::string> search_path(const char* file) {
  const char* p = std::getenv("PATH");
  std::string_view rest = p ? p : "/bin:/usr/bin";
  std::vector<std::string> out;
  while (true) {
    size_t colon = rest.find(':');
    std::string dir(rest.substr(0, colon));
    out.push_back((dir.empty() ? std::string(".") : dir) + "/" + file);
    if (colon == std::string_view::npos) break;
    rest = rest.substr(colon + 1);
  }
  return out;
}

}  // namespace

void* gated_dlopen(const char* file, int mode, dlopen_fn real) noexcept {
  if (!real) return nullptr;
  const char* name = loader_name(file, mode);
  return name == kRefused ? nullptr : real(name, mode);
}

void* gated_dlmopen(Lmid_t lmid, const char* file, int mode, dlmopen_fn real) noexcept {
  if (!real) return nullptr;
  const char* name = loader_name(file, mode);
  return name == kRefused ? nullptr : real(lmid, name, mode);
}

int gated_execveat(int dirfd, const char* path, char* const argv[], char* const envp[], int at_flags) noexcept {
  bool refused = false;
  return exec_one(dirfd, path, argv, envp, at_flags, refused);
}

int gated_execvpe(const char* file, char* const argv[], char* const envp[]) noexcept {
  if (!file || !*file) {
    errno = ENOENT;
    return -1;
  }
  std::vector<std::string> candidates;
  try {
    candidates = has_slash(file) ? std::vector<std::string>{file} : search_path(file);
  } catch (...) {
    errno = ENOMEM;
    return -1;
  }
  int first_err = ENOENT;
  bool saw_eacces = false;
  for (const auto& c : candidates) {
    bool refused = false;
    exec_one(AT_FDCWD, c.c_str(), argv, envp, 0, refused);
    int err = errno;
    if (refused) return -1;  // a refused program is not replaced by the next one of that name
    if (err == ENOEXEC) {    // no #! line: the shell runs it, as execvp(3) does
      std::vector<char*> sh{const_cast<char*>("/bin/sh"), const_cast<char*>(c.c_str())};
      for (size_t i = 1; argv && argv[0] && argv[i]; ++i) sh.push_back(argv[i]);
      sh.push_back(nullptr);
      exec_one(AT_FDCWD, "/bin/sh", sh.data(), envp, 0, refused);
      return -1;
    }
    if (!retry_next(err) || has_slash(file)) return -1;
    saw_eacces |= err == EACCES;
    if (err != ENOENT) first_err = err;
  }
  errno = saw_eacces ? EACCES : first_err;
  return -1;
}

int gated_spawn(pid_t* pid, const char* path, const posix_spawn_file_actions_t* actions,
                const posix_spawnattr_t* attr, char* const argv[], char* const envp[], bool search) noexcept {
  using spawn_fn = int (*)(pid_t*, const char*, const posix_spawn_file_actions_t*, const posix_spawnattr_t*,
                           char* const[], char* const[]);
  static const auto real_spawn = reinterpret_cast<spawn_fn>(dlsym(RTLD_NEXT, "posix_spawn"));
  static const auto real_spawnp = reinterpret_cast<spawn_fn>(dlsym(RTLD_NEXT, "posix_spawnp"));
  if (!real_spawn || !real_spawnp) return ENOSYS;
  spawn_fn pass = search ? real_spawnp : real_spawn;
  if (inside_shim() || !path || config().roots.empty()) return pass(pid, path, actions, attr, argv, envp);
  std::string chosen;
  try {
    if (!search || has_slash(path)) {
      chosen = path;
    } else {
      for (const auto& c : search_path(path)) {
        struct stat st;
        if (::stat(c.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(c.c_str(), X_OK) == 0) {
          chosen = c;
          break;
        }
      }
      if (chosen.empty()) return pass(pid, path, actions, attr, argv, envp);
    }
  } catch (...) {
    return ENOMEM;
  }
  CodeOpen o = open_code(AT_FDCWD, chosen.c_str(), 0, Use::exec, "exec");
  if (o.kind == CodeOpen::refused) return EACCES;
  std::string interp = interpreter_of(AT_FDCWD, chosen.c_str(), 0);
  if (!interp.empty() && open_code(AT_FDCWD, interp.c_str(), 0, Use::exec, "exec").kind == CodeOpen::refused)
    return EACCES;
  if (o.kind == CodeOpen::outside) return real_spawn(pid, chosen.c_str(), actions, attr, argv, envp);
  // The child runs the verified descriptor (the magic link names the open file, not a path).
  keep_open_for_script(o.fd.get());
  std::string self = proc_fd(o.fd.get());
  return real_spawn(pid, self.c_str(), actions, attr, argv, envp);
}

}  // namespace modelseal::preload
