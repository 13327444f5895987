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

/* Flags of modelseal_verify() and modelseal_verify_options.flags. */
#define MODELSEAL_VERIFY_SIGNATURE_ONLY 1u /* authenticate the signature only; files are checked
                                              as they are read (modelseal_open_verified) */
#define MODELSEAL_VERIFY_INSECURE_IGNORE_UNLISTED_FILES 2u /* skip files on disk the signature does
                                                             not list (they stay unverified) */
#define MODELSEAL_VERIFY_INSECURE_ALLOW_SYMLINKS 4u /* follow symlinks even when the signature was
                                                      made without them */

/* The last error of this thread, or "" after a success. Never NULL. */
const char* modelseal_last_error(void);
/* The last error as the tools print it after "modelseal: " (one line, unprintable bytes escaped),
 * without the hint; "" after a success. Never NULL. */
const char* modelseal_last_message(void);
/* What to do about the last error, as the tools print it after "hint: "; often "". Never NULL. */
const char* modelseal_last_hint(void);
/* The errno of the system call behind the last MODELSEAL_IO error of this thread (ENOENT, EACCES,
 * ENOMEM for out of memory, ...), or 0 when there was none (a success, or not a system error). */
int modelseal_last_errno(void);
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
/* Options of modelseal_verify_with(). Zero-initialize, set size = sizeof(modelseal_verify_options),
 * then the fields you need: a caller built against an older, shorter struct keeps working. */
typedef struct modelseal_verify_options {
  size_t size;                    /* sizeof(modelseal_verify_options) */
  unsigned flags;                 /* MODELSEAL_VERIFY_* */
  unsigned threads;               /* hashing threads; 0: one per core */
  const char* signature;          /* NULL: MODEL/model.sig, or FILE.sig */
  const char* model_name;         /* the name the model must have been signed as, for policies that
                                     scope keys to models; NULL: the folder's (file's) name */
  const char* const* ignore;      /* NULL-terminated paths (relative to the model) to leave out, or NULL */
  const char* age_identity;       /* an encrypted model: an age identity file (mode 0600) to decrypt
                                     NAME.age with, in memory: verified as `verify -i` does, and
                                     modelseal_open_verified / modelseal_read_verified give NAME's
                                     checked plaintext when only NAME.age is there; NULL: none */
} modelseal_verify_options;

/* modelseal_verify() with options (NULL: the defaults, like flags 0). */
modelseal_status modelseal_verify_with(const modelseal_policy* policy, const char* model,
                                       const modelseal_verify_options* options, modelseal_model** out);
void modelseal_model_free(modelseal_model* model);
/* "sha256:<hex>" of the verified manifest; owned by `model`. */
const char* modelseal_model_digest(const modelseal_model* model);
/* Non-zero if every file was hashed and matched when the model was verified. */
int modelseal_model_files_checked(const modelseal_model* model);
/* What was verified, as a malloc'ed NUL-terminated JSON object (release with modelseal_free()):
 *   {"model": PATH, "signature": PATH, "model_name": NAME (as signed), "single_file": BOOL,
 *    "root_digest": "sha256:<hex>", "files_checked": BOOL,
 *    "signers": [{"id": ID, "keyid": KEYID}, ...],                 (those that counted)
 *    "files": [PATH, ...],                                       (listed files, sorted, once each)
 *    "resources": [{"name": NAME, "digest": "sha256:<hex>"}, ...]}  (in manifest order) */
modelseal_status modelseal_model_info(const modelseal_model* model, char** json);

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

/* Scans files or folders (NULL-terminated `paths`; folders recursively) for code injection, by
 * content (modelseal-scan(1)). *report_json is the JSON report of schemas/scan-report.schema.json
 * (release with modelseal_free()). MODELSEAL_OK means the scan ran: unsafe content and files that
 * could not be read are in the report (verdicts, "error"), not in the status. */
modelseal_status modelseal_scan(const char* const* paths, char** report_json);
/* Scans the open regular file `fd` (pread only: its offset is not moved), named `display_name` in
 * the report; e.g. a descriptor from modelseal_open_verified(), so what is scanned is what was
 * verified. Fails (MODELSEAL_IO) if `fd` cannot be read; otherwise as modelseal_scan(). */
modelseal_status modelseal_scan_fd(int fd, const char* display_name, char** report_json);

/* Flags of modelseal_sign_options.flags. */
#define MODELSEAL_SIGN_ALLOW_SYMLINKS 1u                 /* hash symlink targets under the links' names */
#define MODELSEAL_SIGN_INSECURE_ALLOW_UNSAFE_CONTENT 2u  /* sign even what the scanner flags */

/* Options of modelseal_sign(): zero-initialize and set size, as modelseal_verify_options. */
typedef struct modelseal_sign_options {
  size_t size;                    /* sizeof(modelseal_sign_options) */
  unsigned flags;                 /* MODELSEAL_SIGN_* */
  unsigned threads;               /* hashing threads; 0: one per core */
  const char* signature;          /* where to write it; NULL: MODEL/model.sig, or FILE.sig */
  const char* model_name;         /* the name the signature gives the model; NULL: the folder's */
  const char* const* ignore;      /* NULL-terminated paths to leave out of the signature, or NULL */
  const char* passphrase_file;    /* the keys' passphrase is its first line; NULL: $MODELSEAL_PASSPHRASE
                                     (there is never a prompt) */
  unsigned long long shard_size;  /* 0: the "files" serialization; else shards of this many bytes */
} modelseal_sign_options;

/* Signs the model directory or file `model` with every key of the NULL-terminated `keys` (PKCS#8
 * files or pkcs11: URIs; one DSSE signature each), as `modelseal sign` does: files the scanner
 * flags are refused (MODELSEAL_NOT_TRUSTED), the bundle is verified before it is written, and it
 * is written atomically. `options` may be NULL. If `result_json` is not NULL it receives
 * {"signature": PATH, "root_digest": "sha256:<hex>", "resources": N} (release with modelseal_free()). */
modelseal_status modelseal_sign(const char* model, const char* const* keys, const modelseal_sign_options* options,
                                char** result_json);

void modelseal_free(void* data);

#ifdef __cplusplus
}
#endif

#pragma GCC visibility pop

#endif /* MODELSEAL_MODELSEAL_H */
