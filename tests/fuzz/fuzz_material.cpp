// libFuzzer entry point: certificate-bearing bundles. The verification material is parsed, then
// run through both certificate methods (which parse the certificates, the Rekor body, the
// checkpoint and the timestamps before refusing) under an empty trusted root and a fixed CA.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "modelseal/error.hpp"
#include "modelseal/json.hpp"
#include "modelseal/sigstore.hpp"

namespace {

// A throwaway self-signed P-256 CA (CN=fuzz-ca), only so the chain code has a root.
constexpr const char* kRoot =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBeTCCAR+gAwIBAgIUdkH+GKNdH3H+w1XPc2QGUgfLoS4wCgYIKoZIzj0EAwIw\n"
    "EjEQMA4GA1UEAwwHZnV6ei1jYTAeFw0yNjEyMDIwNDU4MDBaFw0zNjExMjkwNDU4\n"
    "MDBaMBIxEDAOBgNVBAMMB2Z1enotY2EwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNC\n"
    "AASAFOMYWLw09G5xAJRZyFehnGgk6A6EleYD8AeS3CgbBFvDztxK6FMO4JviUttl\n"
    "OvQhGS2ZSY0ULQS6tXXHLZ+uo1MwUTAdBgNVHQ4EFgQUpHv7SAN95ZDjf3XEyaSZ\n"
    "Pogqi2UwHwYDVR0jBBgwFoAUpHv7SAN95ZDjf3XEyaSZPogqi2UwDwYDVR0TAQH/\n"
    "BAUwAwEB/zAKBggqhkjOPQQDAgNIADBFAiEAu4UhJI9BHwhE2ZF8MONOsnWFfLOo\n"
    "QI88hgHr3U2exP4CIEIXOu8+9mg5PiTrVEznhs9KqST+hZ6uysxNj1vdo3Qd\n"
    "-----END CERTIFICATE-----\n";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace modelseal;
  static const TrustedRoot empty = TrustedRoot::parse(R"({"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"})", "fuzz");
  try {
    json b = parse_json_strict(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz");
    if (!b.is_object() || !b.contains("verificationMaterial")) return 0;
    VerificationMaterial vm = VerificationMaterial::parse(b["verificationMaterial"], "fuzz");
    try {
      verify_certificate_chain(vm, {kRoot}, std::string("x"));
    } catch (const Error&) {
    }
    if (b.contains("dsseEnvelope")) {
      Envelope env = Envelope::from_json(b["dsseEnvelope"], "fuzz");
      verify_sigstore(vm, env, empty, {"x", "", "y"});
    }
  } catch (const Error&) {
  }
  return 0;
}
