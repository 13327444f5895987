// encrypt_model / decrypt_model: a signed model's files to NAME.age and back, each checked
// against the signature as its bytes go through.
#include <cerrno>
#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.hpp"
#include "modelseal/age_model.hpp"
#include "modelseal/content.hpp"
#include "modelseal/files.hpp"
#include "modelseal/encoding.hpp"
#include "modelseal/hash.hpp"

namespace fs = std::filesystem;

namespace modelseal::age {

namespace {

// Whether a file's plaintext, streamed in order, is what the signature says: the trust core's
// one content checker.
ContentStream plaintext_check(const VerifiedModel& model, const std::string& name, uint64_t size) {
  return ContentStream(ContentCheck::of(model, name, size, name));
}

// A file written in pieces that appears under its name only when complete and durable.
class AtomicOutput {
 public:
  AtomicOutput(fs::path path, mode_t mode) : path_(std::move(path)), dir_(path_.parent_path().empty() ? "." : path_.parent_path()) {
    fd_ = UniqueFd(::open(dir_.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600));
    if (!fd_) {
      tmp_ = (dir_ / ("." + path_.filename().string() + ".tmp-XXXXXX")).string();
      fd_ = UniqueFd(::mkstemp(tmp_.data()));
      if (!fd_) throw errno_error("cannot create a temporary file in", dir_.string(), errno);
      named_ = true;
    }
    mode_ = mode;
  }
  ~AtomicOutput() {
    if (named_ && !done_) ::unlink(tmp_.c_str());
  }
  int fd() const { return fd_.get(); }
  void write(std::span<const uint8_t> data) {
    for (size_t off = 0; off < data.size();) {
      ssize_t n = ::write(fd_.get(), data.data() + off, data.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw errno_error("cannot write", path_.string(), errno);
      off += static_cast<size_t>(n);
    }
  }
  void commit() {
    if (::fchmod(fd_.get(), mode_) != 0 || ::fsync(fd_.get()) != 0) throw errno_error("cannot write", path_.string(), errno);
    if (!named_) {
      std::string proc = "/proc/self/fd/" + std::to_string(fd_.get());
      for (int attempt = 0; !named_; ++attempt) {
        unsigned char rnd[8];
        randombytes_buf(rnd, sizeof rnd);
        tmp_ = (dir_ / ("." + path_.filename().string() + ".tmp-" + to_hex(rnd))).string();
        if (::linkat(AT_FDCWD, proc.c_str(), AT_FDCWD, tmp_.c_str(), AT_SYMLINK_FOLLOW) == 0) named_ = true;
        else if (errno != EEXIST || attempt > 8) throw errno_error("cannot write", path_.string(), errno);
      }
    }
    if (::rename(tmp_.c_str(), path_.c_str()) != 0) throw errno_error("cannot replace", path_.string(), errno);
    done_ = true;
    UniqueFd d(::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (d) ::fsync(d.get());
  }

 private:
  fs::path path_, dir_;
  UniqueFd fd_;
  std::string tmp_;
  bool named_ = false, done_ = false;
  mode_t mode_ = 0600;
};

UniqueFd open_regular(const fs::path& p, struct stat& st) {
  UniqueFd fd(::open(p.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY));
  if (!fd) throw errno_error("cannot open", p.string(), errno);
  if (::fstat(fd.get(), &st) != 0) throw errno_error("cannot stat", p.string(), errno);
  if (!S_ISREG(st.st_mode)) throw untrusted("not a regular file: " + p.string());
  return fd;
}

// Where the plaintext of a listed name is (input side) and where its output goes.
fs::path input_path(const VerifiedModel& m, const std::string& name) {
  return m.single_file() ? m.root() : m.root() / name;
}
fs::path output_path(const VerifiedModel& m, const std::string& name, const ModelCryptOptions& o, bool age_suffix) {
  fs::path base = input_path(m, name);
  if (!o.out_dir.empty()) base = o.out_dir / (m.single_file() ? m.root().filename() : fs::path(name));
  if (age_suffix) base += ".age";
  return base;
}

void copy_signature(const ModelCryptOptions& o) {
  if (o.out_dir.empty() || o.signature.empty()) return;
  fs::path dst = o.out_dir / o.signature.filename();
  std::error_code ec;
  if (fs::equivalent(o.signature, dst, ec)) return;
  write_file_atomic(dst, read_file_limited(o.signature, 64u << 20, "signature"), 0644);
}

}  // namespace

std::vector<std::string> listed_files(const VerifiedModel& model) {
  std::vector<std::string> out;
  for (const auto& r : model.manifest().resources) {
    std::string name = r.name;
    if (model.manifest().serialization.method == Method::shards) {
      auto s = parse_shard_name(r.name);
      if (!s) throw untrusted("malformed shard name in the signature: " + printable(r.name));
      name = s->path;
    }
    if (out.empty() || out.back() != name) out.push_back(name);
  }
  return out;
}

std::vector<fs::path> encrypt_model(const VerifiedModel& model, const std::vector<Recipient>& recipients,
                                    const ModelCryptOptions& opts) {
  if (recipients.empty()) throw usage_error("no recipient given", "use -r age1..., -R FILE or --passphrase");
  std::vector<fs::path> written, sources;
  std::vector<uint8_t> buf(kReadChunk);
  for (const auto& name : listed_files(model)) {
    fs::path src = input_path(model, name), dst = output_path(model, name, opts, true);
    struct stat st;
    UniqueFd in = open_regular(src, st);
    ContentStream check = plaintext_check(model, name, static_cast<uint64_t>(st.st_size));
    fs::create_directories(dst.parent_path().empty() ? fs::path(".") : dst.parent_path());
    AtomicOutput out(dst, st.st_mode & 0777);
    Encryptor enc(recipients, [&](std::span<const uint8_t> b) { out.write(b); }, opts.armor);
    uint64_t total = 0;
    for (;;) {
      ssize_t n = ::read(in.get(), buf.data(), buf.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw errno_error("cannot read", src.string(), errno);
      if (n == 0) break;
      std::span<const uint8_t> piece{buf.data(), static_cast<size_t>(n)};
      check.update(piece.data(), piece.size());
      enc.write(piece);
      total += static_cast<uint64_t>(n);
      if (opts.bytes_done) opts.bytes_done->fetch_add(static_cast<uint64_t>(n));
    }
    if (total != static_cast<uint64_t>(st.st_size)) throw untrusted("file changed while it was encrypted: " + src.string());
    check.finish();
    enc.finish();
    out.commit();
    written.push_back(dst);
    sources.push_back(src);
  }
  copy_signature(opts);
  if (opts.remove_plaintext)   // every NAME.age is complete and fsynced by now
    for (const auto& src : sources)
      if (::unlink(src.c_str()) != 0) throw errno_error("cannot remove the plaintext", src.string(), errno);
  return written;
}

std::vector<fs::path> decrypt_model(const VerifiedModel& model, const std::vector<Identity>& identities,
                                    const ModelCryptOptions& opts) {
  std::vector<fs::path> written;
  for (const auto& name : listed_files(model)) {
    fs::path plain = input_path(model, name), src = plain;
    src += ".age";
    fs::path dst = output_path(model, name, opts, false);
    std::error_code ec;
    if (!fs::exists(fs::symlink_status(src, ec))) {
      if (opts.out_dir.empty() && fs::is_regular_file(fs::symlink_status(plain, ec))) continue;   // not encrypted
      throw untrusted("encrypted file missing: " + src.string());
    }
    struct stat st;
    UniqueFd in = open_regular(src, st);
    Decryptor d = Decryptor::open(in.get(), identities, src.string());
    ContentStream check = plaintext_check(model, name, d.size());
    fs::create_directories(dst.parent_path().empty() ? fs::path(".") : dst.parent_path());
    AtomicOutput out(dst, st.st_mode & 0777);
    d.stream(0, d.size(), [&](std::span<const uint8_t> b) {
      check.update(b.data(), b.size());
      out.write(b);
      if (opts.bytes_done) opts.bytes_done->fetch_add(b.size());
    }, opts.threads);
    check.finish();   // before the plaintext gets its name
    out.commit();
    written.push_back(dst);
  }
  copy_signature(opts);
  return written;
}

void check_encrypted(const VerifiedModel& model, const std::string& name, const fs::path& path,
                     const std::vector<Identity>& identities, unsigned threads) {
  struct stat st;
  UniqueFd in = open_regular(path, st);
  Decryptor d = Decryptor::open(in.get(), identities, path.string());
  ContentStream check = plaintext_check(model, name, d.size());
  d.stream(0, d.size(), [&](std::span<const uint8_t> b) { check.update(b.data(), b.size()); }, threads);
  check.finish();
}

}  // namespace modelseal::age
