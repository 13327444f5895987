// modelseal: runs `modelseal-CMD` (beside this program, else on PATH), git-style.
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <algorithm>
#include <string>
#include <string_view>
#include <vector>
#include <unistd.h>
#include "modelseal/version.hpp"
#include "suggest.hpp"

namespace {

const char* const kCommands[][2] = {
    {"keygen", "generate a signing key pair"},
    {"sign", "sign a model directory or file"},
    {"verify", "verify a model against its signature and a trust policy"},
    {"digest", "print a model's root digest"},
    {"inspect", "show what a signature claims (unverified)"},
    {"scan", "scan model files for code injection"},
    {"attest", "write a signed in-toto attestation about a model"},
    {"chain", "verify a release's chain of attestations against a layout"},
    {"fetch", "download a signed model over HTTPS, verifying as it arrives"},
    {"audit", "verify a tamper-evident audit log"},
    {"encrypt", "encrypt a signed model's files at rest (age)"},
    {"decrypt", "decrypt an age-encrypted model, verifying each file"},
};

void usage(FILE* out) {
  std::fprintf(out,
               "usage: modelseal COMMAND [ARGS...]\n"
               "       modelseal COMMAND --help    (or: modelseal help COMMAND)\n"
               "       modelseal --version\n\ncommands:\n");
  for (const auto& c : kCommands) std::fprintf(out, "  %-8s %s\n", c[0], c[1]);
  std::fprintf(out,
               "\nExample:\n  $ modelseal sign ./bert -k release.key\n  $ modelseal verify ./bert -p release.pub\n"
               "  ./bert: OK (12 files, sha256:9274..., signed by 3f1c0a...)\n");
}

bool known_command(const std::string& cmd) {
  for (const auto& c : kCommands)
    if (cmd == c[0]) return true;
  return false;
}

int unknown_command(const std::string& cmd) {
  std::vector<std::string_view> names;
  for (const auto& c : kCommands) names.push_back(c[0]);
  const std::string nearest = modelseal::tool::nearest(cmd, names);
  const char* best = nearest.empty() ? nullptr : nearest.c_str();
  if (best)
    std::fprintf(stderr, "modelseal: unknown command: %s\nhint: did you mean 'modelseal %s'?\n", cmd.c_str(), best);
  else
    std::fprintf(stderr, "modelseal: unknown command: %s\nhint: run 'modelseal --help' for the list\n", cmd.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  std::string cmd = argv[1];
  if (cmd == "-h" || cmd == "--help" || (cmd == "help" && argc == 2)) {
    usage(stdout);
    return 0;
  }
  static char help_flag[] = "--help";
  if (cmd == "help") {   // `modelseal help CMD` is `modelseal CMD --help`
    if (argc != 3) {
      std::fprintf(stderr, "modelseal: help takes one command\nhint: modelseal help verify\n");
      return 2;
    }
    cmd = argv[2];
    if (!known_command(cmd)) return unknown_command(cmd);
    argv[2] = help_flag;
  }
  if (cmd == "-V" || cmd == "--version") {
    std::printf("modelseal %s\n", MODELSEAL_VERSION);
    return 0;
  }
  if (!known_command(cmd)) return unknown_command(cmd);
  std::string prog = "modelseal-" + cmd;
  argv[1] = prog.data();
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n > 0) {
    self[n] = '\0';
    std::string dir(self);
    dir = dir.substr(0, dir.rfind('/') + 1);
    std::string beside = dir + prog;
    if (access(beside.c_str(), X_OK) == 0) execv(beside.c_str(), argv + 1);
  }
  execvp(prog.c_str(), argv + 1);
  std::fprintf(stderr, "modelseal: cannot run %s: %s\n", prog.c_str(), std::strerror(errno));
  return errno == ENOENT ? 2 : 3;
}
