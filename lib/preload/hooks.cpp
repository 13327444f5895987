// The exported hooks of libmodelseal-preload.so: the open family and fopen. Each one hands the
// open to gated_openat(); nothing else in the shim is visible (see preload.map).
// The hooks define open and open64 (fopen and fopen64) separately: the header must not rename
// one to the other, as it does when the build asks for 64-bit file offsets.
#undef _FILE_OFFSET_BITS
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <dlfcn.h>
#include <fcntl.h>
#include <unistd.h>

#include "gate.hpp"

using modelseal::preload::gated_openat;

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

using fopen_fn = FILE* (*)(const char*, const char*);

FILE* gated_fopen(const char* path, const char* mode, fopen_fn real) {
  if (modelseal::preload::inside_shim() || !modelseal::preload::shim_active() || !path || !mode ||
      fopen_flags(mode) < 0) {
    if (real) return real(path, mode);
    errno = ENOSYS;
    return nullptr;
  }
  int fd = gated_openat(AT_FDCWD, path, fopen_flags(mode), 0666);
  if (fd < 0) return nullptr;
  FILE* f = fdopen(fd, mode);
  if (!f) {
    int err = errno;
    close(fd);
    errno = err;
  }
  return f;
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

}  // extern "C"
