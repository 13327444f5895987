// RFC 3161 timestamps over the envelope's signature (sigstore's timestampVerificationData),
// verified with OpenSSL's TS code against a timestamp authority of the trusted root: the token's
// CMS signature, a signer chaining to the authority's root at genTime with the timeStamping EKU,
// its ESS signing-certificate attribute, and a message imprint equal to the signature's digest.
#include <openssl/err.h>
#include <openssl/ts.h>

#include "internal.hpp"
#include "modelseal/error.hpp"

namespace modelseal::sigstore {

namespace {

using TsRespPtr = std::unique_ptr<TS_RESP, Deleter<TS_RESP_free>>;
using TsCtxPtr = std::unique_ptr<TS_VERIFY_CTX, Deleter<TS_VERIFY_CTX_free>>;

bool verify_with(TS_RESP* resp, std::string_view signature, const CertificateAuthority& tsa, std::time_t gen_time) {
  std::vector<X509Ptr> certs;
  for (const auto& der : tsa.chain_der) certs.push_back(parse_der_certificate(der, "timestamp authority"));
  TsCtxPtr ctx(TS_VERIFY_CTX_new());
  X509StorePtr store(X509_STORE_new());
  X509Stack untrusted(sk_X509_new_null());
  BIO* data = BIO_new_mem_buf(signature.data(), int(signature.size()));
  if (!ctx || !store || !untrusted || !data) {
    BIO_free(data);
    throw io_error("out of memory");
  }
  TS_VERIFY_CTX_set_data(ctx.get(), data);  // owned by ctx from here
  X509_STORE_add_cert(store.get(), certs.back().get());
  X509_VERIFY_PARAM_set_time(X509_STORE_get0_param(store.get()), gen_time);
  for (size_t i = 0; i + 1 < certs.size(); ++i) {
    X509_up_ref(certs[i].get());
    sk_X509_push(untrusted.get(), certs[i].get());
  }
  TS_VERIFY_CTX_set_store(ctx.get(), store.release());
  TS_VERIFY_CTS_set_certs(ctx.get(), untrusted.release());
  TS_VERIFY_CTX_set_flags(ctx.get(), TS_VFY_VERSION | TS_VFY_SIGNATURE | TS_VFY_DATA | TS_VFY_SIGNER);
  bool ok = TS_RESP_verify_response(ctx.get(), resp) == 1;
  ERR_clear_error();
  return ok;
}

}  // namespace

std::time_t verify_rfc3161(std::string_view tsr_der, std::string_view signature,
                           const std::vector<CertificateAuthority>& tsas, const std::string& what) {
  const auto* p = reinterpret_cast<const unsigned char*>(tsr_der.data());
  TsRespPtr resp(d2i_TS_RESP(nullptr, &p, long(tsr_der.size())));
  if (!resp || p != reinterpret_cast<const unsigned char*>(tsr_der.data() + tsr_der.size())) {
    ERR_clear_error();
    throw untrusted(what + ": not a DER TimeStampResp");
  }
  TS_TST_INFO* info = TS_RESP_get_tst_info(resp.get());
  if (!info) throw untrusted(what + ": no timestamp token (status not granted)");
  const int md = OBJ_obj2nid(TS_MSG_IMPRINT_get_algo(TS_TST_INFO_get_msg_imprint(info))->algorithm);
  if (md != NID_sha256 && md != NID_sha384 && md != NID_sha512)
    throw untrusted(what + ": message imprint is not SHA-256, SHA-384 or SHA-512");
  const std::time_t gen_time = asn1_time_to_time(TS_TST_INFO_get_time(info));
  bool any_valid = false;
  for (const auto& tsa : tsas) {
    if (!tsa.valid_for.contains(gen_time)) continue;
    any_valid = true;
    if (verify_with(resp.get(), signature, tsa, gen_time)) return gen_time;
  }
  if (!any_valid) throw untrusted(what + ": no timestamp authority of the trusted root was valid at " + format_time(gen_time));
  throw untrusted(what + ": does not verify against any timestamp authority of the trusted root, or is not over this signature");
}

}  // namespace modelseal::sigstore
