// Signing certificates: the key matches, the usage allows code signing, the dates are current,
// the chain links.
#include "modelseal/signing_cert.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>

#include "modelseal/encoding.hpp"
#include "modelseal/error.hpp"
#include "modelseal/fileio.hpp"
#include "modelseal/files.hpp"

namespace modelseal {

namespace {

using X509Ptr = std::unique_ptr<X509, decltype(&X509_free)>;
using BioPtr = std::unique_ptr<BIO, decltype(&BIO_free)>;
using EkuPtr = std::unique_ptr<EXTENDED_KEY_USAGE, decltype(&EXTENDED_KEY_USAGE_free)>;
struct OsslFree {
  void operator()(unsigned char* p) const { OPENSSL_free(p); }
};
using OsslBytes = std::unique_ptr<unsigned char, OsslFree>;

constexpr size_t kMaxPem = 1024 * 1024;

std::vector<X509Ptr> read_certs(const std::filesystem::path& path) {
  std::string text = read_file_limited(path, kMaxPem, "certificate");
  BioPtr bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())), &BIO_free);
  if (!bio) throw std::bad_alloc();
  std::vector<X509Ptr> out;
  for (;;) {
    X509Ptr c(PEM_read_bio_X509(bio.get(), nullptr, [](char*, int, int, void*) { return 0; }, nullptr), &X509_free);
    if (!c) break;
    out.push_back(std::move(c));
  }
  ERR_clear_error();  // the loop ends on "no start line"
  if (out.empty()) throw usage_error("no PEM certificate in file: " + path.string());
  return out;
}

std::string der(X509* c) {
  unsigned char* p = nullptr;
  int n = i2d_X509(c, &p);
  if (n <= 0) throw std::bad_alloc();
  OsslBytes own(p);
  return std::string(reinterpret_cast<char*>(p), static_cast<size_t>(n));
}

std::string date(const ASN1_TIME* t) {
  struct tm tm {};
  if (ASN1_TIME_to_tm(t, &tm) != 1) return "(unreadable date)";
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string subject(X509* c) {
  char buf[256];
  X509_NAME_oneline(X509_get_subject_name(c), buf, sizeof buf);
  return printable(buf);
}

void check_dates(X509* c, std::time_t now, const std::string& file) {
  const ASN1_TIME* nb = X509_get0_notBefore(c);
  const ASN1_TIME* na = X509_get0_notAfter(c);
  std::string when = "valid " + date(nb) + " to " + date(na);
  std::time_t t = now;
  if (X509_cmp_time(nb, &t) > 0) throw usage_error("certificate is not yet valid (" + when + "): " + file);
  if (X509_cmp_time(na, &t) < 0) throw usage_error("certificate has expired (" + when + "): " + file);
}

bool has_code_signing(X509* c) {
  int crit = 0;
  EkuPtr eku(static_cast<EXTENDED_KEY_USAGE*>(X509_get_ext_d2i(c, NID_ext_key_usage, &crit, nullptr)),
             &EXTENDED_KEY_USAGE_free);
  if (!eku) return false;
  for (int i = 0; i < sk_ASN1_OBJECT_num(eku.get()); ++i)
    if (OBJ_obj2nid(sk_ASN1_OBJECT_value(eku.get(), i)) == NID_code_sign) return true;
  return false;
}

// The checks and the chain, for a leaf already read from `file` (a path or a token URI).
std::vector<std::string> check_chain(X509Ptr leaf, const std::string& file,
                                     const std::vector<std::filesystem::path>& intermediates, const PublicKey& key,
                                     std::time_t now) {
  X509* c = leaf.get();

  unsigned char* spki = nullptr;
  int n = i2d_PUBKEY(X509_get0_pubkey(c), &spki);
  OsslBytes own(spki);
  bool same = n > 0 && key.der() == std::string_view(reinterpret_cast<char*>(spki), static_cast<size_t>(n));
  if (!same)
    throw usage_error("the signing key does not match the certificate's public key: " + file,
                      "the certificate's key id is not " + key.keyid().substr(0, 16));

  // OpenSSL 3.0 has no code-signing purpose: the usages are checked by hand.
  if (!(X509_get_extension_flags(c) & EXFLAG_KUSAGE) || !(X509_get_key_usage(c) & KU_DIGITAL_SIGNATURE))
    throw usage_error("signing certificate lacks the digitalSignature key usage: " + file);
  if (!has_code_signing(c)) throw usage_error("signing certificate lacks the codeSigning extended key usage: " + file);
  check_dates(c, now, file);

  std::vector<std::pair<X509Ptr, std::string>> chain;
  chain.emplace_back(std::move(leaf), file);
  for (const auto& path : intermediates)
    for (auto& ic : read_certs(path)) chain.emplace_back(std::move(ic), path.string());

  std::vector<std::string> out;
  for (size_t i = 0; i < chain.size(); ++i) {
    X509* cur = chain[i].first.get();
    if (i > 0) check_dates(cur, now, chain[i].second);
    if (i + 1 < chain.size()) {
      X509* next = chain[i + 1].first.get();
      if (X509_check_issued(next, cur) != X509_V_OK || X509_verify(cur, X509_get0_pubkey(next)) != 1) {
        ERR_clear_error();
        throw usage_error("certificate chain is out of order: \"" + subject(cur) + "\" is not issued by \"" +
                              subject(next) + "\": " + chain[i + 1].second,
                          "list the intermediates from the signing certificate's issuer up to the root");
      }
    }
    out.push_back(der(cur));
  }
  return out;
}

}  // namespace

std::vector<std::string> load_signing_chain(const std::filesystem::path& cert,
                                            const std::vector<std::filesystem::path>& intermediates,
                                            const PublicKey& key, std::time_t now) {
  auto leaf = read_certs(cert);
  if (leaf.size() != 1)
    throw usage_error("signing certificate file holds more than one certificate: " + cert.string(),
                      "pass the leaf alone and the others with --certificate-chain");
  return check_chain(std::move(leaf[0]), cert.string(), intermediates, key, now);
}

std::vector<std::string> load_signing_chain_der(std::string_view cert_der, const std::string& cert_name,
                                                const std::vector<std::filesystem::path>& intermediates,
                                                const PublicKey& key, std::time_t now) {
  const auto* p = reinterpret_cast<const unsigned char*>(cert_der.data());
  X509Ptr leaf(d2i_X509(nullptr, &p, static_cast<long>(cert_der.size())), &X509_free);
  if (!leaf || p != reinterpret_cast<const unsigned char*>(cert_der.data() + cert_der.size())) {
    ERR_clear_error();
    throw usage_error("not a DER X.509 certificate: " + cert_name);
  }
  return check_chain(std::move(leaf), cert_name, intermediates, key, now);
}

}  // namespace modelseal
