// The SCT embedded in a Fulcio certificate (RFC 6962 §3.2-3.3): exactly one, by a CT log of the
// trusted root valid at its timestamp, signed over the precertificate entry it was issued for.
#include <openssl/ct.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "internal.hpp"
#include "modelseal/error.hpp"
#include "modelseal/hash.hpp"

namespace modelseal::sigstore {

namespace {

struct SctListFree {
  void operator()(STACK_OF(SCT)* s) const { SCT_LIST_free(s); }
};
using SctList = std::unique_ptr<STACK_OF(SCT), SctListFree>;

void put(std::string& out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out += char((v >> (8 * i)) & 0xff);
}

// TBSCertificate of the leaf without its SCT list extension: what the CA sent the log.
std::string precert_tbs(X509* leaf) {
  X509Ptr copy(X509_dup(leaf));
  if (!copy) throw io_error("out of memory");
  int i = X509_get_ext_by_NID(copy.get(), NID_ct_precert_scts, -1);
  if (i < 0 || X509_get_ext_by_NID(copy.get(), NID_ct_precert_scts, i) >= 0)
    throw untrusted("certificate: expected exactly one SCT list extension");
  X509_EXTENSION_free(X509_delete_ext(copy.get(), i));
  unsigned char* buf = nullptr;
  int len = i2d_re_X509_tbs(copy.get(), &buf);
  if (len <= 0) throw untrusted("certificate: cannot re-encode its TBSCertificate");
  std::string tbs(reinterpret_cast<char*>(buf), size_t(len));
  OPENSSL_free(buf);
  return tbs;
}

std::string spki_der(X509* cert) {
  unsigned char* buf = nullptr;
  int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &buf);
  if (len <= 0) return {};
  std::string out(reinterpret_cast<char*>(buf), size_t(len));
  OPENSSL_free(buf);
  return out;
}

}  // namespace

void verify_embedded_sct(X509* leaf, X509* issuer, const std::vector<TransparencyLog>& ctlogs) {
  SctList scts(static_cast<STACK_OF(SCT)*>(X509_get_ext_d2i(leaf, NID_ct_precert_scts, nullptr, nullptr)));
  ERR_clear_error();
  if (!scts || sk_SCT_num(scts.get()) == 0) throw untrusted("certificate: no embedded SCT");
  if (sk_SCT_num(scts.get()) != 1) throw untrusted("certificate: expected exactly one embedded SCT, found " +
                                                   std::to_string(sk_SCT_num(scts.get())));
  SCT* sct = sk_SCT_value(scts.get(), 0);
  if (SCT_get_version(sct) != SCT_VERSION_V1) throw untrusted("certificate: SCT is not version 1");
  unsigned char* id = nullptr;
  size_t id_len = SCT_get0_log_id(sct, &id);
  std::string log_id(reinterpret_cast<char*>(id), id_len);
  const uint64_t ts_ms = SCT_get_timestamp(sct);
  const std::time_t ts = std::time_t(ts_ms / 1000);

  const TransparencyLog* log = nullptr;
  for (const auto& l : ctlogs)
    if (l.log_id == log_id) log = &l;
  if (!log) throw untrusted("certificate: its SCT is from a CT log the trusted root does not list");
  if (!log->valid_for.contains(ts))
    throw untrusted("certificate: its SCT's CT log was not valid at " + format_time(ts));
  auto key = spki_key(log->spki_der);
  if (!key) throw untrusted("certificate: the CT log's key in the trusted root is not supported");

  unsigned char* ext = nullptr;
  size_t ext_len = SCT_get0_extensions(sct, &ext);
  unsigned char* sig = nullptr;
  size_t sig_len = SCT_get0_signature(sct, &sig);
  const std::string tbs = precert_tbs(leaf);
  if (tbs.size() >= (1u << 24) || ext_len >= (1u << 16)) throw untrusted("certificate: SCT input too large");
  const Digest issuer_key_hash = sha256(spki_der(issuer));

  std::string signed_data;
  put(signed_data, 0, 1);  // sct_version v1
  put(signed_data, 0, 1);  // signature_type certificate_timestamp
  put(signed_data, ts_ms, 8);
  put(signed_data, 1, 2);  // entry_type precert_entry
  signed_data.append(reinterpret_cast<const char*>(issuer_key_hash.data()), issuer_key_hash.size());
  put(signed_data, tbs.size(), 3);
  signed_data += tbs;
  put(signed_data, ext_len, 2);
  signed_data.append(reinterpret_cast<const char*>(ext), ext_len);
  try {
    key->verify(signed_data, std::string_view(reinterpret_cast<const char*>(sig), sig_len));
  } catch (const Error&) {
    throw untrusted("certificate: its SCT signature does not verify with the CT log's key");
  }
}

}  // namespace modelseal::sigstore
