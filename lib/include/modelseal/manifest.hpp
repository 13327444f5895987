// The OMS manifest: resources (file or shard digests), serialization, root digest, and its
// in-toto Statement form.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "modelseal/hash.hpp"
#include "modelseal/hasher.hpp"
#include "modelseal/walk.hpp"

namespace modelseal {

enum class Method { files, shards };

struct Serialization {
  Method method = Method::files;
  uint64_t shard_size = 0;                 // shards only
  bool allow_symlinks = false;
  std::vector<std::string> ignore_paths;   // as recorded
};

struct Resource {
  std::string name;        // path, or path:start:end for shards
  std::string algorithm;   // "sha256" (or "sha256-sharded-N" as the reference writes shards)
  Digest digest{};
};

struct Manifest {
  std::string model_name;
  Serialization serialization;
  std::vector<Resource> resources;   // in manifest order
  bool legacy = false;               // read from a v0.1 Digests predicate

  // sha256 over the raw digests of `resources`, in listed order.
  Digest root() const;
  // The in-toto Statement v1 with the OMS predicate, as JSON bytes.
  std::string statement() const;
  // Parses a statement from verified bytes; checks type, predicate, paths, duplicates and that
  // the subject digest equals root(). Throws Error(not_trusted).
  static Manifest from_statement(std::string_view verified_payload);
};

// Splits a shard resource name "path:start:end"; false if malformed.
struct ShardName { std::string path; uint64_t start = 0, end = 0; };
std::optional<ShardName> parse_shard_name(std::string_view name);

// Hashes a walked model into a manifest. Throws Error for the first file that cannot be used
// (special file, symlink, unreadable, changed while hashing).
Manifest hash_model(const ModelTree& tree, const Serialization& ser, const HashOptions& opts);

}  // namespace modelseal
