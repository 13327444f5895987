// Code below a protected root: shared objects (dlopen, dlmopen) and programs (the exec family,
// posix_spawn). Each is verified first; then the loader maps a sealed copy of exactly the
// verified bytes, and exec runs the verified descriptor itself.
#pragma once

#include <dlfcn.h>
#include <spawn.h>

namespace modelseal::preload {

using dlopen_fn = void* (*)(const char*, int);
using dlmopen_fn = void* (*)(Lmid_t, const char*, int);

// The name the loader is given for `file`: `file` itself, /proc/self/fd/N of a sealed copy of
// exactly the verified bytes, or kRefused (errno EACCES).
extern const char* const kRefused;
const char* loader_name(const char* file, int mode) noexcept;

void* gated_dlopen(const char* file, int mode, dlopen_fn real) noexcept;
void* gated_dlmopen(Lmid_t lmid, const char* file, int mode, dlmopen_fn real) noexcept;

// `dirfd`/`at_flags` as for execveat(2) (AT_FDCWD and 0 for execve).
int gated_execveat(int dirfd, const char* path, char* const argv[], char* const envp[], int at_flags) noexcept;
// execvpe(3): a name without '/' is searched in PATH, each candidate gated.
int gated_execvpe(const char* file, char* const argv[], char* const envp[]) noexcept;

int gated_spawn(pid_t* pid, const char* path, const posix_spawn_file_actions_t* actions,
                const posix_spawnattr_t* attr, char* const argv[], char* const envp[], bool search) noexcept;

}  // namespace modelseal::preload
