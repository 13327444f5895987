// X.509 helpers over OpenSSL: parsing, chain verification at a given time, key usage, the names
// a certificate gives its subject, and Fulcio's OIDC issuer extension.
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <cstdio>

#include "internal.hpp"
#include "modelseal/encoding.hpp"
#include "modelseal/error.hpp"

namespace modelseal::sigstore {

namespace {

using BioPtr = std::unique_ptr<BIO, Deleter<BIO_free>>;
using ObjPtr = std::unique_ptr<ASN1_OBJECT, Deleter<ASN1_OBJECT_free>>;
using NamesPtr = std::unique_ptr<GENERAL_NAMES, Deleter<GENERAL_NAMES_free>>;
using Utf8Ptr = std::unique_ptr<ASN1_UTF8STRING, Deleter<ASN1_UTF8STRING_free>>;

constexpr const char* kOidSigstoreOtherName = "1.3.6.1.4.1.57264.1.7";
constexpr const char* kOidIssuerV2 = "1.3.6.1.4.1.57264.1.8";
constexpr const char* kOidIssuerV1 = "1.3.6.1.4.1.57264.1.1";

std::string asn1_string(const ASN1_STRING* s) {
  return s ? std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)), size_t(ASN1_STRING_length(s)))
           : std::string();
}

ObjPtr oid(const char* text) { return ObjPtr(OBJ_txt2obj(text, 1)); }

std::string name_rfc2253(const X509_NAME* name) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) < 0) return {};
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, size_t(len > 0 ? len : 0));
}

template <class F>
void each_san(X509* cert, F&& f) {
  NamesPtr names(static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  if (!names) return;
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) f(sk_GENERAL_NAME_value(names.get(), i));
}

}  // namespace

X509Ptr parse_der_certificate(std::string_view der, const std::string& what, Status status) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  X509Ptr cert(der.size() < (1u << 20) ? d2i_X509(nullptr, &p, long(der.size())) : nullptr);
  if (!cert || p != reinterpret_cast<const unsigned char*>(der.data() + der.size())) {
    ERR_clear_error();
    throw Error(status, what + ": not a DER X.509 certificate");
  }
  return cert;
}

std::string certificate_der(X509* cert) {
  unsigned char* buf = nullptr;
  int len = i2d_X509(cert, &buf);
  if (len <= 0) return {};
  std::string out(reinterpret_cast<char*>(buf), size_t(len));
  OPENSSL_free(buf);
  return out;
}

std::vector<X509Ptr> parse_pem_certificates(std::string_view pem, const std::string& what) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), int(pem.size())));
  std::vector<X509Ptr> out;
  while (bio) {
    X509Ptr c(PEM_read_bio_X509(bio.get(), nullptr, [](char*, int, int, void*) { return 0; }, nullptr));
    if (!c) break;
    out.push_back(std::move(c));
  }
  ERR_clear_error();
  if (out.empty()) throw usage_error(what + ": no PEM certificate found");
  return out;
}

std::optional<PublicKey> spki_key(std::string_view spki_der) {
  std::string b64 = base64_encode(spki_der), pem = "-----BEGIN PUBLIC KEY-----\n";
  for (size_t i = 0; i < b64.size(); i += 64) pem += b64.substr(i, 64) + "\n";
  pem += "-----END PUBLIC KEY-----\n";
  try {
    return PublicKey::from_pem(pem, "public key");
  } catch (const Error&) {
    return std::nullopt;
  }
}

PublicKey certificate_key(X509* cert, const std::string& what) {
  unsigned char* buf = nullptr;
  int len = i2d_PUBKEY(X509_get0_pubkey(cert), &buf);
  std::string der = len > 0 ? std::string(reinterpret_cast<char*>(buf), size_t(len)) : std::string();
  OPENSSL_free(buf);
  auto key = spki_key(der);
  if (!key) throw untrusted(what + ": the certificate's key is not Ed25519, P-256 or P-384");
  return std::move(*key);
}

std::string format_time(std::time_t t) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::optional<std::time_t> parse_rfc3339(std::string_view s) {
  auto digits = [&](size_t pos, size_t n, int& out) {
    if (pos + n > s.size()) return false;
    out = 0;
    for (size_t i = pos; i < pos + n; ++i) {
      if (s[i] < '0' || s[i] > '9') return false;
      out = out * 10 + (s[i] - '0');
    }
    return true;
  };
  int Y, M, D, h, m, sec;
  if (!digits(0, 4, Y) || s.size() < 20 || s[4] != '-' || !digits(5, 2, M) || s[7] != '-' || !digits(8, 2, D) ||
      (s[10] != 'T' && s[10] != 't') || !digits(11, 2, h) || s[13] != ':' || !digits(14, 2, m) || s[16] != ':' ||
      !digits(17, 2, sec))
    return std::nullopt;
  if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60) return std::nullopt;
  size_t pos = 19;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    size_t start = pos;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') ++pos;
    if (pos == start) return std::nullopt;
  }
  long offset = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int oh, om;
    if (!digits(pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' || !digits(pos + 4, 2, om)) return std::nullopt;
    offset = (s[pos] == '+' ? 1 : -1) * (oh * 3600L + om * 60L);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != s.size()) return std::nullopt;
  std::tm tm{};
  tm.tm_year = Y - 1900, tm.tm_mon = M - 1, tm.tm_mday = D, tm.tm_hour = h, tm.tm_min = m, tm.tm_sec = sec;
  return timegm(&tm) - offset;
}

std::time_t asn1_time_to_time(const ASN1_TIME* t) {
  std::tm tm{};
  if (!t || ASN1_TIME_to_tm(t, &tm) != 1) return 0;
  return timegm(&tm);
}

std::optional<std::vector<X509Ptr>> verify_chain_at(X509* leaf, const std::vector<X509*>& anchors,
                                                    const std::vector<X509*>& untrusted, std::time_t at,
                                                    std::string& reason) {
  X509StorePtr store(X509_STORE_new());
  X509Stack chain(sk_X509_new_null());
  X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (!store || !chain || !ctx) throw io_error("out of memory");
  for (X509* a : anchors) X509_STORE_add_cert(store.get(), a);
  for (X509* u : untrusted) {
    X509_up_ref(u);
    if (!sk_X509_push(chain.get(), u)) {
      X509_free(u);
      throw io_error("out of memory");
    }
  }
  if (X509_STORE_CTX_init(ctx.get(), store.get(), leaf, chain.get()) != 1) throw io_error("out of memory");
  X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx.get()), at);
  if (X509_verify_cert(ctx.get()) != 1) {
    reason = X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get()));
    ERR_clear_error();
    return std::nullopt;
  }
  X509Stack verified(X509_STORE_CTX_get1_chain(ctx.get()));
  std::vector<X509Ptr> out;
  while (verified && sk_X509_num(verified.get()) > 0) out.emplace_back(sk_X509_shift(verified.get()));
  return out;
}

KeyUsage key_usage(X509* cert) {
  KeyUsage ku;
  uint32_t flags = X509_get_extension_flags(cert);
  ku.has_ku = flags & EXFLAG_KUSAGE;
  ku.has_eku = flags & EXFLAG_XKUSAGE;
  ku.digital_signature = ku.has_ku && (X509_get_key_usage(cert) & KU_DIGITAL_SIGNATURE);
  ku.code_signing = ku.has_eku && (X509_get_extended_key_usage(cert) & XKU_CODE_SIGN);
  return ku;
}

std::vector<std::string> signer_sans(X509* cert) {
  std::vector<std::string> out;
  ObjPtr other = oid(kOidSigstoreOtherName);
  each_san(cert, [&](GENERAL_NAME* n) {
    if (n->type == GEN_EMAIL || n->type == GEN_URI) {
      out.push_back(asn1_string(n->d.ia5));
    } else if (n->type == GEN_OTHERNAME && other && OBJ_cmp(n->d.otherName->type_id, other.get()) == 0 &&
               n->d.otherName->value && n->d.otherName->value->type == V_ASN1_UTF8STRING) {
      out.push_back(asn1_string(n->d.otherName->value->value.utf8string));
    }
  });
  return out;
}

std::vector<std::string> dns_sans(X509* cert) {
  std::vector<std::string> out;
  each_san(cert, [&](GENERAL_NAME* n) {
    if (n->type == GEN_DNS) out.push_back(asn1_string(n->d.dNSName));
  });
  return out;
}

std::string subject_rfc2253(X509* cert) { return name_rfc2253(X509_get_subject_name(cert)); }
std::string issuer_rfc2253(X509* cert) { return name_rfc2253(X509_get_issuer_name(cert)); }

std::string subject_cn(X509* cert) {
  const X509_NAME* name = X509_get_subject_name(cert);
  int i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (i < 0) return {};
  unsigned char* utf8 = nullptr;
  int len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i)));
  if (len < 0) return {};
  std::string out(reinterpret_cast<char*>(utf8), size_t(len));
  OPENSSL_free(utf8);
  return out;
}

std::optional<std::string> fulcio_issuer(X509* cert) {
  if (ObjPtr v2 = oid(kOidIssuerV2); v2) {
    if (int i = X509_get_ext_by_OBJ(cert, v2.get(), -1); i >= 0) {
      const ASN1_OCTET_STRING* data = X509_EXTENSION_get_data(X509_get_ext(cert, i));
      const unsigned char* p = ASN1_STRING_get0_data(data);
      const unsigned char* end = p + ASN1_STRING_length(data);
      Utf8Ptr s(d2i_ASN1_UTF8STRING(nullptr, &p, long(end - p)));
      if (!s || p != end) {
        ERR_clear_error();
        throw untrusted("certificate: the OIDC issuer extension (1.3.6.1.4.1.57264.1.8) is not a UTF8String");
      }
      return asn1_string(s.get());
    }
  }
  if (ObjPtr v1 = oid(kOidIssuerV1); v1) {
    if (int i = X509_get_ext_by_OBJ(cert, v1.get(), -1); i >= 0)
      return asn1_string(X509_EXTENSION_get_data(X509_get_ext(cert, i)));
  }
  return std::nullopt;
}

}  // namespace modelseal::sigstore
