// posix_spawn's file actions (spawn.cpp): opens that the child makes are judged when they are
// added, and the child opens exactly what was judged.
#pragma once

#include <spawn.h>
#include <sys/types.h>

namespace modelseal::preload {

using addopen_fn = int (*)(posix_spawn_file_actions_t*, int, const char*, int, mode_t);
using addchdir_fn = int (*)(posix_spawn_file_actions_t*, const char*);
using addfchdir_fn = int (*)(posix_spawn_file_actions_t*, int);
using lifecycle_fn = int (*)(posix_spawn_file_actions_t*);

int spawn_addopen(posix_spawn_file_actions_t* fa, int fd, const char* path, int oflag, mode_t mode,
                  addopen_fn real) noexcept;
int spawn_addchdir(posix_spawn_file_actions_t* fa, const char* path, addchdir_fn real) noexcept;
int spawn_addfchdir(posix_spawn_file_actions_t* fa, int fd, addfchdir_fn real) noexcept;
// posix_spawn_file_actions_init and _destroy: what the shim kept for `fa` is closed.
int spawn_forget(posix_spawn_file_actions_t* fa, lifecycle_fn real) noexcept;

}  // namespace modelseal::preload
