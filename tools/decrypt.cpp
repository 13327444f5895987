// modelseal decrypt: an encrypted model's NAME.age files back to plaintext, each checked against
// the signature before it lands.
#include <cstdio>

#include "common.hpp"
#include "modelseal/age_model.hpp"
#include "modelseal/verify.hpp"

using namespace modelseal;

int main(int argc, char** argv) {
  tool::App app{"Decrypt a model's NAME.age files; each plaintext is verified against the signature before it lands.",
                "modelseal decrypt"};
  std::string model, out_dir, policy_file, signature, pass_file;
  std::vector<std::string> pubkeys, identities;
  bool passphrase = false, quiet = false;
  unsigned threads = 0;
  app.add_option("MODEL", model, "Model directory holding model.sig and NAME.age files")->required();
  app.add_option("-i,--identity", identities, "age identity file (AGE-SECRET-KEY-1..., mode 600); repeatable");
  app.add_flag("--passphrase", passphrase, "The files were encrypted with a passphrase");
  app.add_option("--passphrase-file", pass_file, "With --passphrase: read it from the first line of FILE (mode 600)");
  app.add_option("-p,--public-key", pubkeys, "Trusted public key the signature must verify with; repeatable");
  app.add_option("--policy", policy_file, "Trust policy (JSON) the signature must verify with");
  app.add_option("-s,--signature", signature, "Signature file (default: MODEL/model.sig)");
  app.add_option("-o,--output", out_dir, "Write the plaintext (and a copy of the signature) into DIR");
  app.add_option("--threads", threads, "Decryption threads (default: one per core)")->check(tool::Range(1u, 1024u));
  tool::add_common(app, quiet);
  app.footer(
      "Nothing lands that does not match the signature: a tampered, swapped or re-encrypted file is refused "
      "(age authenticates only the holder of the key, not the author).\n\nExample:\n"
      "  $ modelseal decrypt ./bert -p release.pub -i inference.agekey -o /srv/bert\n"
      "  modelseal: decrypted and verified 12 files into /srv/bert");
  return tool::run(app, argc, argv, [&] {
    std::vector<age::Identity> ids = tool::load_age_identities(identities, passphrase, pass_file);
    if (ids.empty()) throw usage_error("no identity given", "use -i/--identity FILE or --passphrase");
    std::error_code ec;
    if (!std::filesystem::exists(model, ec) && std::filesystem::exists(model + ".age", ec))
      throw usage_error("decrypting a single-file model is not supported yet: " + model,
                        "encrypt the model as a directory, or decrypt it with age -d -i IDENTITY and verify it");
    Policy policy = tool::load_policy(pubkeys, policy_file);
    VerifyOptions vopts;
    vopts.signature = signature;
    // The signature only: the files are checked as they are decrypted.
    VerifiedModel vm = verify_signature(model, policy, vopts);
    age::ModelCryptOptions opts;
    opts.out_dir = out_dir;
    opts.signature = signature.empty() ? default_signature_path(model) : std::filesystem::path(signature);
    opts.threads = threads;
    std::vector<std::filesystem::path> written;
    {
      tool::Progress progress("decrypting", [&] { return tool::model_size(model); }, quiet);
      opts.bytes_done = progress.counter();
      written = age::decrypt_model(vm, ids, opts);
    }
    if (!quiet)
      std::fprintf(stderr, "modelseal: decrypted and verified %s into %s\n", tool::count_of(written.size(), "file").c_str(),
                   out_dir.empty() ? model.c_str() : out_dir.c_str());
    return 0;
  });
}
