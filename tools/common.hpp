// What every modelseal program shares: error reporting and exit status, CLI set-up, progress,
// key and policy loading.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "cli.hpp"
#include "modelseal/age.hpp"
#include "modelseal/error.hpp"
#include "modelseal/json.hpp"
#include "modelseal/keys.hpp"
#include "modelseal/policy.hpp"

namespace modelseal::tool {

// What a tool records in the audit log (audit.hpp) about its decision: the body fills `fields`
// (model, model_digest, keyids, reason, ...); run() adds tool, decision and status.
struct Audit {
  std::string log;                   // --audit-log FILE; else $MODELSEAL_AUDIT_LOG; else none
  json fields = json::object();
};
void add_audit_option(App& app, Audit& audit);

// Runs `body` after parsing; maps every error to one "modelseal: ..." line (plus "hint: ...")
// and the exit status of DESIGN §7. Usage errors exit 2; --help exits 0. With
// `audit`, the outcome is appended to the audit log; if that fails, the run fails (exit 3).
int run(App& app, int argc, char** argv, const std::function<int()>& body, Audit* audit = nullptr);

// Prints an error the way run() does, for a tool that goes on after it.
void print_error(const Error& e);

// A one-line progress display (bytes, rate, ETA) on stderr, only on a terminal, only for work
// that lasts more than about a second, and never with --quiet.
class Progress {
 public:
  // `total` is asked only when a progress line can be shown; 0 means unknown (then the line shows
  // bytes and rate, without ETA).
  Progress(std::string label, const std::function<uint64_t()>& total, bool quiet);
  ~Progress();
  std::atomic<uint64_t>* counter() { return &done_; }
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

 private:
  void loop();
  std::string label_;
  uint64_t total_;
  std::atomic<uint64_t> done_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Total bytes of the regular files under `model` (for progress); 0 if it cannot tell.
uint64_t model_size(const std::string& model);

// Passphrase from MODELSEAL_PASSPHRASE, --passphrase-file, or the terminal.
PrivateKey::PassphraseSource passphrase_source(const std::string& file, const std::string& key_path);

// The signing keys of `-k`: PKCS#8 files (passphrase as passphrase_source) or PKCS#11 URIs
// ("pkcs11:...", modelseal-keys(5)). `ptrs` points into `owned`, in the order given.
struct Signers {
  std::vector<std::unique_ptr<SigningKey>> owned;
  std::vector<const SigningKey*> ptrs;
};
Signers load_signers(const std::vector<std::string>& keys, const std::string& pass_file);

// The Sigstore trusted root shipped with modelseal (installed under the data folder; the source
// tree's copy when run from the build folder).
std::string default_trusted_root();
// The texts of PEM files (certificate roots), bounded.
std::vector<std::string> read_pem_files(const std::vector<std::string>& paths);

// The age identities of `-i FILE ...` (age identity files, as modelseal keygen -t x25519 and
// age-keygen write them), and with `passphrase` one read from `pass_file` or the terminal.
std::vector<age::Identity> load_age_identities(const std::vector<std::string>& files, bool passphrase,
                                               const std::string& pass_file);

// `-p KEY.pub ...` or `--policy FILE` (exactly one of them).
Policy load_policy(const std::vector<std::string>& pubkeys, const std::string& policy_file);

// "1 file", "12 files": a count with its noun, plural when it is not one.
inline std::string count_of(size_t n, const std::string& noun) {
  return std::to_string(n) + " " + noun + (n == 1 ? "" : "s");
}

// Adds the options every program has.
void add_common(App& app, bool& quiet);

// Checks --ignore paths given for MODEL: a glob is a usage error (paths only), and a path that
// names nothing in the model gets a warning on stderr (unless `quiet`).
void check_ignores(const std::string& model, const std::vector<std::string>& ignores, bool quiet);

// An option holding a size (parse_size: bytes, or with a K, M, G or T suffix), checked to lie in
// [min, max].
Option* add_size_option(App& app, const std::string& name, uint64_t& value, const std::string& help,
                        uint64_t min, uint64_t max);

}  // namespace modelseal::tool
