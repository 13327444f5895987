// The exported hooks of libmodelseal-preload.so: every libc entry that opens a path (the open
// family, fopen, freopen, creat, truncate, the mkstemp family, mkdtemp, tmpfile, libio's file
// openers, catopen, posix_spawn's open actions), loads one (dlopen, dlmopen) or runs one (the
// exec family, posix_spawn). Opens go to gated_openat(),
// code to code.hpp; nothing else in the shim is visible (see preload.map).
// The hooks define open and open64 (fopen and fopen64) separately: the header must not rename
// one to the other, as it does when the build asks for 64-bit file offsets.
#undef _FILE_OFFSET_BITS
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <dlfcn.h>
#include <fcntl.h>
#include <nl_types.h>
#include <spawn.h>
#include <string>
#include <sys/random.h>
#include <unistd.h>
#include <vector>

#include "code.hpp"
#include "config.hpp"
#include "open.hpp"
#include "paths.hpp"
#include "spawn.hpp"

using modelseal::preload::gated_openat;
namespace preload = modelseal::preload;

namespace {

bool takes_mode(int flags) { return (flags & O_CREAT) || (flags & __O_TMPFILE) == __O_TMPFILE; }

// fopen()'s mode string as open(2) flags; -1 if it is not a valid mode.
int fopen_flags(const char* mode) {
  int flags;
  switch (mode[0]) {
    case 'r': flags = O_RDONLY; break;
    case 'w': flags = O_WRONLY | O_CREAT | O_TRUNC; break;
    case 'a': flags = O_WRONLY | O_CREAT | O_APPEND; break;
    default: return -1;
  }
  for (const char* m = mode + 1; *m && *m != ','; ++m) {
    if (*m == '+') flags = (flags & ~O_ACCMODE) | O_RDWR;
    else if (*m == 'x') flags |= O_EXCL;
    else if (*m == 'e') flags |= O_CLOEXEC;
  }
  return flags;
}

// (A descriptor closed on the way out keeps errno: a successful close(2) does not change it.)
using fopen_fn = FILE* (*)(const char*, const char*);

FILE* gated_fopen(const char* path, const char* mode, fopen_fn real) {
  if (modelseal::preload::inside_shim() || !modelseal::preload::shim_active() || !path || !mode ||
      fopen_flags(mode) < 0) {
    if (real) return real(path, mode);
    errno = ENOSYS;
    return nullptr;
  }
  modelseal::UniqueFd fd(gated_openat(AT_FDCWD, path, fopen_flags(mode), 0666));
  if (!fd) return nullptr;
  FILE* f = fdopen(fd.get(), mode);
  if (f) fd.release();
  return f;
}

using freopen_fn = FILE* (*)(const char*, const char*, FILE*);

// An fopen mode for opening again a file the shim has opened and judged: it truncates,
// creates or excludes nothing (the file exists and was judged).
std::string reopen_mode(const char* mode) {
  std::string m = mode[0] == 'w' ? std::string("r+") + (mode + 1) : std::string(mode);
  for (size_t x; (x = m.find('x')) != std::string::npos && x < m.find(',');) m.erase(x, 1);
  return m;
}

// freopen(3): the new file is opened (and judged) by the shim, then the stream is pointed at
// that very open file through /proc/self/fd. A NULL path (a change of mode) is the stream's
// own file, judged again for the new mode.
FILE* gated_freopen(const char* path, const char* mode, FILE* stream, freopen_fn real) {
  if (!real) {
    errno = ENOSYS;
    return nullptr;
  }
  if (preload::inside_shim() || !preload::shim_active() || !mode || !stream || fopen_flags(mode) < 0)
    return real(path, mode, stream);
  std::string own;
  if (!path) {
    own = modelseal::preload::proc_fd(fileno(stream));
    path = own.c_str();
  }
  modelseal::UniqueFd fd(gated_openat(AT_FDCWD, path, fopen_flags(mode) | O_CLOEXEC, 0666));
  if (!fd) {
    int err = errno;
    fclose(stream);  // freopen closes the stream when the new open fails
    errno = err;
    return nullptr;
  }
  std::string self = modelseal::preload::proc_fd(fd.get());
  return real(self.c_str(), reopen_mode(mode).c_str(), stream);
}

// mkstemp(3) and its kin: the names are made here and each create goes through the shim.
int gated_mkstemp(char* tmpl, int suffix_len, int flags) {
  static const char kChars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  size_t len = tmpl ? strlen(tmpl) : 0;
  if (suffix_len < 0 || len < 6 + static_cast<size_t>(suffix_len)) {
    errno = EINVAL;
    return -1;
  }
  char* x = tmpl + len - suffix_len - 6;
  if (strncmp(x, "XXXXXX", 6) != 0) {
    errno = EINVAL;
    return -1;
  }
  flags &= O_APPEND | O_CLOEXEC | O_SYNC | O_DSYNC | O_NOATIME | O_LARGEFILE;
  for (int attempt = 0; attempt < 1000; ++attempt) {
    unsigned char rnd[6];
    if (getrandom(rnd, sizeof rnd, 0) != static_cast<ssize_t>(sizeof rnd)) return -1;
    for (int i = 0; i < 6; ++i) x[i] = kChars[rnd[i] % (sizeof kChars - 1)];
    int fd = gated_openat(AT_FDCWD, tmpl, O_RDWR | O_CREAT | O_EXCL | flags, 0600);
    if (fd >= 0 || errno != EEXIST) return fd;
  }
  errno = EEXIST;
  return -1;
}

template <typename Fn>
Fn next(const char* name) {
  return reinterpret_cast<Fn>(dlsym(RTLD_NEXT, name));
}

// execl(3)'s list as an argv (and, for execle, the envp after it).
std::vector<char*> arg_list(const char* first, va_list ap) {
  std::vector<char*> argv{const_cast<char*>(first)};
  while (argv.back()) argv.push_back(va_arg(ap, char*));
  return argv;
}

}  // namespace

#define MODE_ARG(flags)                 \
  mode_t mode = 0;                      \
  if (takes_mode(flags)) {              \
    va_list ap;                         \
    va_start(ap, flags);                \
    mode = static_cast<mode_t>(va_arg(ap, int)); \
    va_end(ap);                         \
  }

// Everything else is compiled hidden; the hooks are the shim's only exports.
#define HOOK extern "C" __attribute__((visibility("default")))

extern "C" {

HOOK int open(const char* path, int flags, ...) {
  MODE_ARG(flags)
  return gated_openat(AT_FDCWD, path, flags, mode);
}

HOOK int open64(const char* path, int flags, ...) {
  MODE_ARG(flags)
  return gated_openat(AT_FDCWD, path, flags, mode);
}

HOOK int openat(int dirfd, const char* path, int flags, ...) {
  MODE_ARG(flags)
  return gated_openat(dirfd, path, flags, mode);
}

HOOK int openat64(int dirfd, const char* path, int flags, ...) {
  MODE_ARG(flags)
  return gated_openat(dirfd, path, flags, mode);
}

// Old public names of open and open64.
HOOK int __open(const char* path, int flags, ...) {
  MODE_ARG(flags)
  return gated_openat(AT_FDCWD, path, flags, mode);
}
HOOK int __open64(const char* path, int flags, ...) {
  MODE_ARG(flags)
  return gated_openat(AT_FDCWD, path, flags, mode);
}

// _FORTIFY_SOURCE variants (no mode argument).
HOOK int __open_2(const char* path, int flags) { return gated_openat(AT_FDCWD, path, flags, 0); }
HOOK int __open64_2(const char* path, int flags) { return gated_openat(AT_FDCWD, path, flags, 0); }
HOOK int __openat_2(int dirfd, const char* path, int flags) { return gated_openat(dirfd, path, flags, 0); }
HOOK int __openat64_2(int dirfd, const char* path, int flags) { return gated_openat(dirfd, path, flags, 0); }

// creat() would otherwise drop a new file into a root behind the shim's back.
HOOK int creat(const char* path, mode_t mode) { return gated_openat(AT_FDCWD, path, O_WRONLY | O_CREAT | O_TRUNC, mode); }
HOOK int creat64(const char* path, mode_t mode) { return gated_openat(AT_FDCWD, path, O_WRONLY | O_CREAT | O_TRUNC, mode); }

HOOK FILE* fopen(const char* path, const char* mode) {
  static const auto real = reinterpret_cast<fopen_fn>(dlsym(RTLD_NEXT, "fopen"));
  return gated_fopen(path, mode, real);
}
HOOK FILE* fopen64(const char* path, const char* mode) {
  static const auto real = reinterpret_cast<fopen_fn>(dlsym(RTLD_NEXT, "fopen64"));
  return gated_fopen(path, mode, real);
}

HOOK FILE* _IO_fopen(const char* path, const char* mode) {   // fopen's old public name
  static const auto real = next<fopen_fn>("_IO_fopen");
  return gated_fopen(path, mode, real);
}

// libio's exported file openers, which fill in a FILE the caller made: the file is opened (and
// judged) by the shim, and the FILE is given that very open file through /proc/self/fd.
HOOK FILE* _IO_file_fopen(FILE* fp, const char* path, const char* mode, int is32not64) {
  static const auto real = next<FILE* (*)(FILE*, const char*, const char*, int)>("_IO_file_fopen");
  if (!real) return nullptr;
  if (preload::inside_shim() || !preload::shim_active() || !path || !mode || fopen_flags(mode) < 0)
    return real(fp, path, mode, is32not64);
  modelseal::UniqueFd fd(gated_openat(AT_FDCWD, path, fopen_flags(mode) | O_CLOEXEC, 0666));
  if (!fd) return nullptr;
  return real(fp, modelseal::preload::proc_fd(fd.get()).c_str(), reopen_mode(mode).c_str(), is32not64);
}
HOOK FILE* _IO_file_open(FILE* fp, const char* path, int flags, int prot, int read_write, int is32not64) {
  static const auto real = next<FILE* (*)(FILE*, const char*, int, int, int, int)>("_IO_file_open");
  if (!real) return nullptr;
  if (preload::inside_shim() || !preload::shim_active() || !path) return real(fp, path, flags, prot, read_write, is32not64);
  modelseal::UniqueFd fd(gated_openat(AT_FDCWD, path, flags | O_CLOEXEC, static_cast<mode_t>(prot)));
  if (!fd) return nullptr;
  return real(fp, modelseal::preload::proc_fd(fd.get()).c_str(), flags & ~(O_CREAT | O_EXCL | O_TRUNC | O_NOFOLLOW),
              prot, read_write, is32not64);
}

// catopen(3) of a path (a name with a slash; a bare name is searched in NLSPATH, like dlopen's
// search): the catalog is read from the file judged here.
HOOK nl_catd catopen(const char* name, int flag) {
  static const auto real = next<nl_catd (*)(const char*, int)>("catopen");
  if (!real) return reinterpret_cast<nl_catd>(-1);
  if (preload::inside_shim() || !preload::shim_active() || !std::strchr(name, '/')) return real(name, flag);
  modelseal::UniqueFd fd(gated_openat(AT_FDCWD, name, O_RDONLY | O_CLOEXEC, 0));
  if (!fd) return reinterpret_cast<nl_catd>(-1);
  return real(modelseal::preload::proc_fd(fd.get()).c_str(), flag);
}

HOOK FILE* freopen(const char* path, const char* mode, FILE* stream) {
  static const auto real = next<freopen_fn>("freopen");
  return gated_freopen(path, mode, stream, real);
}
HOOK FILE* freopen64(const char* path, const char* mode, FILE* stream) {
  static const auto real = next<freopen_fn>("freopen64");
  return gated_freopen(path, mode, stream, real);
}

// truncate(2) rewrites a file in place: it is an open for writing.
static int gated_truncate(const char* path, off64_t length) {
  modelseal::UniqueFd fd(gated_openat(AT_FDCWD, path, O_WRONLY | O_NONBLOCK | O_CLOEXEC, 0));
  if (!fd) return -1;
  return ftruncate64(fd.get(), length);
}
HOOK int truncate(const char* path, off_t length) { return gated_truncate(path, length); }
HOOK int truncate64(const char* path, off64_t length) { return gated_truncate(path, length); }

HOOK int mkstemp(char* tmpl) { return gated_mkstemp(tmpl, 0, 0); }
HOOK int mkstemp64(char* tmpl) { return gated_mkstemp(tmpl, 0, 0); }
HOOK int mkostemp(char* tmpl, int flags) { return gated_mkstemp(tmpl, 0, flags); }
HOOK int mkostemp64(char* tmpl, int flags) { return gated_mkstemp(tmpl, 0, flags); }
HOOK int mkstemps(char* tmpl, int suffix_len) { return gated_mkstemp(tmpl, suffix_len, 0); }
HOOK int mkstemps64(char* tmpl, int suffix_len) { return gated_mkstemp(tmpl, suffix_len, 0); }
HOOK int mkostemps(char* tmpl, int suffix_len, int flags) { return gated_mkstemp(tmpl, suffix_len, flags); }
HOOK int mkostemps64(char* tmpl, int suffix_len, int flags) { return gated_mkstemp(tmpl, suffix_len, flags); }

HOOK char* mkdtemp(char* tmpl) {
  static const auto real = next<char* (*)(char*)>("mkdtemp");
  if (!real) return nullptr;
  if (!preload::may_create(AT_FDCWD, tmpl)) {
    errno = EACCES;
    return nullptr;
  }
  return real(tmpl);
}

// tmpfile(3) creates its file in P_tmpdir, which may itself be below a root.
static FILE* gated_tmpfile(const char* name) {
  const auto real = next<FILE* (*)()>(name);
  if (!real) return nullptr;
  if (!preload::may_create(AT_FDCWD, P_tmpdir "/tmpfile")) {
    errno = EACCES;
    return nullptr;
  }
  return real();
}
HOOK FILE* tmpfile() { return gated_tmpfile("tmpfile"); }
HOOK FILE* tmpfile64() { return gated_tmpfile("tmpfile64"); }

#ifdef MODELSEAL_DLOPEN_TRAMPOLINE
// dlopen and dlmopen are in dlopen_x86_64.S: they jump to the real ones, so that the loader sees
// the caller's own return address (its RUNPATH and namespace), not the shim's.
__attribute__((visibility("hidden"))) void* modelseal_preload_real_dlopen = nullptr;
__attribute__((visibility("hidden"))) void* modelseal_preload_real_dlmopen = nullptr;
__attribute__((visibility("hidden"))) const char* modelseal_preload_loader_name(const char* file, int mode) {
  static const bool resolved = [] {
    modelseal_preload_real_dlopen = dlsym(RTLD_NEXT, "dlopen");
    modelseal_preload_real_dlmopen = dlsym(RTLD_NEXT, "dlmopen");
    return true;
  }();
  (void)resolved;
  return preload::loader_name(file, mode);
}
#else
HOOK void* dlopen(const char* file, int mode) {
  static const auto real = next<preload::dlopen_fn>("dlopen");
  return preload::gated_dlopen(file, mode, real);
}
HOOK void* dlmopen(Lmid_t lmid, const char* file, int mode) {
  static const auto real = next<preload::dlmopen_fn>("dlmopen");
  return preload::gated_dlmopen(lmid, file, mode, real);
}
#endif

HOOK int execve(const char* path, char* const argv[], char* const envp[]) {
  return preload::gated_execveat(AT_FDCWD, path, argv, envp, 0);
}
HOOK int execveat(int dirfd, const char* path, char* const argv[], char* const envp[], int flags) {
  return preload::gated_execveat(dirfd, path, argv, envp, flags);
}
HOOK int fexecve(int fd, char* const argv[], char* const envp[]) {
  return preload::gated_execveat(fd, "", argv, envp, AT_EMPTY_PATH);
}
HOOK int execv(const char* path, char* const argv[]) {
  return preload::gated_execveat(AT_FDCWD, path, argv, environ, 0);
}
HOOK int execvp(const char* file, char* const argv[]) { return preload::gated_execvpe(file, argv, environ); }
HOOK int execvpe(const char* file, char* const argv[], char* const envp[]) {
  return preload::gated_execvpe(file, argv, envp);
}
HOOK int execl(const char* path, const char* arg, ...) {
  va_list ap;
  va_start(ap, arg);
  std::vector<char*> argv = arg_list(arg, ap);
  va_end(ap);
  return preload::gated_execveat(AT_FDCWD, path, argv.data(), environ, 0);
}
HOOK int execlp(const char* file, const char* arg, ...) {
  va_list ap;
  va_start(ap, arg);
  std::vector<char*> argv = arg_list(arg, ap);
  va_end(ap);
  return preload::gated_execvpe(file, argv.data(), environ);
}
HOOK int execle(const char* path, const char* arg, ...) {
  va_list ap;
  va_start(ap, arg);
  std::vector<char*> argv = arg_list(arg, ap);
  char* const* envp = va_arg(ap, char* const*);
  va_end(ap);
  return preload::gated_execveat(AT_FDCWD, path, argv.data(), envp, 0);
}

HOOK int posix_spawn_file_actions_addopen(posix_spawn_file_actions_t* fa, int fd, const char* path, int oflag,
                                          mode_t mode) {
  static const auto real = next<preload::addopen_fn>("posix_spawn_file_actions_addopen");
  return preload::spawn_addopen(fa, fd, path, oflag, mode, real);
}
HOOK int posix_spawn_file_actions_addchdir_np(posix_spawn_file_actions_t* fa, const char* path) {
  static const auto real = next<preload::addchdir_fn>("posix_spawn_file_actions_addchdir_np");
  return preload::spawn_addchdir(fa, path, real);
}
HOOK int posix_spawn_file_actions_addfchdir_np(posix_spawn_file_actions_t* fa, int fd) {
  static const auto real = next<preload::addfchdir_fn>("posix_spawn_file_actions_addfchdir_np");
  return preload::spawn_addfchdir(fa, fd, real);
}
HOOK int posix_spawn_file_actions_init(posix_spawn_file_actions_t* fa) {
  static const auto real = next<preload::lifecycle_fn>("posix_spawn_file_actions_init");
  return preload::spawn_forget(fa, real);
}
HOOK int posix_spawn_file_actions_destroy(posix_spawn_file_actions_t* fa) {
  static const auto real = next<preload::lifecycle_fn>("posix_spawn_file_actions_destroy");
  return preload::spawn_forget(fa, real);
}

HOOK int posix_spawn(pid_t* pid, const char* path, const posix_spawn_file_actions_t* actions,
                     const posix_spawnattr_t* attr, char* const argv[], char* const envp[]) {
  return preload::gated_spawn(pid, path, actions, attr, argv, envp, false);
}
HOOK int posix_spawnp(pid_t* pid, const char* file, const posix_spawn_file_actions_t* actions,
                      const posix_spawnattr_t* attr, char* const argv[], char* const envp[]) {
  return preload::gated_spawn(pid, file, actions, attr, argv, envp, true);
}

}  // extern "C"
