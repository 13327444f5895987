/* A program that writes "ran" to the file named by MODELSEAL_TEST_MARKER and prints "ran". */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(void) {
  const char* path = getenv("MODELSEAL_TEST_MARKER");
  if (path) {
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      if (write(fd, "ran\n", 4) != 4) return 3;
      close(fd);
    }
  }
  puts("ran");
  return 0;
}
