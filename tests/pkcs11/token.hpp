// A softhsm2 token for the tests: its own SOFTHSM2_CONF folder, initialised with pkcs11-tool,
// PINs passed through the environment (pkcs11-tool's env:VAR), never on a command line.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace test {

inline const std::string kSoftHsm = "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so";
inline const std::string kPin = "4711-test-pin";

inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void write(const std::filesystem::path& p, const std::string& data, std::filesystem::perms mode =
                                                                                  std::filesystem::perms::owner_read |
                                                                                  std::filesystem::perms::owner_write) {
  std::ofstream(p, std::ios::binary | std::ios::trunc) << data;
  std::filesystem::permissions(p, mode);
}

// Runs a shell command; returns its exit status, its output (stdout and stderr) in `out`.
inline int sh(const std::string& cmd, std::string* out = nullptr) {
  FILE* p = ::popen(("(" + cmd + ") 2>&1").c_str(), "r");
  std::string text;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) text.append(buf, n);
  int st = ::pclose(p);
  if (out) *out = text;
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

// One token, label "modelseal-test", for the whole test program.
struct Token {
  std::filesystem::path dir, pin_file;
  std::string label = "modelseal-test";
  Token() {
    std::string t = (std::filesystem::temp_directory_path() / "modelseal-p11-XXXXXX").string();
    dir = ::mkdtemp(t.data());
    std::filesystem::create_directory(dir / "tokens");
    write(dir / "softhsm2.conf", "directories.tokendir = " + (dir / "tokens").string() +
                                     "\nobjectstore.backend = file\nlog.level = ERROR\n");
    ::setenv("SOFTHSM2_CONF", (dir / "softhsm2.conf").c_str(), 1);
    ::setenv("P11_TEST_SO_PIN", "so-secret-1234", 1);
    ::setenv("P11_TEST_PIN", kPin.c_str(), 1);
    pin_file = dir / "pin";
    write(pin_file, kPin + "\n");
    tool("--init-token --label " + label + " --so-pin env:P11_TEST_SO_PIN");
    tool("--token-label " + label + " --login --login-type so --so-pin env:P11_TEST_SO_PIN --init-pin "
         "--pin env:P11_TEST_PIN");
  }
  ~Token() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  // pkcs11-tool on this token; fails the program if it fails.
  std::string tool(const std::string& args) const {
    std::string out;
    if (sh("pkcs11-tool --module " + kSoftHsm + " " + args, &out) != 0) {
      std::fprintf(stderr, "pkcs11-tool %s failed:\n%s\n", args.c_str(), out.c_str());
      std::abort();
    }
    return out;
  }
  std::string login(const std::string& args) const {
    return tool("--token-label " + label + " --login --pin env:P11_TEST_PIN " + args);
  }
  // A key URI on this token with the PIN from the PIN file.
  std::string uri(const std::string& path_attrs) const {
    return "pkcs11:token=" + label + ";" + path_attrs + "?module-path=" + kSoftHsm +
           "&pin-source=file:" + pin_file.string();
  }
};

inline Token& token() {
  static Token t;
  return t;
}

}  // namespace test
