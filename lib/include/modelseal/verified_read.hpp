// Verify while loading: hand out the bytes (or a descriptor) of a signed file only after hashing
// exactly what is handed out, in one pass (DESIGN §4).
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "modelseal/fileio.hpp"
#include "modelseal/verify.hpp"

#pragma GCC visibility push(default)   // the installed API: exported from libmodelseal.so

namespace modelseal {


// Checks an open regular file `fd` against the signature's entry for `name`: hashes it through
// `fd` and compares. Error(not_trusted) naming the reason if it does not match or changed while
// it was hashed.
void check_fd(const VerifiedModel& model, std::string_view name, int fd, const std::string& display_name);

// The content of the listed file `path` (relative to the model root), read once: the returned
// bytes are exactly the bytes that were hashed and matched the signature.
std::string read_verified(const VerifiedModel& model, std::string_view path);

// A read-only descriptor (offset 0) of the listed file `path`, whose content was hashed through
// this very descriptor and matched. Another writer may still change the file afterwards; see
// modelseal-preload(8) for what that means and how to prevent it.
UniqueFd open_verified(const VerifiedModel& model, std::string_view path);

}  // namespace modelseal

#pragma GCC visibility pop
