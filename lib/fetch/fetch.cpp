// modelseal fetch: authenticate URL/model.sig, then stream every listed file through its check
// into a staging directory, several at once (libcurl multi), and move it into place.
#include "modelseal/fetch.hpp"

#include <algorithm>
#include <chrono>
#include <deque>
#include <unistd.h>

#include "internal.hpp"
#include "modelseal/formats.hpp"
#include "modelseal/json.hpp"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace modelseal {

using namespace fetch_detail;

namespace {

// One file on its way: the stream check, its file in the staging directory, its libcurl handle.
struct Transfer {
  Transfer(Stream s, FetchedFile* r, std::atomic<uint64_t>* c) : stream(std::move(s)), record(r), counter(c) {}
  Stream stream;
  FetchedFile* record;
  std::atomic<uint64_t>* counter;
  UniqueFd fd;
  Easy easy;
  char errbuf[CURL_ERROR_SIZE] = {};
  bool announced = false;
  unsigned attempts = 0;
  Clock::time_point ready_at{};
  std::optional<Error> error;   // why the write callback stopped the transfer

  static size_t on_data(char* data, size_t size, size_t nmemb, void* self) {
    auto* t = static_cast<Transfer*>(self);
    const size_t n = size * nmemb;
    try {
      if (!t->announced) {
        t->announced = true;
        curl_off_t length = -1;
        curl_easy_getinfo(t->easy.get(), CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length);
        t->stream.announce(length);
      }
      t->stream.write(t->fd.get(), data, n);
      if (t->counter) t->counter->fetch_add(n, std::memory_order_relaxed);
      return n;
    } catch (const Error& e) {
      t->error = e;
    } catch (const std::exception& e) {   // nothing may unwind through libcurl
      t->error = io_error(std::string("cannot store ") + t->stream.plan().name + ": " + e.what());
    }
    return 0;   // anything but n: libcurl stops this transfer at once
  }

  void start(Staging& stage, const FetchOptions& opts) {
    if (!fd) fd = stage.create_file(stream.plan().stored());
    easy = make_easy(stream.url(), opts, errbuf);
    bool ok = curl_easy_setopt(easy.get(), CURLOPT_WRITEFUNCTION, &Transfer::on_data) == CURLE_OK &&
              curl_easy_setopt(easy.get(), CURLOPT_WRITEDATA, this) == CURLE_OK &&
              curl_easy_setopt(easy.get(), CURLOPT_PRIVATE, this) == CURLE_OK;
    if (!ok) throw io_error("cannot set up libcurl for " + stream.url());
  }

  // Forget a failed attempt: empty the file, reset the check.
  void restart() {
    if (counter) counter->fetch_sub(stream.received(), std::memory_order_relaxed);
    stream.restart();
    announced = false;
    errbuf[0] = '\0';
    if (::ftruncate(fd.get(), 0) != 0 || ::lseek(fd.get(), 0, SEEK_SET) != 0)
      throw errno_error("cannot truncate", stream.plan().name, errno);
  }

  void complete() {
    stream.finish();
    if (::fsync(fd.get()) != 0) throw errno_error("cannot write", stream.plan().name, errno);
    if (::close(fd.release()) != 0) throw errno_error("cannot write", stream.plan().name, errno);
    record->ok = true;
    if (!stream.plan().sized && !stream.plan().encrypted && stream.plan().check) record->sha256 = digest_hex(stream.plan().check->digests()[0]);
  }
};

// Keeps the easy handles attached to `multi` only while they run; detaches them on the way out.
class Running {
 public:
  explicit Running(CURLM* multi) : multi_(multi) {}
  ~Running() {
    for (auto* t : active_) curl_multi_remove_handle(multi_, t->easy.get());
  }
  void add(Transfer* t) {
    if (curl_multi_add_handle(multi_, t->easy.get()) != CURLM_OK) throw io_error("cannot start a transfer");
    active_.push_back(t);
  }
  void remove(Transfer* t) {
    curl_multi_remove_handle(multi_, t->easy.get());
    std::erase(active_, t);
  }
  size_t size() const { return active_.size(); }

 private:
  CURLM* multi_;
  std::vector<Transfer*> active_;
};

// Runs every transfer, at most `parallel` at once; the first failure that is not worth a retry
// stops them all and is thrown.
void run_all(std::deque<Transfer>& transfers, size_t parallel, Staging& stage, const FetchOptions& opts) {
  Multi multi(curl_multi_init());
  if (!multi) throw io_error("cannot create a libcurl multi handle");
  Running running(multi.get());
  std::deque<Transfer*> waiting;
  for (auto& t : transfers) waiting.push_back(&t);
  size_t done = 0;
  while (done < transfers.size()) {
    if (opts.cancel && opts.cancel->load()) throw io_error("interrupted: nothing was written to the output directory");
    const auto now = Clock::now();
    for (size_t i = 0; i < waiting.size() && running.size() < parallel;) {
      Transfer* t = waiting[i];
      if (t->ready_at > now) {
        ++i;
        continue;
      }
      waiting.erase(waiting.begin() + static_cast<std::ptrdiff_t>(i));
      t->start(stage, opts);
      running.add(t);
    }
    int still = 0;
    if (curl_multi_perform(multi.get(), &still) != CURLM_OK) throw io_error("libcurl failed");
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi.get(), &left)) {
      if (msg->msg != CURLMSG_DONE) continue;
      char* priv = nullptr;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
      auto* t = reinterpret_cast<Transfer*>(priv);
      const CURLcode rc = msg->data.result;
      running.remove(t);
      t->record->size = t->stream.received();
      if (t->error) {
        t->record->reason = t->error->what();
        throw *t->error;
      }
      if (rc == CURLE_OK) {
        try {
          t->complete();
        } catch (const Error& e) {
          t->record->reason = e.what();
          throw;
        }
        ++done;
      } else if (transient(rc, t->easy.get()) && t->attempts < opts.retries) {
        ++t->attempts;
        t->restart();
        t->ready_at = Clock::now() + std::chrono::milliseconds(500) * (1 << std::min(t->attempts, 5u));
        waiting.push_back(t);
      } else {
        Error e = transfer_error(rc, t->easy.get(), t->errbuf, t->stream.plan().name, t->stream.url());
        t->record->reason = e.what();
        throw e;
      }
    }
    if (done < transfers.size() && curl_multi_poll(multi.get(), nullptr, 0, 100, nullptr) != CURLM_OK)
      throw io_error("libcurl failed");
  }
}

}  // namespace

json FetchReport::to_json() const {
  json files_j = json::array();
  for (const auto& f : files) {
    json e = {{"name", f.name}, {"size", f.size}, {"ok", f.ok}};
    if (!f.sha256.empty()) e["sha256"] = f.sha256;
    if (!f.ok) e["reason"] = f.reason;
    files_j.push_back(e);
  }
  json signers_j = json::array();
  for (const auto& s : signers) signers_j.push_back({{"id", s.id}, {"keyid", s.keyid}});
  json j = {{"url", url},
            {"dir", dir},
            {"verified", status == Status::ok},
            {"status", status_name(status)},
            {"exit_code", static_cast<int>(status)},
            {"signers", signers_j},
            {"files", files_j},
            {"bytes", bytes},
            {"seconds", seconds}};
  if (!root_digest.empty()) j["root_digest"] = "sha256:" + root_digest;
  if (!error.empty()) j["error"] = error;
  return j;
}

VerifiedModel fetch_model(const std::string& url, const fs::path& dir, const Policy& policy,
                          const FetchOptions& opts, FetchReport* report) {
  FetchReport local;
  if (!report) report = &local;
  const auto t0 = Clock::now();
  const std::time_t now = opts.now ? opts.now : std::time(nullptr);   // one clock reading
  report->url = url;
  report->dir = dir.string();
  try {
    if (opts.parallel == 0) throw usage_error("--parallel must be at least 1");
    init_curl();
    const std::string base = base_url(url, opts.tls);
    // --force replaces only a model that this policy trusts: its signature must verify (its files
    // may be damaged: repairing a model is what --force is for).
    Staging stage(dir, opts.replace, [&](const fs::path& existing) {
      VerifyOptions eo;
      eo.now = now;
      eo.model_name = policy.scopes_models() ? existing.filename().string() : std::string();
      try {
        (void)verify_signature(existing, policy, eo);
      } catch (const Error& e) {
        throw usage_error("refusing to replace " + existing.string() +
                              ": it does not hold a model signed under this policy (" + e.what() + ")",
                          "choose another -o DIR, or remove it yourself");
      }
    });

    // 1. The signature alone, bounded, authenticated before anything else is asked for.
    const std::string sig_name(kDefaultSignatureName);
    const std::string sig_url = resource_url(base, sig_name);
    FilePlan sig_plan{sig_name, {}, false, kMaxBundleBytes};
    FetchedFile sig_record;
    std::deque<Transfer> sig_transfer;
    sig_transfer.emplace_back(Stream(sig_plan, sig_url), &sig_record, nullptr);
    run_all(sig_transfer, 1, stage, opts);
    VerifyOptions vo;
    vo.signature = stage.path() / sig_name;
    vo.now = now;
    std::optional<VerifiedModel> vm;
    vo.signature_name = sig_url;   // errors about the signature name its URL, not the staging path
    // Model scopes apply to the name the model will have here, not the staging folder's.
    vo.model_name = stage.dest().filename().string();
    if (vo.model_name.empty()) vo.model_name = stage.dest().parent_path().filename().string();
    if (!policy.scopes_models()) vo.model_name.clear();
    vm.emplace(verify_signature(stage.path(), policy, vo));
    report->root_digest = digest_hex(vm->root_digest());
    report->signers = vm->signers();

    // 2. Every listed file, checked as it streams; nothing else is requested.
    // With identities, each file is NAME.age: decrypted as it streams, its plaintext checked,
    // its ciphertext stored.
    std::vector<FilePlan> plans = plan_files(vm->manifest(), opts.max_file_size);
    if (opts.identities)
      for (auto& p : plans) p.encrypted = true;
    uint64_t total = 0;
    for (const auto& p : plans) total += p.sized ? p.bound : 0;
    std::atomic<uint64_t>* counter = opts.on_verified ? opts.on_verified(total) : nullptr;
    report->files.reserve(plans.size());
    std::deque<Transfer> transfers;
    for (const auto& p : plans) {
      report->files.emplace_back().name = p.stored();
      transfers.emplace_back(Stream(p, resource_url(base, p.stored()), opts.identities), &report->files.back(), counter);
    }
    try {
      run_all(transfers, opts.parallel, stage, opts);
    } catch (...) {
      for (auto& f : report->files) {
        report->bytes += f.size;
        if (!f.ok && f.reason.empty()) f.reason = "not checked: the fetch stopped";
      }
      throw;
    }
    for (const auto& f : report->files) report->bytes += f.size;

    // 3. Everything matched: into place, then the model as a verifier of `dir` sees it.
    stage.commit();
    VerifyOptions final_opts;
    final_opts.now = now;
    final_opts.model_name = vo.model_name;
    VerifiedModel out = verify_signature(stage.dest(), policy, final_opts);
    report->seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    report->status = Status::ok;
    return out;
  } catch (const Error& e) {
    report->seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    report->status = e.status();
    report->error = e.what();
    throw;
  }
}

}  // namespace modelseal
