// Test driver for the cross-check: runs verify_sigstore (or verify_certificate_chain) on one
// bundle file and prints "ok" or the refusal; exit 0 accepted, 1 refused, 2 usage.
//   sigstore_check sigstore BUNDLE TRUSTED_ROOT IDENTITY ISSUER
//   sigstore_check certificate BUNDLE ROOTS.pem
#include <fstream>
#include <iostream>
#include <sstream>

#include "modelseal/error.hpp"
#include "modelseal/sigstore.hpp"
#include "modelseal/json.hpp"

using namespace modelseal;

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (!((mode == "sigstore" && argc == 6) || (mode == "certificate" && argc == 4))) {
    std::cerr << "usage: sigstore_check sigstore BUNDLE ROOT IDENTITY ISSUER | certificate BUNDLE ROOTS.pem\n";
    return 2;
  }
  auto slurp = [](const char* p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  try {
    json b = parse_json_strict(slurp(argv[2]), argv[2]);
    VerificationMaterial vm = VerificationMaterial::parse(b.at("verificationMaterial"), argv[2]);
    Envelope env = Envelope::from_json(b.at("dsseEnvelope"), argv[2]);
    if (mode == "sigstore") {
      CertifiedSigner s = verify_sigstore(vm, env, TrustedRoot::load(argv[3]), {argv[4], "", argv[5]});
      std::cout << "ok " << s.identity << " " << s.issuer << " " << s.verified_times.size() << "\n";
    } else {
      CertifiedSigner s = verify_certificate_chain(vm, {slurp(argv[3])}, std::nullopt);
      verify_dsse_with_certified_key(s.key, env, env.signatures.at(0), true);
      std::cout << "ok " << s.identity << "\n";
    }
    return 0;
  } catch (const Error& e) {
    std::cout << e.what() << "\n";
    return int(e.status());
  } catch (const std::exception& e) {
    std::cout << "refused: " << e.what() << "\n";
    return 1;
  }
}
