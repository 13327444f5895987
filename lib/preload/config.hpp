// The shim's configuration, read from the environment once, when the shim is loaded: every
// path made absolute against the working directory of that moment, and the trust policy loaded
// then (a later chdir cannot change what is protected or whom it trusts).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "modelseal/age.hpp"
#include "modelseal/policy.hpp"
#include "modelseal/version_cache.hpp"

namespace modelseal::preload {

struct Config {
  std::vector<std::string> roots;   // MODELSEAL_ROOTS, absolute and normalised, symlinks kept
  std::optional<Policy> policy;     // MODELSEAL_POLICY or MODELSEAL_PUBLIC_KEY
  std::string policy_error;         // why there is no policy
  bool warn = false, scan = false, verbose = false;
  bool preverify_model = false;     // MODELSEAL_PREVERIFY=model
  bool hf_cache = false;            // MODELSEAL_HF_CACHE=1
  uint64_t copy_max = 0;            // MODELSEAL_PRIVATE_COPY_MAX
  std::optional<VersionCache> cache;   // MODELSEAL_CACHE_DIR, or $XDG_RUNTIME_DIR/modelseal-cache
  std::vector<age::Identity> identities;   // MODELSEAL_IDENTITY: NAME.age files are decrypted with them
  std::string identity_error;              // why MODELSEAL_IDENTITY could not be read
  uint64_t decrypt_max = 0;                // MODELSEAL_DECRYPT_MAX, or half the machine's memory; 0: not a size
};

// Read on the first call (the shim's constructor makes that its load); never destroyed.
const Config& config() noexcept;

// Writes one whole line to standard error, bypassing stdio.
void write_stderr(const std::string& line) noexcept;

// True while the calling thread is inside the shim: its own opens pass straight through.
bool inside_shim() noexcept;

// Marks the calling thread as inside the shim for its lifetime.
class Inside {
 public:
  Inside() noexcept;
  ~Inside();
  Inside(const Inside&) = delete;
  Inside& operator=(const Inside&) = delete;
};

// The shim's locks across fork(): each module takes its own before the process forks (hold =
// true) and releases them after it, in parent and child (hold = false), so that a child never
// inherits a lock held by a thread it does not have (the background hashing of
// MODELSEAL_PREVERIFY, another thread's open). None of them is held while another is taken.
void hold_trust_locks(bool hold) noexcept;      // trust.cpp
void hold_decision_locks(bool hold) noexcept;   // decision.cpp
void hold_code_locks(bool hold) noexcept;       // code.cpp
void hold_spawn_locks(bool hold) noexcept;      // spawn.cpp

// Objects that live as long as the process and are never destroyed: hooks run during exit too,
// after static destructors would have run.
template <typename T>
T& immortal() {
  alignas(T) static unsigned char storage[sizeof(T)];
  static T* object = ::new (storage) T();
  return *object;
}

}  // namespace modelseal::preload
