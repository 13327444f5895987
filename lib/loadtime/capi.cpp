// The C API (modelseal.h) over the C++ one: no exception crosses this boundary.
#include "modelseal/modelseal.h"

#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>

#include "modelseal/verified_read.hpp"

struct modelseal_policy {
  modelseal::Policy policy;
};

struct modelseal_model {
  modelseal::VerifiedModel model;
  std::string digest;
};

namespace {

thread_local std::string last_error;

// Runs `body`, turning every exception into a status and this thread's last error.
template <typename F>
modelseal_status guarded(F&& body) noexcept {
  try {
    last_error.clear();
    body();
    return MODELSEAL_OK;
  } catch (const modelseal::Error& e) {
    try {
      last_error = e.what();
      if (!e.hint().empty()) last_error += " (hint: " + e.hint() + ")";
    } catch (...) {
    }
    return static_cast<modelseal_status>(e.status());
  } catch (const std::bad_alloc&) {
    try {
      last_error = "out of memory";
    } catch (...) {
    }
    return MODELSEAL_IO;
  } catch (const std::exception& e) {
    try {
      last_error = e.what();
    } catch (...) {
    }
    return MODELSEAL_IO;
  } catch (...) {
    return MODELSEAL_IO;
  }
}

void need(const void* p, const char* what) {
  if (!p) throw modelseal::usage_error(std::string(what) + " is NULL");
}

}  // namespace

extern "C" {

const char* modelseal_last_error(void) { return last_error.c_str(); }

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
  return guarded([&] {
    need(policy, "policy");
    need(model, "model path");
    need(out, "out");
    *out = nullptr;
    if (flags & ~MODELSEAL_VERIFY_SIGNATURE_ONLY) throw modelseal::usage_error("unknown flags");
    modelseal::VerifyOptions opts;
    auto vm = (flags & MODELSEAL_VERIFY_SIGNATURE_ONLY) ? modelseal::verify_signature(model, policy->policy, opts)
                                                          : modelseal::verify_model(model, policy->policy, opts);
    std::string digest = "sha256:" + modelseal::digest_hex(vm.root_digest());
    auto m = std::make_unique<modelseal_model>(modelseal_model{std::move(vm), std::move(digest)});
    *out = m.release();
  });
}

void modelseal_model_free(modelseal_model* model) { std::unique_ptr<modelseal_model> owned(model); }

const char* modelseal_model_digest(const modelseal_model* model) { return model ? model->digest.c_str() : ""; }

int modelseal_model_files_checked(const modelseal_model* model) { return model && model->model.files_checked(); }

modelseal_status modelseal_read_verified(const modelseal_model* model, const char* path, unsigned char** data,
                                         size_t* len) {
  return guarded([&] {
    need(model, "model");
    need(path, "path");
    need(data, "data");
    need(len, "len");
    *data = nullptr;
    *len = 0;
    std::string bytes = modelseal::read_verified(model->model, path);
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
    *fd = modelseal::open_verified(model->model, path).release();
  });
}

modelseal_status modelseal_check_fd(const modelseal_model* model, const char* path, int fd) {
  return guarded([&] {
    need(model, "model");
    need(path, "path");
    modelseal::check_fd(model->model, path, fd, path);
  });
}

void modelseal_free(void* data) { std::free(data); }

}  // extern "C"
