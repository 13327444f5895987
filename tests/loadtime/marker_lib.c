/* A shared object whose constructor writes "loaded" to the file named by MODELSEAL_TEST_MARKER:
 * the proof that the loader ran its code. */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

__attribute__((constructor)) static void mark(void) {
  const char* path = getenv("MODELSEAL_TEST_MARKER");
  if (!path) return;
  int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (fd < 0) return;
  if (write(fd, "loaded\n", 7) != 7) _exit(3);
  close(fd);
}

int marker_answer(void) { return 42; }
