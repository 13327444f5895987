// The certificate method (model_signing's "certificate"): the bundle's chain, leaf first, to a
// root the verifier names, as of the leaf's notBefore (there is no log time to check it at), and
// a leaf meant for signing. The test PKI's leaf is a CA:TRUE certificate named like its issuer;
// OpenSSL, like model_signing, accepts it as a leaf.
#include "internal.hpp"
#include "modelseal/encoding.hpp"
#include "modelseal/error.hpp"

namespace modelseal {

using namespace sigstore;

CertifiedSigner verify_certificate_chain(const VerificationMaterial& vm, const std::vector<std::string>& roots_pem,
                                         const std::optional<std::string>& expected_identity) {
  if (roots_pem.empty()) throw usage_error("certificate: no root certificate given");
  std::vector<X509Ptr> roots;
  for (const auto& pem : roots_pem)
    for (auto& c : parse_pem_certificates(pem, "certificate roots")) roots.push_back(std::move(c));
  if (!vm.has_certificate()) throw untrusted("certificate: the bundle has no certificate chain");

  X509Ptr leaf = parse_der_certificate(vm.chain_der[0], "signing certificate");
  std::vector<X509Ptr> intermediates;
  for (size_t i = 1; i < vm.chain_der.size(); ++i)
    intermediates.push_back(parse_der_certificate(vm.chain_der[i], "intermediate certificate"));
  std::vector<X509*> anchors, untrusted_certs;
  for (auto& r : roots) anchors.push_back(r.get());
  for (auto& c : intermediates) untrusted_certs.push_back(c.get());

  const std::time_t at = asn1_time_to_time(X509_get0_notBefore(leaf.get()));
  std::string reason;
  if (!verify_chain_at(leaf.get(), anchors, untrusted_certs, at, reason))
    throw untrusted("signing certificate does not chain to the given roots (at its notBefore " + format_time(at) +
                    "): " + reason);
  KeyUsage ku = key_usage(leaf.get());
  if (!ku.digital_signature && !ku.code_signing)
    throw untrusted("signing certificate is not for signing (no key usage digitalSignature, no EKU codeSigning)");

  std::vector<std::string> names = signer_sans(leaf.get());
  for (auto& d : dns_sans(leaf.get())) names.push_back(std::move(d));
  const std::string cn = subject_cn(leaf.get()), subject = subject_rfc2253(leaf.get());
  CertifiedSigner out{certificate_key(leaf.get(), "signing certificate"), {}, issuer_rfc2253(leaf.get()), subject, {at}, {}, {}};
  out.identity = !names.empty() ? names[0] : cn;
  if (expected_identity) {
    names.push_back(cn);
    names.push_back(subject);
    bool found = false;
    for (const auto& n : names)
      if (!n.empty() && n == *expected_identity) found = true, out.identity = n;
    if (!found)
      throw untrusted("signing certificate identity " + printable(out.identity) + " is not " + printable(*expected_identity));
  }
  return out;
}

}  // namespace modelseal
