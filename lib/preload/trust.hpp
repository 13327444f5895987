// What the shim trusts and remembers: the directories (or files) the protected roots name, each
// with its verified signature, and the digests of file versions already hashed.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <sys/types.h>
#include <vector>

#include "modelseal/content.hpp"
#include "modelseal/verified_read.hpp"

namespace modelseal::preload {

// One thing a root's path has named: a real directory (or single file), found by resolving
// the root's path at an open. A root given as a symlink names a new target after a flip; every
// target it has named stays protected for the life of the process.
struct Target {
  std::string path;            // real path, no symlinks
  dev_t dev = 0;
  ino_t ino = 0;
  bool single_file = false;
  std::string signature;       // PATH/model.sig, or PATH.sig beside a single file
  std::mutex mu;               // guards the fields below
  bool loaded = false;
  FileIdentity sig_id;
  std::shared_ptr<const VerifiedModel> model;
  std::string error;
  std::shared_ptr<const VerifiedModel> preverified;   // MODELSEAL_PREVERIFY=model: started for it
  std::set<std::string> pending;      // listed files the background preverification has not settled
  pid_t pending_pid = 0;              // the process whose thread settles them (not a forked child)
  std::condition_variable settled;    // signalled as each pending file is settled
};

// One root as seen at one open: its path as configured, and the targets it has named, the one
// it names now last (none when it does not exist).
struct RootView {
  const std::string* given = nullptr;
  std::vector<std::shared_ptr<Target>> targets;
  std::shared_ptr<Target> now() const { return targets.empty() ? nullptr : targets.back(); }
};

// Resolves every root again (one stat each; a realpath when what it names changed) and returns
// what they name. Safe to call from any thread.
std::vector<RootView> resolve_roots();

// The verified signature of a target, verified again whenever its signature file changes.
// nullptr with `error` set when there is none that the policy trusts.
std::shared_ptr<const VerifiedModel> model_of(Target& t, std::string& error);

// Digests of file versions already hashed, keyed on (dev, inode, size, mtime, ctime).
struct Hashed {
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  std::vector<Digest> digests;
  std::optional<std::string> scan_block;   // set once scanned: empty when the scanner passed it
  bool preverified = false;                // hashed by MODELSEAL_PREVERIFY=model, not opened yet
};
std::optional<Hashed> cached(const FileIdentity& id);
void remember(const FileIdentity& id, const Hashed& h);

}  // namespace modelseal::preload
