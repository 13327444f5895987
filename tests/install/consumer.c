/* A C program built only from `pkg-config --cflags --libs modelseal`: verifies MODEL with PUB
 * and prints the verified bytes of FILE's digest line. */
#include <modelseal/modelseal.h>
#include <stdio.h>

int main(int argc, char** argv) {
  modelseal_policy* p = NULL;
  modelseal_model* m = NULL;
  unsigned char* buf = NULL;
  size_t len = 0;
  if (argc != 4) return 2;
  if (modelseal_policy_from_key(argv[2], &p) || modelseal_verify(p, argv[1], 0, &m) ||
      modelseal_read_verified(m, argv[3], &buf, &len)) {
    fprintf(stderr, "consumer: %s\n", modelseal_last_error());
    return 1;
  }
  printf("%s %zu\n", modelseal_model_digest(m), len);
  modelseal_free(buf);
  modelseal_model_free(m);
  modelseal_policy_free(p);
  return 0;
}
