// modelseal keygen: make a key pair.
#include <cstdio>
#include <filesystem>

#include "common.hpp"
#include "modelseal/age.hpp"
#include "modelseal/fileio.hpp"
#include "modelseal/files.hpp"
#include "modelseal/pkcs11.hpp"

using namespace modelseal;

int main(int argc, char** argv) {
  tool::App app{"Generate a signing key pair: PREFIX.key (private, encrypted) and PREFIX.pub.", "modelseal keygen"};
  std::string type = "ed25519", prefix = "modelseal", pass_file, pkcs11;
  bool no_pass = false, force = false, quiet = false;
  app.add_option("-t,--type", type, "Key type: ed25519 (default), p256, p384, or x25519 (an age identity for encrypt/decrypt)")
      ->check(tool::IsMember({"ed25519", "p256", "p384", "x25519"}));
  auto* out_opt = app.add_option("-o,--output", prefix, "Write PREFIX.key and PREFIX.pub (default: modelseal); for x25519, the identity file NAME");
  app.add_option("--passphrase-file", pass_file, "Read the passphrase from the first line of FILE (mode 600)");
  app.add_flag("--insecure-no-passphrase", no_pass, "Write the private key unencrypted");
  app.add_flag("-f,--force", force, "Overwrite existing key files");
  app.add_option("--pkcs11", pkcs11, "Generate the pair on the PKCS#11 token URI names (object= is its label) "
                                     "and write only PREFIX.pub; see modelseal-keys(5)")
      ->excludes("--passphrase-file", "--insecure-no-passphrase");
  tool::add_common(app, quiet);
  app.footer(
      "The passphrase comes from MODELSEAL_PASSPHRASE, --passphrase-file, or a prompt on the terminal.\n\n"
      "Example:\n  $ modelseal keygen -o release\n  passphrase: \n  confirm passphrase: \n"
      "  modelseal: wrote release.key and release.pub (ed25519, key id 3f1c...)\n"
      "  $ modelseal keygen -t x25519 -o inference.agekey\n  age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p\n"
      "  $ modelseal keygen -t p256 -o hsm --pkcs11 \\\n"
      "      'pkcs11:token=release;object=model-2026?module-name=softhsm2&pin-source=/etc/modelseal/pin'");
  return tool::run(app, argc, argv, [&] {
    if (!pkcs11.empty()) {
      if (type == "x25519") throw usage_error("--pkcs11 makes signing keys: -t ed25519, p256 or p384");
      const std::string pub_path = prefix + ".pub";
      std::error_code ec;
      if (!force && std::filesystem::exists(pub_path, ec))
        throw usage_error("refusing to overwrite " + pub_path, "use -f/--force to replace it");
      Pkcs11Uri uri = Pkcs11Uri::parse(pkcs11);
      PublicKey pub = Pkcs11Key::generate(uri, *key_type_from_name(type));
      write_file_atomic(pub_path, pub.pem(), 0644);
      if (!quiet)
        std::fprintf(stderr, "modelseal: generated %s on %s; wrote %s (key id %s)\n", type.c_str(),
                     uri.display().c_str(), pub_path.c_str(), pub.keyid().substr(0, 16).c_str());
      return 0;
    }
    if (type == "x25519") {
      // An age identity file, as age-keygen writes it (0600); the recipient goes to stdout.
      if (out_opt->count() == 0) throw usage_error("-t x25519 needs -o NAME", "modelseal keygen -t x25519 -o NAME");
      std::error_code ec;
      if (!force && std::filesystem::exists(prefix, ec))
        throw usage_error("refusing to overwrite " + prefix, "use -f/--force to replace it");
      age::Identity id = age::Identity::generate();
      write_file_atomic(prefix, id.keygen_file().view(), 0600);
      std::printf("%s\n", id.recipient().to_string().c_str());
      if (!quiet) std::fprintf(stderr, "modelseal: wrote %s (x25519 age identity)\n", prefix.c_str());
      return 0;
    }
    std::string key_path = prefix + ".key", pub_path = prefix + ".pub";
    std::error_code ec;
    for (const auto& p : {key_path, pub_path})
      if (!force && std::filesystem::exists(p, ec))
        throw usage_error("refusing to overwrite " + p, "use -f/--force to replace it");
    Passphrase pass;
    if (!no_pass) pass = read_passphrase(pass_file, true, "passphrase: ");
    PrivateKey key = PrivateKey::generate(*key_type_from_name(type));
    SecretBytes pem = no_pass ? key.to_pem_insecure_unencrypted() : key.to_pem(pass);
    write_file_atomic(key_path, pem.view(), 0600);
    write_file_atomic(pub_path, key.public_key().pem(), 0644);
    if (!quiet)
      std::fprintf(stderr, "modelseal: wrote %s and %s (%s, key id %s)\n", key_path.c_str(), pub_path.c_str(),
                   type.c_str(), key.public_key().keyid().substr(0, 16).c_str());
    return 0;
  });
}
