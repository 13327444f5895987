/* open_probe HOW PATH: opens PATH for reading the way HOW says (open, open64, __open, __open64,
 * openat, openat64, __open_2, __open64_2, __openat_2, __openat64_2, fopen, fopen64, _IO_fopen,
 * _IO_file_fopen, _IO_file_open, freopen, freopen64: as stdin; spawn: as the stdin of a cat run
 * by posix_spawn, opened by a file action; spawn-chdir, spawn-fchdir: the same after a chdir
 * action to PATH's folder, with PATH's last name) and copies it to stdout, or opens it for
 * writing (creat, fopen-w, open-rw, freopen-w, truncate, spawn-w: as the stdout of a true run by
 * posix_spawn) and writes nothing, or creates a file from the template PATH (mkstemp,
 * mkostemp, mkstemps, mkostemps with a 4-byte suffix, mkdtemp) and prints its name, or tmpfile,
 * or opens PATH as a message catalog (catopen) and prints message 1 of set 1. Prints the error
 * and exits 1 when the open fails; every variant is reached through its own symbol. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <nl_types.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int __open(const char* path, int flags, ...);
int __open64(const char* path, int flags, ...);
FILE* _IO_fopen(const char* path, const char* mode);
FILE* _IO_file_fopen(FILE* fp, const char* path, const char* mode, int is32not64);
FILE* _IO_file_open(FILE* fp, const char* path, int flags, int prot, int read_write, int is32not64);
extern char** environ;

/* Runs PROG (cat or true) with FD opened from PATH by a file action (after a chdir action to
 * PATH's folder when chdir is 1, or an fchdir action when it is 2); its exit status. */
static int spawn_with(const char* prog, int fd, const char* path, int flags, int chdir) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  char dir[4096], base[4096];
  snprintf(dir, sizeof dir, "%s", path);
  snprintf(base, sizeof base, "%s", path);
  int dfd = -1, rc = 0;
  if (chdir == 1) rc = posix_spawn_file_actions_addchdir_np(&fa, dirname(dir));
  if (chdir == 2) {
    dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY);
    rc = posix_spawn_file_actions_addfchdir_np(&fa, dfd);
  }
  if (rc == 0) rc = posix_spawn_file_actions_addopen(&fa, fd, chdir ? basename(base) : path, flags, 0644);
  if (rc != 0) {
    fprintf(stderr, "open_probe: %s: %s\n", path, strerror(rc));
    return 1;
  }
  pid_t pid;
  char* argv[] = {(char*)prog, NULL};
  rc = posix_spawn(&pid, prog, &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) {
    fprintf(stderr, "open_probe: spawn %s: %s\n", prog, strerror(rc));
    return 1;
  }
  int status;
  if (waitpid(pid, &status, 0) != pid) return 1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

static ssize_t no_read(void* c, char* b, size_t n) { (void)c, (void)b, (void)n; return -1; }

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
  else if (!strcmp(how, "__open")) fd = __open(path, O_RDONLY);
  else if (!strcmp(how, "__open64")) fd = __open64(path, O_RDONLY);
  else if (!strcmp(how, "_IO_fopen")) f = _IO_fopen(path, "rb");
  else if (!strcmp(how, "_IO_file_fopen") || !strcmp(how, "_IO_file_open")) {
    /* A FILE with no file yet, for libio's openers to fill in. */
    cookie_io_functions_t io = {no_read, NULL, NULL, NULL};
    FILE* blank = fopencookie(NULL, "r", io);
    if (!blank) return 2;
    blank->_fileno = -1; /* a cookie FILE is marked -2: "open", which _IO_file_fopen would refuse */
    f = !strcmp(how, "_IO_file_fopen") ? _IO_file_fopen(blank, path, "r", 1)
                                       : _IO_file_open(blank, path, O_RDONLY, 0666, 8 /* _IO_NO_WRITES */, 1);
    if (f) return copy_fd(fileno(f));
  } else if (!strcmp(how, "catopen")) {
    nl_catd c = catopen(path, 0);
    if (c != (nl_catd)-1) return puts(catgets(c, 1, 1, "(none)")) < 0;
  } else if (!strcmp(how, "spawn")) return fflush(stdout), spawn_with("/bin/cat", 0, path, O_RDONLY, 0);
  else if (!strcmp(how, "spawn-chdir")) return fflush(stdout), spawn_with("/bin/cat", 0, path, O_RDONLY, 1);
  else if (!strcmp(how, "spawn-fchdir")) return fflush(stdout), spawn_with("/bin/cat", 0, path, O_RDONLY, 2);
  else if (!strcmp(how, "spawn-w")) return spawn_with("/bin/true", 1, path, O_WRONLY | O_CREAT | O_TRUNC, 0);
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
