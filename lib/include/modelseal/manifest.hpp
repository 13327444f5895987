// The OMS manifest: resources (file or shard digests), serialization, root digest, and its
// in-toto Statement form.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "modelseal/authenticate.hpp"
#include "modelseal/hash.hpp"
#include "modelseal/hasher.hpp"
#include "modelseal/walk.hpp"

#pragma GCC visibility push(default)   // the installed API: exported from libmodelseal.so

namespace modelseal {

enum class Method { files, shards };

struct Serialization {
  Method method = Method::files;
  uint64_t shard_size = 0;                 // shards only
  bool allow_symlinks = false;
  std::vector<std::string> ignore_paths;   // as recorded
  bool ignore_paths_recorded = false;      // the statement has an ignore_paths field
  // What the signer left out: the recorded ignore_paths, or for statements that predate recorded
  // ignores, the default git paths (as model_signing does).
  std::vector<std::string> signer_ignores() const;
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
  // sha256 over each resource's name, a NUL byte and its raw digest, in listed order: unlike
  // root(), it changes when a file is renamed or moved (attestation subjects carry it as
  // "modelseal-manifest-sha256", modelseal-attest(1)).
  Digest names_digest() const;
  // The in-toto Statement v1 with the OMS predicate, as JSON bytes.
  std::string statement() const;
  // Parses the statement a trusted signer signed; checks type, predicate, paths, duplicates and
  // that the subject digest equals root(). Throws Error(not_trusted).
  static Manifest from_statement(const AuthenticatedPayload& payload);
  // The same checks on bytes nobody vouched for: for inspect, tests and fuzzing only.
  static Manifest parse_unauthenticated(std::string_view payload);

 private:
  static Manifest parse_statement(std::string_view payload, const std::string& what);
};

// Splits a shard resource name "path:start:end"; false if malformed.
struct ShardName { std::string path; uint64_t start = 0, end = 0; };
std::optional<ShardName> parse_shard_name(std::string_view name);

// Hashes a walked model into a manifest. Throws Error for the first file that cannot be used
// (special file, symlink, unreadable, changed while hashing).
Manifest hash_model(const ModelTree& tree, const Serialization& ser, const HashOptions& opts);

}  // namespace modelseal

#pragma GCC visibility pop
