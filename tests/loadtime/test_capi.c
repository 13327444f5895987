/* The C API from C: test_capi MODEL POLICY PUBKEY
 * MODEL is a signed directory holding config.json ("{\"a\": 1}\n") and w.bin, and an unlisted
 * extra.bin; the driver (test_preload.py) prepares it. Exit 0 when every check holds. */
#define _POSIX_C_SOURCE 200809L
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "modelseal/modelseal.h"

static int failures = 0;

#define CHECK(cond)                                               \
  do {                                                            \
    if (!(cond)) {                                                \
      fprintf(stderr, "%s:%d: CHECK failed: %s (last error: %s)\n", \
              __FILE__, __LINE__, #cond, modelseal_last_error());  \
      ++failures;                                                 \
    }                                                             \
  } while (0)

int main(int argc, char** argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: test_capi MODEL POLICY PUBKEY\n");
    return 2;
  }
  const char* model_dir = argv[1];
  modelseal_policy* policy = NULL;
  modelseal_policy* one_key = NULL;
  modelseal_policy* missing = NULL;
  modelseal_model* model = NULL;

  CHECK(modelseal_policy_load(argv[2], &policy) == MODELSEAL_OK);
  CHECK(modelseal_policy_from_key(argv[3], &one_key) == MODELSEAL_OK);
  CHECK(modelseal_policy_load("/nonexistent/policy.json", &missing) == MODELSEAL_IO && missing == NULL);
  CHECK(strstr(modelseal_last_error(), "/nonexistent/policy.json") != NULL);

  /* The whole model has an unlisted file: a full verification refuses it... */
  CHECK(modelseal_verify(policy, model_dir, 0, &model) == MODELSEAL_NOT_TRUSTED && model == NULL);
  CHECK(strstr(modelseal_last_error(), "extra.bin") != NULL);
  /* ...the signature alone is fine, and each file is checked as it is read. */
  CHECK(modelseal_verify(one_key, model_dir, MODELSEAL_VERIFY_SIGNATURE_ONLY, &model) == MODELSEAL_OK);
  CHECK(model != NULL);
  CHECK(strncmp(modelseal_model_digest(model), "sha256:", 7) == 0 && strlen(modelseal_model_digest(model)) == 71);
  CHECK(!modelseal_model_files_checked(model));
  modelseal_model_free(model);
  CHECK(modelseal_verify(policy, model_dir, 99, &model) == MODELSEAL_USAGE && model == NULL);
  CHECK(modelseal_verify(policy, model_dir, MODELSEAL_VERIFY_SIGNATURE_ONLY, &model) == MODELSEAL_OK);

  unsigned char* data = NULL;
  size_t len = 0;
  CHECK(modelseal_read_verified(model, "config.json", &data, &len) == MODELSEAL_OK);
  CHECK(len == 9 && data && memcmp(data, "{\"a\": 1}\n", 9) == 0 && data[len] == 0);
  modelseal_free(data);
  CHECK(*modelseal_last_error() == '\0');

  CHECK(modelseal_read_verified(model, "extra.bin", &data, &len) == MODELSEAL_NOT_TRUSTED && data == NULL);
  CHECK(strstr(modelseal_last_error(), "not listed") != NULL);
  CHECK(modelseal_read_verified(model, "../escape", &data, &len) == MODELSEAL_USAGE);
  CHECK(modelseal_read_verified(model, NULL, &data, &len) == MODELSEAL_USAGE);

  int fd = -1;
  CHECK(modelseal_open_verified(model, "w.bin", &fd) == MODELSEAL_OK && fd >= 0);
  char buf[16];
  CHECK(read(fd, buf, sizeof buf) > 0);
  CHECK(modelseal_check_fd(model, "w.bin", fd) == MODELSEAL_OK);
  close(fd);

  /* The wrong file behind a listed name. */
  char path[4096];
  snprintf(path, sizeof path, "%s/config.json", model_dir);
  fd = open(path, O_RDONLY | O_CLOEXEC);
  CHECK(fd >= 0);
  CHECK(modelseal_check_fd(model, "w.bin", fd) == MODELSEAL_NOT_TRUSTED);
  CHECK(strstr(modelseal_last_error(), "modified") != NULL);
  close(fd);

  CHECK(strcmp(modelseal_status_string(MODELSEAL_NOT_TRUSTED), "not trusted") == 0);
  modelseal_model_free(model);
  modelseal_model_free(NULL);
  modelseal_policy_free(policy);
  modelseal_policy_free(one_key);
  if (failures) fprintf(stderr, "%d check(s) failed\n", failures);
  return failures ? 1 : 0;
}
