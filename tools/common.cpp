#include "common.hpp"

#include <optional>

#include "modelseal/age.hpp"
#include "modelseal/files.hpp"
#include "modelseal/pkcs11.hpp"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <unistd.h>

#include "modelseal/audit.hpp"
#include "modelseal/encoding.hpp"
#include "modelseal/version.hpp"
#include "modelseal/walk.hpp"
#include "modelseal/json.hpp"

namespace fs = std::filesystem;

namespace modelseal::tool {

void print_error(const Error& e) {
  std::fprintf(stderr, "modelseal: %s\n", printable(e.what()).c_str());
  if (!e.hint().empty()) std::fprintf(stderr, "hint: %s\n", printable(e.hint()).c_str());
}

namespace {

int run_body(const std::function<int()>& body, std::string& reason) {
  try {
    return body();
  } catch (const Error& e) {
    print_error(e);
    reason = e.what();
    return static_cast<int>(e.status());
  } catch (const std::bad_alloc&) {
    print_error(io_error("out of memory"));
    reason = "out of memory";
    return static_cast<int>(Status::io);
  } catch (const std::exception& e) {
    print_error(io_error(e.what()));
    reason = e.what();
    return static_cast<int>(Status::io);
  }
}

}  // namespace

void add_audit_option(App& app, Audit& audit) {
  app.add_option("--audit-log", audit.log,
                 "Append this run's decision to a tamper-evident audit log (default: $MODELSEAL_AUDIT_LOG)");
}

int run(App& app, int argc, char** argv, const std::function<int()>& body, Audit* audit) {
  if (std::optional<int> done = app.parse(argc, argv)) return *done;
  std::string reason;
  int rc = run_body(body, reason);
  if (!audit) return rc;
  try {
    json event = audit->fields;
    std::string name = app.get_name();
    event["tool"] = name.starts_with("modelseal ") ? name.substr(10) : name;
    event["decision"] = rc == 0 ? "ok" : "fail";
    event["status"] = rc;
    if (!reason.empty() && !event.contains("reason")) event["reason"] = reason;
    audit_event(std::move(event), audit->log);
  } catch (const Error& e) {
    print_error(e);
    return static_cast<int>(Status::io);
  }
  return rc;
}

void add_common(App& app, bool& quiet) {
  app.add_flag("-q,--quiet", quiet, "No progress line and no summary on success");
  app.set_version_flag("-V,--version", "modelseal " MODELSEAL_VERSION);
}

Progress::Progress(std::string label, const std::function<uint64_t()>& total, bool quiet)
    : label_(std::move(label)), total_(0) {
  if (quiet || !::isatty(STDERR_FILENO)) return;
  total_ = total();
  thread_ = std::thread([this] { loop(); });
}

Progress::~Progress() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void Progress::loop() {
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  bool shown = false;
  while (!stop_) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    double secs = std::chrono::duration<double>(clock::now() - start).count();
    if (secs < 1.0) continue;  // quick work shows nothing
    uint64_t done = done_.load();
    double rate = done / secs;
    if (total_ == 0) {
      std::fprintf(stderr, "\r%s: %.1f MiB, %.0f MiB/s   ", label_.c_str(), done / 1048576.0, rate / 1048576.0);
    } else {
      double eta = rate > 0 ? (total_ - std::min(done, total_)) / rate : 0;
      std::fprintf(stderr, "\r%s: %.1f / %.1f MiB, %.0f MiB/s, %.0f s left   ", label_.c_str(), done / 1048576.0,
                   total_ / 1048576.0, rate / 1048576.0, eta);
    }
    shown = true;
  }
  if (shown) std::fprintf(stderr, "\r\033[K");
}

uint64_t model_size(const std::string& model) {
  std::error_code ec;
  if (fs::is_regular_file(model, ec)) return fs::file_size(model, ec);
  uint64_t total = 0;
  for (fs::recursive_directory_iterator it(model, fs::directory_options::skip_permission_denied, ec), end;
       !ec && it != end; it.increment(ec))
    if (it->is_regular_file(ec)) total += it->file_size(ec);
  return total;
}

PrivateKey::PassphraseSource passphrase_source(const std::string& file, const std::string& key_path) {
  return [file, key_path] { return read_passphrase(file, false, "passphrase for " + key_path + ": "); };
}

Signers load_signers(const std::vector<std::string>& keys, const std::string& pass_file) {
  Signers out;
  for (const auto& k : keys) {
    if (Pkcs11Uri::is_uri(k))
      out.owned.push_back(std::make_unique<Pkcs11Key>(Pkcs11Key::open(Pkcs11Uri::parse(k))));
    else
      out.owned.push_back(std::make_unique<PrivateKey>(PrivateKey::load(k, passphrase_source(pass_file, k))));
    out.ptrs.push_back(out.owned.back().get());
  }
  return out;
}

std::string default_trusted_root() { return TrustedRoot::default_path().string(); }

std::vector<std::string> read_pem_files(const std::vector<std::string>& paths) {
  std::vector<std::string> out;
  for (const auto& p : paths) out.push_back(read_file_limited(p, 1u << 20, "certificate file", Status::usage));
  return out;
}

std::vector<age::Identity> load_age_identities(const std::vector<std::string>& files, bool passphrase,
                                               const std::string& pass_file) {
  std::vector<age::Identity> ids;
  for (const auto& f : files)
    for (auto& id : age::load_identities(f)) ids.push_back(std::move(id));
  if (passphrase) ids.push_back(age::Identity::passphrase(read_passphrase(pass_file, false, "passphrase: ").bytes));
  return ids;
}

Policy load_policy(const std::vector<std::string>& pubkeys, const std::string& policy_file) {
  if (!policy_file.empty() && !pubkeys.empty()) throw usage_error("use either -p/--public-key or --policy, not both");
  if (!policy_file.empty()) return Policy::load(policy_file);
  if (pubkeys.empty()) throw usage_error("no trusted key given", "use -p KEY.pub or --policy FILE");
  std::vector<PublicKey> keys;
  for (const auto& p : pubkeys) keys.push_back(PublicKey::load(p));
  return Policy::from_keys(std::move(keys));
}



Option* add_size_option(App& app, const std::string& name, uint64_t& value, const std::string& help,
                        uint64_t min, uint64_t max) {
  auto check = [min, max](std::string& text) -> std::string {
    try {
      uint64_t n = parse_size(text);
      if (n < min || n > max)
        return "size " + text + " is not between " + std::to_string(min) + " and " + std::to_string(max) + " bytes";
      text = std::to_string(n);
      return {};
    } catch (const Error& e) {
      return e.what();
    }
  };
  return app.add_option(name, value, help)->transform(check, "SIZE");
}

void check_ignores(const std::string& model, const std::vector<std::string>& ignores, bool quiet) {
  for (const auto& ig : ignores) {
    if (ig.find_first_of("*?[") != std::string::npos)
      throw usage_error("--ignore takes paths, not globs: " + ig, "name each path to leave out: --ignore logs --ignore tmp/run.txt");
    auto rel = relative_ignore_path(model, ig);
    if (!rel) continue;   // outside the model: sign refuses it, verify has nothing to leave out
    std::error_code ec;
    if (!quiet && !std::filesystem::exists(std::filesystem::symlink_status(std::filesystem::path(model) / *rel, ec)))
      std::fprintf(stderr, "modelseal: warning: --ignore %s matches nothing in %s\n", printable(ig).c_str(),
                   printable(model).c_str());
  }
}

}  // namespace modelseal::tool
