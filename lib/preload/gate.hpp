// The decision behind every hooked open: pass through outside the protected roots; below them,
// allow only files listed in a trusted signature whose content (hashed through the opened
// descriptor) matches. Never throws; a refusal is -1 with errno EACCES and one log line.
#pragma once

#include <sys/types.h>

namespace modelseal::preload {

// Opens like openat(2) (the caller's flags and mode), under the shim's rules.
int gated_openat(int dirfd, const char* path, int flags, mode_t mode) noexcept;

// True when the calling thread is inside the shim (its own opens pass straight through).
bool inside_shim() noexcept;

// True when MODELSEAL_ROOTS names at least one root (otherwise every open passes through).
bool shim_active() noexcept;

}  // namespace modelseal::preload
