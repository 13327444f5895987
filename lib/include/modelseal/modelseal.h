/* modelseal C API: verify a signed model and read its files verified (DESIGN §4).
 *
 * Every function returns a modelseal_status; on failure modelseal_last_error() gives one line
 * saying what failed (per thread, valid until the next call into this API on that thread).
 * Handles are opaque; free them with their _free function (NULL is accepted).
 *
 *   modelseal_policy* p;  modelseal_model* m;  unsigned char* buf;  size_t len;
 *   if (modelseal_policy_load("policy.json", &p) ||
 *       modelseal_verify(p, "./bert", 0, &m) ||
 *       modelseal_read_verified(m, "config.json", &buf, &len))
 *     fprintf(stderr, "modelseal: %s\n", modelseal_last_error());
 */
#ifndef MODELSEAL_MODELSEAL_H
#define MODELSEAL_MODELSEAL_H

#include <stddef.h>

#pragma GCC visibility push(default)   // the installed API: exported from libmodelseal.so

#ifdef __cplusplus
extern "C" {
#endif

/* The same values as the tools' exit status. */
typedef enum modelseal_status {
  MODELSEAL_OK = 0,
  MODELSEAL_NOT_TRUSTED = 1, /* verification failed: the model or file is not trusted */
  MODELSEAL_USAGE = 2,       /* bad argument, bad policy, path not in the model */
  MODELSEAL_IO = 3           /* I/O or system error (also out of memory) */
} modelseal_status;

typedef struct modelseal_policy modelseal_policy;
typedef struct modelseal_model modelseal_model;

/* Flags of modelseal_verify(). */
#define MODELSEAL_VERIFY_SIGNATURE_ONLY 1u /* authenticate the signature only; files are checked
                                              as they are read (modelseal_open_verified) */

/* The last error of this thread, or "" after a success. Never NULL. */
const char* modelseal_last_error(void);
/* "ok", "not trusted", "usage error", "i/o error". */
const char* modelseal_status_string(modelseal_status status);

/* A trust policy file (modelseal-policy(5)). */
modelseal_status modelseal_policy_load(const char* path, modelseal_policy** out);
/* A one-key policy from a public key file (like `verify -p KEY.pub`). */
modelseal_status modelseal_policy_from_key(const char* public_key_path, modelseal_policy** out);
void modelseal_policy_free(modelseal_policy* policy);

/* Verifies the model directory or file `model` (signature in model.sig, or FILE.sig) against
 * `policy`: the signature, and unless MODELSEAL_VERIFY_SIGNATURE_ONLY, every file on disk. */
modelseal_status modelseal_verify(const modelseal_policy* policy, const char* model, unsigned flags,
                                  modelseal_model** out);
void modelseal_model_free(modelseal_model* model);
/* "sha256:<hex>" of the verified manifest; owned by `model`. */
const char* modelseal_model_digest(const modelseal_model* model);
/* Non-zero if every file was hashed and matched when the model was verified. */
int modelseal_model_files_checked(const modelseal_model* model);

/* The content of the listed file `path` (relative to the model), hashed in the same pass that
 * read it. *data is malloc'ed (NUL-terminated for convenience, not counted in *len); release it
 * with modelseal_free(). */
modelseal_status modelseal_read_verified(const modelseal_model* model, const char* path, unsigned char** data,
                                         size_t* len);
/* A read-only descriptor (close-on-exec, offset 0) of the listed file `path`, whose content was
 * hashed through that descriptor and matched. The caller closes it. */
modelseal_status modelseal_open_verified(const modelseal_model* model, const char* path, int* fd);
/* Checks an already open regular file `fd` (hashed with pread, offset unchanged) against the
 * signature's entry for `path`. */
modelseal_status modelseal_check_fd(const modelseal_model* model, const char* path, int fd);

void modelseal_free(void* data);

#ifdef __cplusplus
}
#endif

#pragma GCC visibility pop

#endif /* MODELSEAL_MODELSEAL_H */
