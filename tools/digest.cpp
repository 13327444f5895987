// modelseal digest: the root digest a signature would carry.
#include <cstdio>

#include "common.hpp"
#include "modelseal/sign.hpp"

using namespace modelseal;

int main(int argc, char** argv) {
  tool::App app{"Print a model's root digest (sha256:HEX), as model_signing's 'digest' does.", "modelseal digest"};
  std::string model;
  std::vector<std::string> ignores;
  bool allow_symlinks = false, quiet = false;
  unsigned threads = 0;
  uint64_t shard_size = 0;
  app.add_option("MODEL", model, "Model directory or file")->required();
  app.add_option("--ignore", ignores, "Leave this path (relative to MODEL) out; repeatable");
  app.add_flag("--allow-symlinks", allow_symlinks, "Hash the targets of symlinks under their link names");
  tool::add_size_option(app, "--shard-size", shard_size,
                        "Use the 'shards' serialization with SIZE per shard (bytes, or K, M, G, T: 256M)", 1,
                        uint64_t{1} << 50);
  app.add_option("--threads", threads, "Hashing threads (default: one per core)")->check(tool::Range(1u, 1024u));
  tool::add_common(app, quiet);
  app.footer("Example:\n  $ modelseal digest ./bert\n  sha256:92745110b1ab4368471cbe31664e10174e954b113a3df333db860317b2c6dec4");
  return tool::run(app, argc, argv, [&] {
    SignOptions opts;
    tool::check_ignores(model, ignores, quiet);
    opts.ignore_paths = ignores;
    opts.allow_symlinks = allow_symlinks;
    opts.shard_size = shard_size;
    opts.hash.threads = threads;
    Manifest m = [&] {
      tool::Progress progress("hashing", [&] { return tool::model_size(model); }, quiet);
      opts.hash.bytes_done = progress.counter();
      return manifest_for(model, opts);
    }();
    std::printf("sha256:%s\n", digest_hex(m.root()).c_str());
    return 0;
  });
}
