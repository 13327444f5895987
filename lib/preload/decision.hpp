// The content decision for one file opened below a protected root: is it listed in a trusted
// signature, and do its bytes (hashed through the descriptor the caller gets) match?
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "modelseal/fileio.hpp"
#include "modelseal/verify.hpp"
#include "trust.hpp"

namespace modelseal::preload {

// What the file will be used for: data is read through the caller's descriptor (folders and the
// root's model.sig pass); a program is run from the verified descriptor; a shared object is
// copied, while hashed, into a sealed memory file that the loader maps.
enum class Use { data, exec, load };

struct Decision {
  bool allow = false;
  std::string reason;       // why it was refused (or allowed unverified)
  bool hashed = false;      // the content was hashed now
  bool decrypted = false;   // ... as the plaintext of NAME.age, decrypted into `replacement`
  // Or known: from this process's cache (a re-open, not audited again), hashed with the rest of
  // the model at its first open (MODELSEAL_PREVERIFY=model), or from the machine's cache.
  enum Known { no, in_process, preverified, machine } known = no;
  UniqueFd replacement;     // a sealed private copy to hand out instead of the file
  std::shared_ptr<const VerifiedModel> model;
};

// Decides on `fd`, an open file named `name` below the target `root` (nullptr when the root
// names nothing now). Fills `d` as far as it gets; throws Error when a check fails.
// `real` is where the open landed (the kernel's path; may be empty when it cannot be named).
void judge(int fd, Target* root, std::string_view name, bool via_symlink, std::string_view real, Use use,
           Decision& d);

// Decides on `fd`, the age file NAME.age found below `root` when the listed `name` itself is not
// there (MODELSEAL_IDENTITY): on success, `d.replacement` is its plaintext in a sealed memory
// file, checked against the signature. Throws Error when a check fails.
void judge_encrypted(int fd, Target* root, std::string_view name, bool via_symlink, Decision& d);

}  // namespace modelseal::preload
