/* exec_probe HOW PATH: runs PATH (no arguments) the way HOW says: execve, execv, execvp, execl,
 * execlp, execle, fexecve, execveat, posix_spawn, posix_spawnp, and for dlopen loads PATH as a
 * shared object. Exit 0 when it ran (or loaded), 1 with the error on stderr when refused. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

static int fail(const char* how, const char* path, int err) {
  fprintf(stderr, "exec_probe: %s %s: %s\n", how, path, strerror(err));
  return 1;
}

int main(int argc, char** argv) {
  if (argc != 3) return 2;
  const char* how = argv[1];
  const char* path = argv[2];
  char* args[] = {(char*)path, NULL};
  if (!strcmp(how, "dlopen") || !strcmp(how, "dlmopen")) {
    void* h = !strcmp(how, "dlopen") ? dlopen(path, RTLD_NOW) : dlmopen(LM_ID_NEWLM, path, RTLD_NOW);
    if (!h) return fail(how, path, errno);
    int (*answer)(void) = (int (*)(void))dlsym(h, "marker_answer");
    printf("answer %d\n", answer ? answer() : -1);
    return 0;
  }
  if (!strcmp(how, "posix_spawn") || !strcmp(how, "posix_spawnp")) {
    pid_t pid;
    int rc = !strcmp(how, "posix_spawn") ? posix_spawn(&pid, path, NULL, NULL, args, environ)
                                         : posix_spawnp(&pid, path, NULL, NULL, args, environ);
    if (rc != 0) return fail(how, path, rc);
    int status;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 4;
  }
  fflush(stdout);
  if (!strcmp(how, "execve")) execve(path, args, environ);
  else if (!strcmp(how, "execv")) execv(path, args);
  else if (!strcmp(how, "execvp")) execvp(path, args);
  else if (!strcmp(how, "execl")) execl(path, path, (char*)NULL);
  else if (!strcmp(how, "execlp")) execlp(path, path, (char*)NULL);
  else if (!strcmp(how, "execle")) execle(path, path, (char*)NULL, environ);
  else if (!strcmp(how, "execveat")) execveat(AT_FDCWD, path, args, environ, 0);
  else if (!strcmp(how, "fexecve")) {
    int fd = open(path, O_PATH | O_CLOEXEC);
    if (fd < 0) return fail("open", path, errno);
    fexecve(fd, args, environ);
  } else return 2;
  return fail(how, path, errno);
}
