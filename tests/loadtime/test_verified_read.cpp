// read_verified / open_verified on models signed in the test: exact bytes, one pass, and every
// way a file can fail to be the signed one.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include "../unit/helpers.hpp"

#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <algorithm>
#include <mutex>
#include <random>
#include <sys/stat.h>
#include <unistd.h>

#include "modelseal/age_model.hpp"
#include "modelseal/sign.hpp"
#include "modelseal/content.hpp"
#include "modelseal/verified_read.hpp"

namespace fs = std::filesystem;
using namespace modelseal;
using test::status_of;
using test::what_of;

namespace {

struct TempModel {
  fs::path dir;
  PrivateKey key = PrivateKey::generate(KeyType::ed25519);
  Policy policy = Policy::from_keys({key.public_key()});

  TempModel() {
    std::string tmpl = (fs::temp_directory_path() / "ms-loadtime-XXXXXX").string();
    dir = ::mkdtemp(tmpl.data());
    fs::create_directories(dir / "m" / "sub");
  }
  ~TempModel() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  fs::path model() const { return dir / "m"; }
  void write(const std::string& name, const std::string& data) const {
    std::ofstream(model() / name, std::ios::binary | std::ios::trunc) << data;
  }
  void sign(uint64_t shard_size = 0) const {
    SignOptions o;
    o.shard_size = shard_size;
    sign_model(model(), {&key}, o);
  }
  VerifiedModel verified() const { return verify_signature(model(), policy, VerifyOptions{}); }
};

std::string random_bytes(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}



}  // namespace

TEST_CASE("read_verified returns exactly the signed bytes") {
  TempModel t;
  const std::string big = random_bytes(3 * kReadChunk + 17, 1);  // several chunks, odd tail
  t.write("config.json", "{\"a\":1}");
  t.write("sub/w.bin", big);
  t.write("empty", "");
  t.sign();
  VerifiedModel vm = t.verified();
  CHECK_FALSE(vm.files_checked());
  CHECK(read_verified(vm, "config.json") == "{\"a\":1}");
  CHECK(read_verified(vm, "sub/w.bin") == big);
  CHECK(read_verified(vm, "empty").empty());
}

TEST_CASE("open_verified hands out a descriptor at offset 0 of the checked file") {
  TempModel t;
  t.write("w.bin", random_bytes(100000, 2));
  t.sign();
  VerifiedModel vm = t.verified();
  UniqueFd fd = open_verified(vm, "w.bin");
  REQUIRE(fd);
  CHECK(::lseek(fd.get(), 0, SEEK_CUR) == 0);
  CHECK((::fcntl(fd.get(), F_GETFL) & O_ACCMODE) == O_RDONLY);
  CHECK((::fcntl(fd.get(), F_GETFD) & FD_CLOEXEC) != 0);
  std::string got(100000, '\0');
  CHECK(::read(fd.get(), got.data(), got.size()) == 100000);
  CHECK(got == random_bytes(100000, 2));
}

TEST_CASE("a changed byte, an unlisted file, an ignored file are refused") {
  TempModel t;
  std::string data = random_bytes(5000, 3);
  t.write("w.bin", data);
  t.sign();
  VerifiedModel vm = t.verified();
  data[4999] ^= 1;
  t.write("w.bin", data);
  CHECK(what_of([&] { read_verified(vm, "w.bin"); }).find("modified: sha256 is") != std::string::npos);
  CHECK(status_of([&] { open_verified(vm, "w.bin"); }) == Status::not_trusted);

  t.write("extra.bin", "x");
  CHECK(what_of([&] { read_verified(vm, "extra.bin"); }).starts_with("not listed in the signature"));
  fs::create_directories(t.model() / ".git");
  std::ofstream(t.model() / ".git" / "config") << "x";
  CHECK(what_of([&] { read_verified(vm, ".git/config"); }).find("signer ignored it") != std::string::npos);
}

TEST_CASE("paths outside the model and symlinks are refused") {
  TempModel t;
  t.write("w.bin", "weights");
  t.sign();
  VerifiedModel vm = t.verified();
  std::ofstream(t.dir / "outside") << "weights";
  CHECK(status_of([&] { read_verified(vm, "../outside"); }) == Status::usage);
  CHECK(status_of([&] { read_verified(vm, "/etc/passwd"); }) == Status::usage);
  fs::remove(t.model() / "w.bin");
  fs::create_symlink(t.dir / "outside", t.model() / "w.bin");
  CHECK(what_of([&] { read_verified(vm, "w.bin"); }).find("symlink") != std::string::npos);
  fs::remove(t.model() / "w.bin");
  CHECK(status_of([&] { read_verified(vm, "w.bin"); }) == Status::io);
  REQUIRE(::mkfifo((t.model() / "w.bin").c_str(), 0600) == 0);  // must not hang
  CHECK(status_of([&] { open_verified(vm, "w.bin"); }) == Status::not_trusted);
}

TEST_CASE("shards: each range is checked, a changed size is named") {
  TempModel t;
  std::string data = random_bytes(10000, 4);
  t.write("w.bin", data);
  t.sign(4096);
  VerifiedModel vm = t.verified();
  CHECK(vm.resources_for("w.bin").size() == 3);
  CHECK(read_verified(vm, "w.bin") == data);
  std::string changed = data;
  changed[9000] ^= 1;
  t.write("w.bin", changed);
  CHECK(what_of([&] { read_verified(vm, "w.bin"); }).find("(shard w.bin:8192:10000)") != std::string::npos);
  t.write("w.bin", data + "x");
  CHECK(what_of([&] { read_verified(vm, "w.bin"); }).find("size is 10001 bytes, signed as 10000") != std::string::npos);
}

TEST_CASE("a single-file model is read by its base name") {
  TempModel t;
  t.write("w.bin", "single");
  SignOptions o;
  sign_model(t.model() / "w.bin", {&t.key}, o);
  VerifiedModel vm = verify_model(t.model() / "w.bin", t.policy, VerifyOptions{});
  CHECK(vm.files_checked());
  CHECK(read_verified(vm, "w.bin") == "single");
  CHECK(status_of([&] { read_verified(vm, "other.bin"); }) == Status::usage);
}

TEST_CASE("check_fd hashes through the descriptor without moving its offset") {
  TempModel t;
  t.write("w.bin", "0123456789");
  t.sign();
  VerifiedModel vm = t.verified();
  UniqueFd fd(::open((t.model() / "w.bin").c_str(), O_RDONLY | O_CLOEXEC));
  REQUIRE(::lseek(fd.get(), 3, SEEK_SET) == 3);
  check_fd(vm, "w.bin", fd.get(), "w.bin");
  CHECK(::lseek(fd.get(), 0, SEEK_CUR) == 3);
  CHECK(identity_of(fd.get(), "w.bin").size == 10);
}

// verify_model() records what it hashed with nothing able to change it unseen; open_verified()
// of such a file needs no hashing while it keeps that version (issue 18).
TEST_CASE("verify_model then open_verified: the recorded version, and only it") {
  TempModel t;
  const std::string data = random_bytes(300000, 7);
  t.write("w.bin", data);
  t.write("sub/b.bin", "bee");
  t.sign(65536);
  ::usleep(30000);   // a version changed within the last clock tick is not recorded
  VerifiedModel vm = verify_model(t.model(), t.policy);
  REQUIRE(vm.verified_files().size() == 2);
  const VerifiedFile* f = vm.verified_file("w.bin");
  REQUIRE(f);
  CHECK(f->digests.size() == 5);   // 300000 bytes in 64 KiB shards
  CHECK(vm.verified_file("missing") == nullptr);
  UniqueFd fd = open_verified(vm, "w.bin");
  CHECK(::lseek(fd.get(), 0, SEEK_CUR) == 0);
  // A rewrite gives the file a new version: it is hashed again, and refused if changed.
  std::string changed = data;
  changed[1000] ^= 1;
  t.write("w.bin", changed);
  CHECK(status_of([&] { open_verified(vm, "w.bin"); }) == Status::not_trusted);
  t.write("w.bin", data);
  CHECK(open_verified(vm, "w.bin"));
}

TEST_CASE("preverify hashes every listed file, leaving out what does not match") {
  TempModel t;
  t.write("a.bin", random_bytes(200000, 1));
  t.write("sub/b.bin", random_bytes(1000, 2));
  t.write("c.bin", "cee");
  t.sign(65536);
  t.write("c.bin", "CEE");
  fs::remove(t.model() / "sub" / "b.bin");
  ::usleep(30000);
  VerifiedModel vm = t.verified();
  auto files = preverify(vm);
  REQUIRE(files.size() == 1);
  CHECK(files[0].name == "a.bin");
  CHECK(files[0].digests.size() == 4);
  // What the caller already knows is not hashed; every listed file is reported once.
  PreverifyOptions o;
  o.known = [](const std::string& name, const FileIdentity&) { return name != "a.bin"; };
  std::vector<std::string> settled;
  std::mutex mu;
  o.on_file = [&](const std::string& name, const VerifiedFile* f) {
    std::lock_guard lock(mu);
    settled.push_back(name + (f ? ":ok" : ":-"));
  };
  CHECK(preverify(vm, o).size() == 1);
  std::sort(settled.begin(), settled.end());
  CHECK(settled == std::vector<std::string>{"a.bin:ok", "c.bin:-", "sub/b.bin:-"});
  // Stopped: nothing is returned, every file still settles.
  std::atomic<bool> stop{true};
  o.cancel = &stop;
  settled.clear();
  CHECK(preverify(vm, o).empty());
  CHECK(settled.size() == 3);
}

// A Hugging Face cache snapshot (issue 16): with VerifyOptions::hf_cache, a link into the
// cache's own blobs/ is read; a link anywhere else is refused.
TEST_CASE("hf_cache: links into the cache's blobs/ only") {
  TempModel t;
  const std::string data = random_bytes(5000, 3);
  t.write("w.bin", data);
  t.sign();
  const fs::path repo = t.dir / "models--org--m", snap = repo / "snapshots" / "rev";
  fs::create_directories(repo / "blobs");
  fs::create_directories(snap);
  std::ofstream(repo / "blobs" / "b1", std::ios::binary) << data;
  fs::create_symlink("../../blobs/b1", snap / "w.bin");
  fs::copy_file(t.model() / "model.sig", snap / "model.sig");
  VerifyOptions o;
  o.model_name = "m";
  CHECK(status_of([&] { verify_model(snap, t.policy, o); }) == Status::not_trusted);
  o.hf_cache = true;
  VerifiedModel vm = verify_model(snap, t.policy, o);
  CHECK(read_verified(vm, "w.bin") == data);
  CHECK(open_verified(vm, "w.bin"));
  std::ofstream(t.dir / "outside", std::ios::binary) << data;
  fs::remove(snap / "w.bin");
  fs::create_symlink(t.dir / "outside", snap / "w.bin");
  CHECK(status_of([&] { read_verified(vm, "w.bin"); }) == Status::not_trusted);
  CHECK(what_of([&] { open_verified(vm, "w.bin"); }).find("blobs/") != std::string::npos);
  o.hf_cache = true;
  CHECK(status_of([&] { verify_signature(t.model(), t.policy, o); }) == Status::usage);
}

TEST_CASE("open_verified with identities: NAME.age stands for a missing NAME, decrypted into sealed memory") {
  TempModel t;
  const std::string big = random_bytes(200000, 7);
  t.write("w.bin", big);
  t.write("sub/c.json", "{}");
  t.sign(64 * 1024);   // shards: each range of the plaintext is checked
  VerifiedModel vm = t.verified();
  age::Identity id = age::Identity::generate();
  age::encrypt_model(vm, {id.recipient()}, {});
  fs::remove(t.model() / "w.bin");
  const std::vector<age::Identity> ids{id};

  UniqueFd fd = open_verified(vm, "w.bin", ids);
  REQUIRE(fd);
  CHECK((::fcntl(fd.get(), F_GETFL) & O_ACCMODE) == O_RDONLY);
  CHECK((::fcntl(fd.get(), F_GET_SEALS) & (F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK)) ==
        (F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK));
  std::string got(big.size(), '\0');
  CHECK(::pread(fd.get(), got.data(), got.size(), 0) == static_cast<ssize_t>(big.size()));
  CHECK(got == big);
  CHECK(age::decrypted_bytes_held() >= big.size());
  // A file that is there is read as it is; without identities NAME is simply missing.
  CHECK(open_verified(vm, "sub/c.json", ids));
  CHECK(status_of([&] { open_verified(vm, "w.bin", {}); }) == Status::io);
  // Another identity, and a ciphertext of other bytes made for the right recipient.
  CHECK(what_of([&] { open_verified(vm, "w.bin", {age::Identity::generate()}); }).find("no identity matches") != std::string::npos);
  {
    fs::path age = t.model() / "w.bin.age";
    fs::rename(age, t.dir / "keep");
    t.write("w.bin", random_bytes(200000, 8));
    TempModel other;   // any signed model: encrypt_model only needs its listing
    other.write("w.bin", random_bytes(200000, 8));
    other.sign();
    age::encrypt_model(other.verified(), {id.recipient()}, {});
    fs::remove(t.model() / "w.bin");
    fs::copy_file(other.model() / "w.bin.age", age);
    CHECK(what_of([&] { open_verified(vm, "w.bin", ids); }).find("modified") != std::string::npos);
    fs::remove(age);
    fs::rename(t.dir / "keep", age);
  }
  // Past the cap of plaintext one process may hold.
  ::setenv("MODELSEAL_DECRYPT_MAX", "100K", 1);
  CHECK(what_of([&] { open_verified(vm, "w.bin", ids); }).find("over the cap of 100.0 KiB") != std::string::npos);
  ::unsetenv("MODELSEAL_DECRYPT_MAX");
}

TEST_CASE("read_verified of a range: only the shards it touches, plaintext or NAME.age") {
  TempModel t;
  const std::string big = random_bytes(1 << 20, 9);   // 16 shards of 64 KiB
  t.write("w.bin", big);
  t.sign(64 * 1024);
  VerifiedModel vm = t.verified();
  CHECK(read_verified(vm, "w.bin", 70000, 1000) == big.substr(70000, 1000));
  CHECK(read_verified(vm, "w.bin", 65530, 20) == big.substr(65530, 20));   // across two shards
  CHECK(read_verified(vm, "w.bin", 0, big.size()) == big);
  CHECK(read_verified(vm, "w.bin", big.size(), 0).empty());
  CHECK(status_of([&] { read_verified(vm, "w.bin", big.size() - 1, 2); }) == Status::usage);
  // A byte changed in the last shard: the first shards still read, the last does not.
  {
    std::string changed = big;
    changed[big.size() - 10] ^= 1;
    t.write("w.bin", changed);
    CHECK(read_verified(vm, "w.bin", 0, 4096) == big.substr(0, 4096));
    CHECK(status_of([&] { read_verified(vm, "w.bin", big.size() - 100, 100); }) == Status::not_trusted);
    t.write("w.bin", big);
  }
  // Encrypted: the same, decrypting only the chunks of the shards touched.
  age::Identity id = age::Identity::generate();
  age::encrypt_model(vm, {id.recipient()}, {});
  fs::remove(t.model() / "w.bin");
  const std::vector<age::Identity> ids{id};
  CHECK(read_verified(vm, "w.bin", 70000, 1000, ids) == big.substr(70000, 1000));
  CHECK(read_verified(vm, "w.bin", 0, big.size(), ids) == big);
  {
    // A chunk of the ciphertext in the middle flipped: the shards before it still read.
    std::fstream f(t.model() / "w.bin.age", std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(fs::file_size(t.model() / "w.bin.age") / 2));
    char c = 0;
    f.read(&c, 1);
    f.seekp(static_cast<std::streamoff>(fs::file_size(t.model() / "w.bin.age") / 2));
    c ^= 1;
    f.write(&c, 1);
  }
  CHECK(read_verified(vm, "w.bin", 0, 4096, ids) == big.substr(0, 4096));
  CHECK(what_of([&] { read_verified(vm, "w.bin", big.size() / 2 - 100, 200, ids); }).find("does not authenticate") !=
        std::string::npos);
  CHECK(status_of([&] { read_verified(vm, "w.bin", 0, 10); }) == Status::io);   // no identity: NAME is missing
}
