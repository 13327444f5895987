// The C API (modelseal.h) over the C++ one: no exception crosses this boundary.
#include "modelseal/modelseal.h"

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <system_error>
#include <unistd.h>

#include "modelseal/age.hpp"
#include "modelseal/encoding.hpp"
#include "modelseal/json.hpp"
#include "modelseal/keys.hpp"
#include "modelseal/pkcs11.hpp"
#include "modelseal/scan.hpp"
#include "modelseal/sign.hpp"
#include "modelseal/verified_read.hpp"

struct modelseal_policy {
  modelseal::Policy policy;
};

struct modelseal_model {
  modelseal::VerifiedModel model;
  std::string digest;
  std::vector<modelseal::age::Identity> identities;   // age_identity, for NAME.age files
};

namespace {

// This thread's last error: the old combined form, and its parts (DESIGN §7's one line and hint).
struct LastError {
  std::string combined, message, hint;
  int sys_errno = 0;
};
thread_local LastError last_error;

void set_error(const std::string& what, const std::string& hint, int sys_errno) noexcept {
  last_error.sys_errno = sys_errno;
  try {
    last_error.message = modelseal::printable(what);
    last_error.hint = modelseal::printable(hint);
    last_error.combined = what;
    if (!hint.empty()) last_error.combined += " (hint: " + hint + ")";
  } catch (...) {
    last_error.message.clear();   // the strings keep no partial line; the status still tells
    last_error.hint.clear();
    last_error.combined.clear();
  }
}

// Runs `body`, turning every exception into a status and this thread's last error.
template <typename F>
modelseal_status guarded(F&& body) noexcept {
  try {
    last_error.combined.clear();
    last_error.message.clear();
    last_error.hint.clear();
    last_error.sys_errno = 0;
    body();
    return MODELSEAL_OK;
  } catch (const modelseal::Error& e) {
    set_error(e.what(), e.hint(), e.status() == modelseal::Status::io ? e.sys_errno() : 0);
    return static_cast<modelseal_status>(e.status());
  } catch (const std::bad_alloc&) {
    set_error("out of memory", {}, ENOMEM);
    return MODELSEAL_IO;
  } catch (const std::system_error& e) {   // std::filesystem errors among them
    const auto& cat = e.code().category();
    set_error(e.what(), {}, cat == std::generic_category() || cat == std::system_category() ? e.code().value() : 0);
    return MODELSEAL_IO;
  } catch (const std::exception& e) {
    set_error(e.what(), {}, 0);
    return MODELSEAL_IO;
  } catch (...) {
    set_error("unknown error", {}, 0);
    return MODELSEAL_IO;
  }
}

void need(const void* p, const char* what) {
  if (!p) throw modelseal::usage_error(std::string(what) + " is NULL");
}

// A malloc'ed NUL-terminated copy, for modelseal_free().
char* malloc_copy(const std::string& text) {
  auto* buf = static_cast<char*>(std::malloc(text.size() + 1));
  if (!buf) throw std::bad_alloc();
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = 0;
  return buf;
}

std::vector<std::string> string_list(const char* const* list) {
  std::vector<std::string> out;
  for (; list && *list; ++list) out.emplace_back(*list);
  return out;
}

// The caller's options struct, padded with zeros when the caller's (older) struct is shorter.
template <typename T>
T options_of(const T* given) {
  T opts{};
  opts.size = sizeof(T);
  if (!given) return opts;
  if (given->size < offsetof(T, flags) + sizeof(given->flags))
    throw modelseal::usage_error("options.size is not set (set it to sizeof the options struct)");
  std::memcpy(&opts, given, std::min(given->size, sizeof(T)));
  return opts;
}

constexpr unsigned kVerifyFlags = MODELSEAL_VERIFY_SIGNATURE_ONLY | MODELSEAL_VERIFY_INSECURE_IGNORE_UNLISTED_FILES |
                                  MODELSEAL_VERIFY_INSECURE_ALLOW_SYMLINKS;
constexpr unsigned kSignFlags = MODELSEAL_SIGN_ALLOW_SYMLINKS | MODELSEAL_SIGN_INSECURE_ALLOW_UNSAFE_CONTENT;

modelseal::Passphrase passphrase_for(const std::string& file, const std::string& key) {
  // The library never prompts: a passphrase comes from the environment or a file.
  if (file.empty() && !std::getenv("MODELSEAL_PASSPHRASE"))
    throw modelseal::usage_error("no passphrase for the encrypted key " + key,
                                 "give a passphrase file, or set MODELSEAL_PASSPHRASE");
  return modelseal::read_passphrase(file, false, {});
}

}  // namespace

extern "C" {

const char* modelseal_last_error(void) { return last_error.combined.c_str(); }
const char* modelseal_last_message(void) { return last_error.message.c_str(); }
const char* modelseal_last_hint(void) { return last_error.hint.c_str(); }
int modelseal_last_errno(void) { return last_error.sys_errno; }

const char* modelseal_status_string(modelseal_status status) {
  switch (status) {
    case MODELSEAL_OK: return "ok";
    case MODELSEAL_NOT_TRUSTED: return "not trusted";
    case MODELSEAL_USAGE: return "usage error";
    case MODELSEAL_IO: return "i/o error";
  }
  return "unknown status";
}

modelseal_status modelseal_policy_load(const char* path, modelseal_policy** out) {
  return guarded([&] {
    need(path, "policy path");
    need(out, "out");
    *out = nullptr;
    auto p = std::make_unique<modelseal_policy>(modelseal_policy{modelseal::Policy::load(path)});
    *out = p.release();
  });
}

modelseal_status modelseal_policy_from_key(const char* public_key_path, modelseal_policy** out) {
  return guarded([&] {
    need(public_key_path, "public key path");
    need(out, "out");
    *out = nullptr;
    std::vector<modelseal::PublicKey> keys;
    keys.push_back(modelseal::PublicKey::load(public_key_path));
    auto p = std::make_unique<modelseal_policy>(modelseal_policy{modelseal::Policy::from_keys(std::move(keys))});
    *out = p.release();
  });
}

void modelseal_policy_free(modelseal_policy* policy) { std::unique_ptr<modelseal_policy> owned(policy); }

modelseal_status modelseal_verify(const modelseal_policy* policy, const char* model, unsigned flags,
                                  modelseal_model** out) {
  modelseal_verify_options opts{};
  opts.size = sizeof opts;
  opts.flags = flags;
  return modelseal_verify_with(policy, model, &opts, out);
}

modelseal_status modelseal_verify_with(const modelseal_policy* policy, const char* model,
                                       const modelseal_verify_options* options, modelseal_model** out) {
  return guarded([&] {
    need(out, "out");
    *out = nullptr;
    need(policy, "policy");
    need(model, "model path");
    const modelseal_verify_options o = options_of(options);
    if (o.flags & ~kVerifyFlags) throw modelseal::usage_error("unknown flags");
    modelseal::VerifyOptions opts;
    if (o.signature) opts.signature = o.signature;
    if (o.model_name) opts.model_name = o.model_name;
    opts.ignore_paths = string_list(o.ignore);
    opts.insecure_ignore_unlisted_files = o.flags & MODELSEAL_VERIFY_INSECURE_IGNORE_UNLISTED_FILES;
    opts.insecure_allow_symlinks = o.flags & MODELSEAL_VERIFY_INSECURE_ALLOW_SYMLINKS;
    opts.hash.threads = o.threads;
    std::vector<modelseal::age::Identity> ids;
    if (o.age_identity) ids = modelseal::age::load_identities(o.age_identity);
    if (!ids.empty()) opts.identities = &ids;
    auto vm = (o.flags & MODELSEAL_VERIFY_SIGNATURE_ONLY) ? modelseal::verify_signature(model, policy->policy, opts)
                                                            : modelseal::verify_model(model, policy->policy, opts);
    std::string digest = "sha256:" + modelseal::digest_hex(vm.root_digest());
    auto m = std::make_unique<modelseal_model>(modelseal_model{std::move(vm), std::move(digest), std::move(ids)});
    *out = m.release();
  });
}

void modelseal_model_free(modelseal_model* model) { std::unique_ptr<modelseal_model> owned(model); }

const char* modelseal_model_digest(const modelseal_model* model) { return model ? model->digest.c_str() : ""; }

int modelseal_model_files_checked(const modelseal_model* model) { return model && model->model.files_checked(); }

modelseal_status modelseal_model_info(const modelseal_model* model, char** json) {
  return guarded([&] {
    need(json, "json");
    *json = nullptr;
    need(model, "model");
    const modelseal::VerifiedModel& vm = model->model;
    const modelseal::Manifest& manifest = vm.manifest();
    const bool shards = manifest.serialization.method == modelseal::Method::shards;
    std::vector<std::string> files;
    nlohmann::json resources = nlohmann::json::array();
    for (const modelseal::Resource& r : manifest.resources) {
      resources.push_back({{"name", r.name}, {"digest", "sha256:" + modelseal::digest_hex(r.digest)}});
      std::string file = r.name;
      if (shards)
        if (auto s = modelseal::parse_shard_name(r.name)) file = s->path;
      // A single file is named as it is on disk, also when the signer wrote "." for it.
      if (vm.single_file()) file = vm.root().filename().string();
      files.push_back(std::move(file));
    }
    std::sort(files.begin(), files.end());
    files.erase(std::unique(files.begin(), files.end()), files.end());
    nlohmann::json signers = nlohmann::json::array();
    for (const modelseal::Signer& s : vm.signers()) signers.push_back({{"id", s.id}, {"keyid", s.keyid}});
    nlohmann::json info = {{"model", vm.report().model},
                           {"signature", vm.report().signature},
                           {"model_name", manifest.model_name},
                           {"single_file", vm.single_file()},
                           {"root_digest", model->digest},
                           {"files_checked", vm.files_checked()},
                           {"signers", std::move(signers)},
                           {"files", std::move(files)},
                           {"resources", std::move(resources)}};
    // Names come from the signature: bytes that are not UTF-8 become U+FFFD, so JSON can hold them.
    *json = malloc_copy(info.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  });
}

modelseal_status modelseal_read_verified(const modelseal_model* model, const char* path, unsigned char** data,
                                         size_t* len) {
  return guarded([&] {
    need(model, "model");
    need(path, "path");
    need(data, "data");
    need(len, "len");
    *data = nullptr;
    *len = 0;
    std::string bytes;
    if (model->identities.empty()) {
      bytes = modelseal::read_verified(model->model, path);
    } else {   // NAME, or NAME.age decrypted into sealed memory: read from the checked descriptor
      modelseal::UniqueFd f = modelseal::open_verified(model->model, path, model->identities);
      for (char buf[1 << 16];;) {
        ssize_t n = ::read(f.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw modelseal::errno_error("cannot read", path, errno);
        if (n == 0) break;
        bytes.append(buf, static_cast<size_t>(n));
      }
    }
    auto* buf = static_cast<unsigned char*>(std::malloc(bytes.size() + 1));
    if (!buf) throw std::bad_alloc();
    std::memcpy(buf, bytes.data(), bytes.size());
    buf[bytes.size()] = 0;
    *data = buf;
    *len = bytes.size();
  });
}

modelseal_status modelseal_open_verified(const modelseal_model* model, const char* path, int* fd) {
  return guarded([&] {
    need(model, "model");
    need(path, "path");
    need(fd, "fd");
    *fd = -1;
    *fd = (model->identities.empty() ? modelseal::open_verified(model->model, path)
                                      : modelseal::open_verified(model->model, path, model->identities))
              .release();
  });
}

modelseal_status modelseal_check_fd(const modelseal_model* model, const char* path, int fd) {
  return guarded([&] {
    need(model, "model");
    need(path, "path");
    modelseal::check_fd(model->model, path, fd, path);
  });
}

modelseal_status modelseal_scan(const char* const* paths, char** report_json) {
  return guarded([&] {
    need(report_json, "report_json");
    *report_json = nullptr;
    need(paths, "paths");
    std::vector<std::string> list = string_list(paths);
    if (list.empty()) throw modelseal::usage_error("no path to scan");
    *report_json = malloc_copy(modelseal::scan::to_json(modelseal::scan::scan_paths(list)).dump());
  });
}

modelseal_status modelseal_scan_fd(int fd, const char* display_name, char** report_json) {
  return guarded([&] {
    need(report_json, "report_json");
    *report_json = nullptr;
    need(display_name, "display name");
    std::vector<modelseal::scan::FileReport> reports;
    reports.push_back(modelseal::scan::scan_fd(fd, display_name));
    if (reports.front().io_failed) throw modelseal::io_error(reports.front().error);
    *report_json = malloc_copy(modelseal::scan::to_json(reports).dump());
  });
}

modelseal_status modelseal_sign(const char* model, const char* const* keys, const modelseal_sign_options* options,
                                char** result_json) {
  return guarded([&] {
    if (result_json) *result_json = nullptr;
    need(model, "model path");
    need(keys, "keys");
    const modelseal_sign_options o = options_of(options);
    if (o.flags & ~kSignFlags) throw modelseal::usage_error("unknown flags");
    const std::string pass_file = o.passphrase_file ? o.passphrase_file : "";
    std::vector<std::unique_ptr<modelseal::SigningKey>> owned;
    std::vector<const modelseal::SigningKey*> ptrs;
    for (const std::string& k : string_list(keys)) {
      if (modelseal::Pkcs11Uri::is_uri(k))
        owned.push_back(std::make_unique<modelseal::Pkcs11Key>(modelseal::Pkcs11Key::open(modelseal::Pkcs11Uri::parse(k))));
      else
        owned.push_back(std::make_unique<modelseal::PrivateKey>(
            modelseal::PrivateKey::load(k, [&pass_file, k] { return passphrase_for(pass_file, k); })));
      ptrs.push_back(owned.back().get());
    }
    if (ptrs.empty()) throw modelseal::usage_error("no signing key given");
    modelseal::SignOptions opts;
    if (o.signature) opts.signature = o.signature;
    if (o.model_name) opts.model_name = o.model_name;
    opts.ignore_paths = string_list(o.ignore);
    opts.allow_symlinks = o.flags & MODELSEAL_SIGN_ALLOW_SYMLINKS;
    opts.insecure_allow_unsafe_content = o.flags & MODELSEAL_SIGN_INSECURE_ALLOW_UNSAFE_CONTENT;
    opts.shard_size = o.shard_size;
    opts.hash.threads = o.threads;
    modelseal::SignResult r = modelseal::sign_model(model, ptrs, opts);
    if (result_json) {
      nlohmann::json j = {{"signature", r.signature.string()},
                          {"root_digest", "sha256:" + modelseal::digest_hex(r.manifest.root())},
                          {"resources", r.manifest.resources.size()}};
      *result_json = malloc_copy(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    }
  });
}

void modelseal_free(void* data) { std::free(data); }

}  // extern "C"
