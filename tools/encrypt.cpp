// modelseal encrypt: a signed model's files into age files (NAME.age), for storage at rest.
#include <cstdio>

#include "common.hpp"
#include "modelseal/age_model.hpp"
#include "modelseal/verify.hpp"

using namespace modelseal;

int main(int argc, char** argv) {
  tool::App app{"Encrypt every file a model's signature lists into NAME.age (age v1), after verifying the signature.",
                "modelseal encrypt"};
  std::string model, out_dir, policy_file, signature, recipients_file, pass_file;
  std::vector<std::string> pubkeys, recipients;
  bool passphrase = false, remove_plaintext = false, armor = false, quiet = false;
  app.add_option("MODEL", model, "Model directory or file (signed)")->required();
  app.add_option("-r,--recipient", recipients, "Encrypt to this age recipient (age1...); repeatable");
  app.add_option("-R,--recipients-file", recipients_file, "Encrypt to the recipients listed in FILE, one a line");
  app.add_flag("--passphrase", passphrase, "Encrypt with a passphrase (scrypt) instead of recipients");
  app.add_option("--passphrase-file", pass_file, "With --passphrase: read it from the first line of FILE (mode 600)");
  app.add_option("-p,--public-key", pubkeys, "Trusted public key the signature must verify with; repeatable");
  app.add_option("--policy", policy_file, "Trust policy (JSON) the signature must verify with");
  app.add_option("-s,--signature", signature, "Signature file (default: MODEL/model.sig)");
  app.add_option("-o,--output", out_dir, "Write NAME.age (and a copy of the signature) into DIR");
  app.add_flag("-a,--armor", armor, "Write ASCII-armored age files");
  app.add_flag("--remove-plaintext", remove_plaintext, "Delete each plaintext file once every NAME.age is written and fsynced");
  tool::add_common(app, quiet);
  app.footer(
      "The model must verify first: nothing unsigned is encrypted by mistake. model.sig keeps describing the "
      "plaintext.\n\nExample:\n  $ modelseal encrypt ./bert -p release.pub -r age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p\n"
      "  modelseal: encrypted 12 files of ./bert (to 1 recipient)");
  return tool::run(app, argc, argv, [&] {
    std::vector<age::Recipient> rs;
    for (const auto& r : recipients) rs.push_back(age::Recipient::parse(r));
    if (!recipients_file.empty())
      for (auto& r : age::load_recipients(recipients_file)) rs.push_back(std::move(r));
    if (passphrase) {
      if (!rs.empty()) throw usage_error("--passphrase cannot be combined with -r/-R");
      rs.push_back(age::Recipient::passphrase(read_passphrase(pass_file, true, "passphrase: ").bytes));
    }
    if (rs.empty()) throw usage_error("no recipient given", "use -r age1..., -R FILE or --passphrase");
    Policy policy = tool::load_policy(pubkeys, policy_file);
    VerifyOptions vopts;
    vopts.signature = signature;
    VerifiedModel vm = verify_model(model, policy, vopts);   // the one call to the verifier
    age::ModelCryptOptions opts;
    opts.out_dir = out_dir;
    opts.signature = signature.empty() ? default_signature_path(model) : std::filesystem::path(signature);
    opts.remove_plaintext = remove_plaintext;
    opts.armor = armor;
    std::vector<std::filesystem::path> written;
    {
      tool::Progress progress("encrypting", [&] { return tool::model_size(model); }, quiet);
      opts.bytes_done = progress.counter();
      written = age::encrypt_model(vm, rs, opts);
    }
    if (!quiet)
      std::fprintf(stderr, "modelseal: encrypted %s of %s (to %zu recipient%s)%s\n", tool::count_of(written.size(), "file").c_str(), model.c_str(),
                   rs.size(), rs.size() == 1 ? "" : "s", remove_plaintext ? "; plaintext removed" : "");
    return 0;
  });
}
