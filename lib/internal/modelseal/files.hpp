// Reading bounded files and writing files atomically.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <sys/types.h>

#include "modelseal/error.hpp"
#include "modelseal/fileio.hpp"
#include "modelseal/secret.hpp"

namespace modelseal {

// Reads a whole regular file of at most `max_bytes`; Error(io) if it cannot be read,
// Error(too_large) "<what> is too large" past the bound.
std::string read_file_limited(const std::filesystem::path& path, size_t max_bytes, const std::string& what,
                              Status too_large = Status::not_trusted);

// Writes `data` to a temporary file beside `path` (mode `mode`), fsyncs it, renames it over
// `path` and fsyncs the folder: a reader sees the old file or the new one, never a part.
void write_file_atomic(const std::filesystem::path& path, std::string_view data, mode_t mode = 0644);

// Reads a secret file (a private key, a passphrase, an identity) of at most 64 KiB into locked
// memory; Error(usage) when it is not a regular file or group or others can access it.
SecretBytes read_secret_file(const std::filesystem::path& path, const std::string& what);

}  // namespace modelseal
