// The checks `sign --signing-certificate CERT [--certificate-chain FILE]...` makes before it signs.
#pragma once

#include <ctime>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "modelseal/keys.hpp"

#pragma GCC visibility push(default)   // the installed API: exported from libmodelseal.so

namespace modelseal {

// Loads the PEM signing certificate `cert` (exactly one certificate) and the PEM intermediates
// (any number per file, in order) and returns the chain as DER, leaf first, for the bundle's
// verificationMaterial.x509CertificateChain.certificates[].rawBytes. Error(usage), one line,
// when: a file holds no certificate; `key` is not the certificate's public key; the leaf lacks
// the digitalSignature key usage or the codeSigning extended key usage; a certificate is
// expired or not yet valid at `now` (both dates in the message); a certificate is not issued
// (name and signature) by the next one in the chain. Trust in a root is not decided here: that
// is the verifier's job.
std::vector<std::string> load_signing_chain(const std::filesystem::path& cert,
                                            const std::vector<std::filesystem::path>& intermediates,
                                            const PublicKey& key, std::time_t now);
// The same with the signing certificate as DER (from a token: pkcs11_certificate()), named
// `cert_name` in messages.
std::vector<std::string> load_signing_chain_der(std::string_view cert_der, const std::string& cert_name,
                                                const std::vector<std::filesystem::path>& intermediates,
                                                const PublicKey& key, std::time_t now);

}  // namespace modelseal

#pragma GCC visibility pop
