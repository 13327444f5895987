#include "config.hpp"

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include "modelseal/age_model.hpp"
#include "modelseal/encoding.hpp"
#include "modelseal/error.hpp"
#include "paths.hpp"

namespace modelseal::preload {

namespace {

__attribute__((tls_model("initial-exec"))) thread_local int depth = 0;

bool env_flag(const char* name) {
  const char* v = std::getenv(name);
  return v && *v && std::strcmp(v, "0") != 0;
}

const char* env(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? v : nullptr;
}

// A size variable (K/M/G/T suffixes); `fallback` when unset or not a size (said on stderr).
uint64_t size_setting(const char* name, uint64_t fallback) {
  const char* v = env(name);
  if (!v) return fallback;
  try {
    return parse_size(v);
  } catch (const Error& e) {
    write_stderr("modelseal: " + std::string(name) + ": " + e.what() + "\n");
    return fallback;
  }
}

// `given` made absolute against the working directory at load; empty if that cannot be known.
std::string absolute(const char* given, const std::string& cwd) {
  if (given[0] == '/') return normalize("/", given);
  return cwd.empty() ? std::string() : normalize(cwd, given);
}

void load_policy(Config& c, const std::string& cwd) {
  const char* policy = env("MODELSEAL_POLICY");
  const char* key = env("MODELSEAL_PUBLIC_KEY");
  try {
    if (policy && key) throw usage_error("MODELSEAL_POLICY and MODELSEAL_PUBLIC_KEY are both set");
    if (!policy && !key) throw usage_error("MODELSEAL_POLICY is not set");
    std::string path = absolute(policy ? policy : key, cwd);
    if (path.empty()) throw usage_error("cannot make the policy's path absolute (no working directory)");
    // Children inherit the absolute path, not one that means something else where they start.
    ::setenv(policy ? "MODELSEAL_POLICY" : "MODELSEAL_PUBLIC_KEY", path.c_str(), 1);
    if (policy) c.policy = Policy::load(path);
    else c.policy = Policy::from_keys({PublicKey::load(path)});
  } catch (const std::exception& e) {
    c.policy_error = std::string("no usable policy: ") + e.what();
  } catch (...) {
    c.policy_error = "no usable policy";
  }
}

// MODELSEAL_IDENTITY, read once at load (a secret file: owner-only, locked memory), and the cap
// on decrypted plaintext.
void load_identity(Config& c, const std::string& cwd) {
  try {
    c.decrypt_max = age::decrypt_memory_cap();
  } catch (const Error& e) {
    write_stderr(std::string("modelseal: MODELSEAL_DECRYPT_MAX: ") + e.what() + ": encrypted files are refused\n");
  }
  const char* id = env("MODELSEAL_IDENTITY");
  if (!id) return;
  try {
    std::string path = absolute(id, cwd);
    if (path.empty()) throw usage_error("cannot make its path absolute (no working directory)");
    ::setenv("MODELSEAL_IDENTITY", path.c_str(), 1);
    c.identities = age::load_identities(path);
    if (c.identities.empty()) throw usage_error("no identity in " + path);
  } catch (const std::exception& e) {
    c.identities.clear();
    c.identity_error = std::string("no usable MODELSEAL_IDENTITY: ") + e.what();
    write_stderr("modelseal: " + c.identity_error + ": encrypted files are refused\n");
  }
}

// The machine's verification cache, unless it is off, cannot be trusted, or lies below a root
// (where the model's writers might write).
void load_cache(Config& c) {
  std::string why;
  c.cache = VersionCache::from_environment(why);
  if (c.cache) {
    for (const auto& r : c.roots) {
      char real[PATH_MAX];
      const std::string root = ::realpath(r.c_str(), real) ? real : r;
      if (relative_to(c.cache->path(), r) || relative_to(c.cache->path(), root) ||
          (::realpath(c.cache->path().c_str(), real) && relative_to(real, root)))
        why = "the verification cache " + c.cache->path() + " is below the protected root " + r;
    }
  }
  if (!why.empty()) {
    c.cache.reset();
    write_stderr("modelseal: " + why + ": the verification cache is off\n");
  }
}

void load_config() noexcept {
  Inside in;
  Config& c = immortal<Config>();
  try {
    const char* mode = std::getenv("MODELSEAL_MODE");
    c.warn = mode && std::strcmp(mode, "warn") == 0;
    if (mode && *mode && !c.warn && std::strcmp(mode, "enforce") != 0)
      write_stderr(std::string("modelseal: unknown MODELSEAL_MODE \"") + mode + "\", enforcing\n");
    c.scan = env_flag("MODELSEAL_SCAN");
    c.verbose = env_flag("MODELSEAL_VERBOSE");
    c.hf_cache = env_flag("MODELSEAL_HF_CACHE");
    c.copy_max = size_setting("MODELSEAL_PRIVATE_COPY_MAX", 0);
    char buf[PATH_MAX + 1];
    const std::string cwd = ::getcwd(buf, sizeof buf) && buf[0] == '/' ? buf : "";
    std::string_view rest = env("MODELSEAL_ROOTS") ? env("MODELSEAL_ROOTS") : "";
    while (!rest.empty()) {
      size_t colon = rest.find(':');
      std::string given(rest.substr(0, colon));
      rest = colon == std::string_view::npos ? std::string_view{} : rest.substr(colon + 1);
      if (given.empty()) continue;
      std::string root = absolute(given.c_str(), cwd);
      if (root.empty()) {  // cannot be placed: protect everything rather than nothing
        write_stderr("modelseal: cannot make the root " + given +
                     " absolute (no working directory): every open is refused\n");
        root = "/";
      }
      struct stat st;
      if (::stat(root.c_str(), &st) != 0)
        write_stderr("modelseal: the protected root does not exist (" + std::string(std::strerror(errno)) +
                     "): " + root + "\n");
      c.roots.push_back(std::move(root));
    }
    std::string joined;
    for (const auto& r : c.roots) joined += (joined.empty() ? "" : ":") + r;
    if (!c.roots.empty()) ::setenv("MODELSEAL_ROOTS", joined.c_str(), 1);
    if (c.roots.empty()) {
      write_stderr("modelseal: MODELSEAL_ROOTS is not set: the shim is loaded but protects nothing\n");
      return;
    }
    load_policy(c, cwd);
    if (!c.policy)
      write_stderr("modelseal: " + c.policy_error + ": every open below a protected root is refused\n");
    if (const char* p = env("MODELSEAL_PREVERIFY")) {
      c.preverify_model = std::strcmp(p, "model") == 0;
      if (!c.preverify_model && std::strcmp(p, "off") != 0)
        write_stderr(std::string("modelseal: unknown MODELSEAL_PREVERIFY \"") + p + "\" (model or off): off\n");
    }
    load_cache(c);
    load_identity(c, cwd);
  } catch (...) {
    // Out of memory while reading the environment: everything is refused rather than passed.
    write_stderr("modelseal: cannot read the configuration: every open is refused\n");
    c.roots.assign(1, "/");
    c.policy.reset();
    c.policy_error = "no usable configuration";
  }
}

void before_fork() {
  hold_spawn_locks(true);
  hold_code_locks(true);
  hold_decision_locks(true);
  hold_trust_locks(true);
}

void after_fork() {
  hold_trust_locks(false);
  hold_decision_locks(false);
  hold_code_locks(false);
  hold_spawn_locks(false);
}

// The configuration is the shim's first act once loaded, before main() can chdir.
__attribute__((constructor)) void load_at_start() {
  config();
  pthread_atfork(before_fork, after_fork, after_fork);
}

}  // namespace

Inside::Inside() noexcept { ++depth; }
Inside::~Inside() { --depth; }
bool inside_shim() noexcept { return depth > 0; }

const Config& config() noexcept {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, load_config);
  return immortal<Config>();
}

void write_stderr(const std::string& line) noexcept {
  const char* p = line.data();
  size_t left = line.size();
  while (left > 0) {
    ssize_t n = ::write(STDERR_FILENO, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    p += n;
    left -= static_cast<size_t>(n);
  }
}

}  // namespace modelseal::preload
