// posix_spawn's file actions. An open action is carried out by libc in the child, between fork
// and exec, where no hook sees it; so it is judged when it is added, in the caller, and the
// child is given the very file judged (/proc/self/fd/N of a descriptor the shim keeps until the
// actions are destroyed or initialised again). A chdir action moves where the child's relative
// paths land; one by descriptor (or to a folder not there yet) cannot be followed, and a
// relative open after it is refused.
#include "spawn.hpp"

#include <cerrno>
#include <fcntl.h>
#include <map>
#include <mutex>
#include <sys/syscall.h>
#include <unistd.h>
#include <vector>

#include "config.hpp"
#include "open.hpp"

namespace modelseal::preload {

namespace {

struct Actions {
  UniqueFd cwd;              // the child's working directory after the chdir actions so far
  bool cwd_unknown = false;  // after a chdir by descriptor
  std::vector<UniqueFd> kept;
};

struct Registry {
  std::mutex mu;
  std::map<const posix_spawn_file_actions_t*, Actions> by;
};

Registry& registry() { return immortal<Registry>(); }

bool active() { return !inside_shim() && !config().roots.empty(); }

}  // namespace

void hold_spawn_locks(bool hold) noexcept {
  Registry& r = registry();
  hold ? r.mu.lock() : r.mu.unlock();
}

int spawn_addopen(posix_spawn_file_actions_t* fa, int fd, const char* path, int oflag, mode_t mode,
                  addopen_fn real) noexcept {
  if (!real) return ENOSYS;
  if (!fa || !path || !*path || !active()) return real(fa, fd, path, oflag, mode);
  try {
    Registry& r = registry();
    UniqueFd base;
    if (path[0] != '/') {
      std::lock_guard<std::mutex> lock(r.mu);
      auto it = r.by.find(fa);
      if (it != r.by.end() && it->second.cwd_unknown) {
        write_stderr(std::string("modelseal: open refused (a spawned program's relative path after a chdir by "
                                 "descriptor: the shim cannot tell where it lands): ") + path + "\n");
        return EACCES;
      }
      if (it != r.by.end() && it->second.cwd) base = UniqueFd(::fcntl(it->second.cwd.get(), F_DUPFD_CLOEXEC, 0));
      if (it != r.by.end() && it->second.cwd && !base) return errno;
    }
    UniqueFd kept;
    std::string child_path;
    int child_flags = oflag;
    int err = open_for_child(base ? base.get() : AT_FDCWD, path, child_flags, mode, kept, child_path);
    if (err) return err;
    int rc = real(fa, fd, child_path.c_str(), child_flags, mode);
    if (rc == 0) {
      std::lock_guard<std::mutex> lock(r.mu);
      r.by[fa].kept.push_back(std::move(kept));
    }
    return rc;
  } catch (...) {
    return ENOMEM;
  }
}

int spawn_addchdir(posix_spawn_file_actions_t* fa, const char* path, addchdir_fn real) noexcept {
  if (!real) return ENOSYS;
  int rc = real(fa, path);
  if (rc != 0 || !active() || !path) return rc;
  try {
    Registry& r = registry();
    std::lock_guard<std::mutex> lock(r.mu);
    Actions& a = r.by[fa];
    if (a.cwd_unknown) return 0;
    int from = path[0] == '/' || !a.cwd ? AT_FDCWD : a.cwd.get();
    a.cwd = UniqueFd(static_cast<int>(::syscall(SYS_openat, from, path, O_PATH | O_DIRECTORY | O_CLOEXEC, 0)));
    a.cwd_unknown = !a.cwd;   // a folder made only after this would be unseen
    return 0;
  } catch (...) {
    return ENOMEM;
  }
}

int spawn_addfchdir(posix_spawn_file_actions_t* fa, int fd, addfchdir_fn real) noexcept {
  if (!real) return ENOSYS;
  int rc = real(fa, fd);
  if (rc != 0 || !active()) return rc;
  try {
    Registry& r = registry();
    std::lock_guard<std::mutex> lock(r.mu);
    Actions& a = r.by[fa];
    a.cwd_unknown = true;   // the child's descriptor `fd` may by then be another file
    a.cwd = UniqueFd();
    return 0;
  } catch (...) {
    return ENOMEM;
  }
}

int spawn_forget(posix_spawn_file_actions_t* fa, lifecycle_fn real) noexcept {
  if (!real) return ENOSYS;
  {
    Registry& r = registry();
    std::lock_guard<std::mutex> lock(r.mu);
    r.by.erase(fa);
  }
  return real(fa);
}

}  // namespace modelseal::preload
