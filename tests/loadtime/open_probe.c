/* open_probe HOW PATH: opens PATH for reading the way HOW says (open, open64, openat, openat64,
 * __open_2, __open64_2, __openat_2, __openat64_2, fopen, fopen64, freopen, freopen64: as
 * stdin) and copies it to stdout, or opens it for writing (creat, fopen-w, open-rw, freopen-w,
 * truncate) and writes nothing, or creates a file from the template PATH (mkstemp, mkostemp,
 * mkstemps, mkostemps with a 4-byte suffix, mkdtemp) and prints its name, or tmpfile. Prints
 * the error and exits 1 when the open fails; every variant is reached through its own symbol. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int __open_2(const char* path, int flags);
int __open64_2(const char* path, int flags);
int __openat_2(int dirfd, const char* path, int flags);
int __openat64_2(int dirfd, const char* path, int flags);
int open64(const char* path, int flags, ...);
int openat64(int dirfd, const char* path, int flags, ...);
FILE* fopen64(const char* path, const char* mode);
int creat(const char* path, mode_t mode);

static int copy_fd(int fd) {
  char buf[65536];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0)
    if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n) return 1;
  return n < 0;
}

int main(int argc, char** argv) {
  if (argc != 3) return 2;
  const char* how = argv[1];
  const char* path = argv[2];
  int fd = -1;
  FILE* f = NULL;
  if (!strcmp(how, "open")) fd = open(path, O_RDONLY);
  else if (!strcmp(how, "open64")) fd = open64(path, O_RDONLY);
  else if (!strcmp(how, "openat")) fd = openat(AT_FDCWD, path, O_RDONLY);
  else if (!strcmp(how, "openat64")) fd = openat64(AT_FDCWD, path, O_RDONLY);
  else if (!strcmp(how, "__open_2")) fd = __open_2(path, O_RDONLY);
  else if (!strcmp(how, "__open64_2")) fd = __open64_2(path, O_RDONLY);
  else if (!strcmp(how, "__openat_2")) fd = __openat_2(AT_FDCWD, path, O_RDONLY);
  else if (!strcmp(how, "__openat64_2")) fd = __openat64_2(AT_FDCWD, path, O_RDONLY);
  else if (!strcmp(how, "fopen")) f = fopen(path, "rb");
  else if (!strcmp(how, "fopen64")) f = fopen64(path, "rb");
  else if (!strcmp(how, "fopen-w")) f = fopen(path, "ab");
  else if (!strcmp(how, "creat")) fd = creat(path, 0644);
  else if (!strcmp(how, "open-rw")) fd = open(path, O_RDWR);
  else if (!strcmp(how, "freopen") || !strcmp(how, "freopen64")) {
    f = !strcmp(how, "freopen") ? freopen(path, "rb", stdin) : freopen64(path, "rb", stdin);
    if (f) return copy_fd(fileno(f));
  } else if (!strcmp(how, "freopen-w")) {
    f = freopen(path, "ab", stdout);
    if (f) return 0;
  } else if (!strcmp(how, "truncate")) {
    if (truncate(path, 0) == 0) return 0;
  } else if (!strcmp(how, "tmpfile")) {
    f = tmpfile();
    if (f) return 0;
  } else if (!strncmp(how, "mk", 2)) {
    char name[4096];
    snprintf(name, sizeof name, "%s", path);
    if (!strcmp(how, "mkdtemp")) {
      if (mkdtemp(name)) return puts(name) < 0;
    } else {
      if (!strcmp(how, "mkstemp")) fd = mkstemp(name);
      else if (!strcmp(how, "mkostemp")) fd = mkostemp(name, O_CLOEXEC);
      else if (!strcmp(how, "mkstemps")) fd = mkstemps(name, 4);
      else if (!strcmp(how, "mkostemps")) fd = mkostemps(name, 4, O_CLOEXEC);
      else return 2;
      if (fd >= 0) return puts(name) < 0;
    }
  } else return 2;
  if (fd < 0 && !f) {
    fprintf(stderr, "open_probe: %s: %s\n", path, strerror(errno));
    return 1;
  }
  if (f) fd = fileno(f);
  int rc = (strcmp(how, "creat") && strcmp(how, "fopen-w") && strcmp(how, "open-rw")) ? copy_fd(fd) : 0;
  if (f) fclose(f);
  else close(fd);
  return rc;
}
