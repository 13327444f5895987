// The open paths: every hooked open comes here. Outside the protected roots an open passes
// through; below them, reads are judged (decision.hpp) and writes are refused. Never throws; a
// refusal is -1 with errno EACCES and one log line.
#pragma once

#include <sys/types.h>

#include <string>

#include "decision.hpp"
#include "modelseal/fileio.hpp"

namespace modelseal::preload {

// Opens like openat(2) (the caller's flags and mode), under the shim's rules.
int gated_openat(int dirfd, const char* path, int flags, mode_t mode) noexcept;

// True when the shim protects something (otherwise every call passes straight through).
bool shim_active() noexcept;

// For the loader and exec: `path` opened read-only (close-on-exec) and, when it is below a
// root, judged for `use`. `verb` names the act in the log line ("load", "exec").
struct CodeOpen {
  enum Kind { outside, allowed, refused } kind = outside;
  UniqueFd fd;     // allowed: the verified descriptor
  UniqueFd copy;   // allowed, Use::load: the sealed copy of exactly the verified bytes
};
CodeOpen open_code(int dirfd, const char* path, int at_flags, Use use, const char* verb) noexcept;

// For an open that a spawned child makes itself (posix_spawn's file actions, which libc runs in
// the child where no hook sees them): `path` (relative to `dirfd`) with `flags` judged now, as
// gated_openat would judge it. What the child should open instead is `child_path` with `flags`
// as changed here: /proc/self/fd/N of the descriptor opened and judged here, or for a write
// outside the roots the same name inside the folder opened here. `fd` holds that descriptor and
// must stay open until the spawn. Returns 0, or an errno value (EACCES when refused, logged;
// the open's own error when it failed).
int open_for_child(int dirfd, const char* path, int& flags, mode_t mode, UniqueFd& fd, std::string& child_path) noexcept;

// For entries that create a name without opening it (mkdtemp, tmpfile): false, logged, when
// creating `path` (relative to `dirfd`) would be refused as a write below a root.
bool may_create(int dirfd, const char* path) noexcept;

}  // namespace modelseal::preload
