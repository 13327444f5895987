// Private keys on a PKCS#11 token: finding them, their public key, signing, generating.
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <sodium.h>

#include <cstring>
#include <vector>

#include "module.hpp"
#include "modelseal/encoding.hpp"
#include "modelseal/error.hpp"

namespace modelseal {

using namespace pkcs11;

namespace {

using namespace std::string_view_literals;

// DER of the curve identifiers a token stores in CKA_EC_PARAMS.
constexpr std::string_view kOidP256 = "\x06\x08\x2a\x86\x48\xce\x3d\x03\x01\x07"sv;
constexpr std::string_view kOidP384 = "\x06\x05\x2b\x81\x04\x00\x22"sv;
constexpr std::string_view kOidEd25519 = "\x06\x03\x2b\x65\x70"sv;             // RFC 8410
constexpr std::string_view kNameEd25519 = "\x13\x0c" "edwards25519"sv;        // PrintableString
// SubjectPublicKeyInfo DER up to the public key bytes, for each key type.
constexpr std::string_view kSpkiP256 =
    "\x30\x59\x30\x13\x06\x07\x2a\x86\x48\xce\x3d\x02\x01\x06\x08\x2a\x86\x48\xce\x3d\x03\x01\x07\x03\x42\x00"sv;
constexpr std::string_view kSpkiP384 =
    "\x30\x76\x30\x10\x06\x07\x2a\x86\x48\xce\x3d\x02\x01\x06\x05\x2b\x81\x04\x00\x22\x03\x62\x00"sv;
constexpr std::string_view kSpkiEd25519 = "\x30\x2a\x30\x05\x06\x03\x2b\x65\x70\x03\x21\x00"sv;

struct OsslFree {
  void operator()(unsigned char* p) const { OPENSSL_free(p); }
};
using OsslBytes = std::unique_ptr<unsigned char, OsslFree>;

size_t point_size(KeyType t) {
  switch (t) {
    case KeyType::ed25519: return 32;
    case KeyType::ecdsa_p256: return 65;
    case KeyType::ecdsa_p384: return 97;
  }
  return 0;
}

std::string_view spki_prefix(KeyType t) {
  return t == KeyType::ed25519 ? kSpkiEd25519 : t == KeyType::ecdsa_p256 ? kSpkiP256 : kSpkiP384;
}

// One attribute's value; nullopt when the object does not have it.
std::optional<std::string> attribute(const Pkcs11Key::Session& s, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type,
                                     const std::string& where) {
  CK_ATTRIBUTE a{type, nullptr, 0};
  CK_RV rv = s.f()->C_GetAttributeValue(s.handle, obj, &a, 1);
  if (rv == CKR_ATTRIBUTE_TYPE_INVALID || rv == CKR_ATTRIBUTE_SENSITIVE || a.ulValueLen == CK_UNAVAILABLE_INFORMATION)
    return std::nullopt;
  if (rv != CKR_OK) fail(rv, "cannot read a PKCS#11 key attribute", where);
  std::string v(a.ulValueLen, '\0');
  a.pValue = v.data();
  if ((rv = s.f()->C_GetAttributeValue(s.handle, obj, &a, 1)) != CKR_OK)
    fail(rv, "cannot read a PKCS#11 key attribute", where);
  v.resize(a.ulValueLen);
  return v;
}

std::optional<CK_ULONG> ulong_attribute(const Pkcs11Key::Session& s, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type,
                                        const std::string& where) {
  auto v = attribute(s, obj, type, where);
  if (!v || v->size() != sizeof(CK_ULONG)) return std::nullopt;
  CK_ULONG x;
  std::memcpy(&x, v->data(), sizeof x);
  return x;
}

// Objects matching `templ`, at most `max` of them.
std::vector<CK_OBJECT_HANDLE> find(const Pkcs11Key::Session& s, std::vector<CK_ATTRIBUTE> templ, const std::string& where,
                                   CK_ULONG max = 2) {
  CK_FUNCTION_LIST_PTR f = s.f();
  if (CK_RV rv = f->C_FindObjectsInit(s.handle, templ.data(), templ.size()); rv != CKR_OK)
    fail(rv, "cannot search the PKCS#11 token", where);
  std::vector<CK_OBJECT_HANDLE> out(max);
  CK_ULONG n = 0;
  CK_RV rv = f->C_FindObjects(s.handle, out.data(), max, &n);
  f->C_FindObjectsFinal(s.handle);
  if (rv != CKR_OK) fail(rv, "cannot search the PKCS#11 token", where);
  out.resize(n);
  return out;
}

CK_ATTRIBUTE attr(CK_ATTRIBUTE_TYPE t, const void* p, size_t n) {
  return CK_ATTRIBUTE{t, const_cast<void*>(p), n};
}
CK_ATTRIBUTE attr(CK_ATTRIBUTE_TYPE t, const std::string& v) { return attr(t, v.data(), v.size()); }

// The key type from CKA_KEY_TYPE and CKA_EC_PARAMS (both encodings softhsm2 writes for Ed25519).
KeyType key_type(const Pkcs11Key::Session& s, CK_OBJECT_HANDLE obj, const std::string& where) {
  auto kt = ulong_attribute(s, obj, CKA_KEY_TYPE, where);
  auto params = attribute(s, obj, CKA_EC_PARAMS, where);
  if (kt && params) {
    if (*kt == CKK_EC && *params == kOidP256) return KeyType::ecdsa_p256;
    if (*kt == CKK_EC && *params == kOidP384) return KeyType::ecdsa_p384;
    if (*kt == CKK_EC_EDWARDS && (*params == kOidEd25519 || *params == kNameEd25519)) return KeyType::ed25519;
  }
  throw usage_error("unsupported key type on PKCS#11 token (expected ed25519, p256 or p384): " + where);
}

std::string spki_pem(std::string_view der) {
  std::string b64 = base64_encode(der), pem = "-----BEGIN PUBLIC KEY-----\n";
  for (size_t i = 0; i < b64.size(); i += 64) pem += b64.substr(i, 64) + "\n";
  return pem + "-----END PUBLIC KEY-----\n";
}

// A public key object as SPKI: CKA_PUBLIC_KEY_INFO, else CKA_EC_POINT (raw or in an OCTET STRING).
PublicKey public_key_object(const Pkcs11Key::Session& s, CK_OBJECT_HANDLE obj, KeyType type, const std::string& where) {
  std::string der;
  if (auto info = attribute(s, obj, CKA_PUBLIC_KEY_INFO, where); info && !info->empty()) {
    der = *info;
  } else {
    auto point = attribute(s, obj, CKA_EC_POINT, where);
    const size_t n = point_size(type);
    if (!point) throw usage_error("PKCS#11 public key has no CKA_EC_POINT: " + where);
    if (point->size() == n + 2 && (*point)[0] == '\x04' && static_cast<unsigned char>((*point)[1]) == n)
      point->erase(0, 2);
    if (point->size() != n) throw usage_error("PKCS#11 public key has a malformed CKA_EC_POINT: " + where);
    der = std::string(spki_prefix(type)) + *point;
  }
  PublicKey pub = PublicKey::from_pem(spki_pem(der), "PKCS#11 public key " + where);
  if (pub.type() != type) throw usage_error("PKCS#11 public key is not of its private key's type: " + where);
  return pub;
}

PublicKey certificate_object(const Pkcs11Key::Session& s, CK_OBJECT_HANDLE obj, KeyType type, const std::string& where) {
  auto value = attribute(s, obj, CKA_VALUE, where);
  const auto* p = reinterpret_cast<const unsigned char*>(value ? value->data() : "");
  std::unique_ptr<X509, decltype(&X509_free)> cert(d2i_X509(nullptr, &p, value ? static_cast<long>(value->size()) : 0),
                                                   &X509_free);
  if (!cert) throw usage_error("PKCS#11 certificate cannot be read: " + where);
  unsigned char* der = nullptr;
  int len = i2d_PUBKEY(X509_get0_pubkey(cert.get()), &der);
  if (len <= 0) throw usage_error("PKCS#11 certificate has no usable public key: " + where);
  OsslBytes own(der);
  PublicKey pub = PublicKey::from_pem(spki_pem({reinterpret_cast<char*>(der), static_cast<size_t>(len)}),
                                      "PKCS#11 certificate " + where);
  if (pub.type() != type) throw usage_error("PKCS#11 certificate is not for its private key's type: " + where);
  return pub;
}

// The public half of `priv`: a public key with its CKA_ID, else its label, else a certificate
// with its CKA_ID.
PublicKey find_public(const Pkcs11Key::Session& s, CK_OBJECT_HANDLE priv, KeyType type, const std::string& where) {
  CK_OBJECT_CLASS pub_class = CKO_PUBLIC_KEY, cert_class = CKO_CERTIFICATE;
  auto id = attribute(s, priv, CKA_ID, where);
  auto label = attribute(s, priv, CKA_LABEL, where);
  const std::pair<CK_ATTRIBUTE_TYPE, const std::optional<std::string>*> keys[] = {{CKA_ID, &id}, {CKA_LABEL, &label}};
  for (const auto& [what, value] : keys) {
    if (!*value || (*value)->empty()) continue;
    auto found = find(s, {attr(CKA_CLASS, &pub_class, sizeof pub_class), attr(what, **value)}, where);
    if (found.size() == 1) return public_key_object(s, found[0], type, where);
    if (found.size() > 1) throw usage_error("more than one PKCS#11 public key matches the private key: " + where);
  }
  if (id && !id->empty()) {
    auto found = find(s, {attr(CKA_CLASS, &cert_class, sizeof cert_class), attr(CKA_ID, *id)}, where);
    if (found.size() == 1) return certificate_object(s, found[0], type, where);
  }
  throw usage_error("no public key for the PKCS#11 private key: " + where,
                    "store the public key on the token with the private key's id "
                    "(pkcs11-tool --write-object KEY.pub --type pubkey --id ID)");
}

using SigPtr = std::unique_ptr<ECDSA_SIG, decltype(&ECDSA_SIG_free)>;
using BnPtr = std::unique_ptr<BIGNUM, decltype(&BN_free)>;

// r || s (each `half` bytes) as a DER ECDSA-Sig-Value.
std::string ecdsa_der(std::string_view rs) {
  const int half = static_cast<int>(rs.size() / 2);
  const auto* p = reinterpret_cast<const unsigned char*>(rs.data());
  SigPtr sig(ECDSA_SIG_new(), &ECDSA_SIG_free);
  BnPtr r(BN_bin2bn(p, half, nullptr), &BN_free), s(BN_bin2bn(p + half, half, nullptr), &BN_free);
  if (!sig || !r || !s || ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) throw std::bad_alloc();
  r.release();  // now owned by sig
  s.release();
  unsigned char* der = nullptr;
  int len = i2d_ECDSA_SIG(sig.get(), &der);
  if (len <= 0) throw std::bad_alloc();
  OsslBytes own(der);
  return std::string(reinterpret_cast<char*>(der), static_cast<size_t>(len));
}

std::string digest(std::string_view message, KeyType t) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (EVP_Digest(message.data(), message.size(), md, &n, t == KeyType::ecdsa_p384 ? EVP_sha384() : EVP_sha256(),
                 nullptr) != 1)
    throw std::bad_alloc();
  return std::string(reinterpret_cast<char*>(md), n);
}

// The one object of `klass` that the URI's object= (CKA_LABEL) and id= (CKA_ID) name.
CK_OBJECT_HANDLE find_named(const Pkcs11Key::Session& s, const Pkcs11Uri& uri, CK_OBJECT_CLASS klass,
                            const std::string& noun, const std::string& hint) {
  const std::string where = uri.display();
  std::vector<CK_ATTRIBUTE> templ{attr(CKA_CLASS, &klass, sizeof klass)};
  if (uri.object) templ.push_back(attr(CKA_LABEL, *uri.object));
  if (uri.id) templ.push_back(attr(CKA_ID, *uri.id));
  auto found = find(s, templ, where);
  if (found.empty()) throw usage_error("no " + noun + " matches on PKCS#11 token: " + where, hint);
  if (found.size() > 1)
    throw usage_error("more than one " + noun + " matches on PKCS#11 token: " + where, "add object= or id= to the URI");
  return found[0];
}

}  // namespace

Pkcs11Key Pkcs11Key::open(const Pkcs11Uri& uri) {
  const std::string where = uri.display();
  auto s = Session::open(uri, false);
  CK_OBJECT_HANDLE priv = find_named(*s, uri, CKO_PRIVATE_KEY, "private key",
                                     "list the token's keys with: pkcs11-tool --module MODULE --login --list-objects");
  KeyType type = key_type(*s, priv, where);
  PublicKey pub = find_public(*s, priv, type, where);
  return Pkcs11Key(std::move(s), priv, std::move(pub), where);
}

std::string pkcs11_certificate(const Pkcs11Uri& uri) {
  const std::string where = uri.display();
  if (!uri.object && !uri.id)
    throw usage_error("a PKCS#11 certificate URI needs object= or id=: " + where);
  auto s = Pkcs11Key::Session::open(uri, false, true);
  CK_OBJECT_HANDLE cert = find_named(*s, uri, CKO_CERTIFICATE, "certificate",
                                     "store it with: pkcs11-tool --write-object CERT.der --type cert --label LABEL --id ID");
  auto value = attribute(*s, cert, CKA_VALUE, where);
  if (!value || value->empty()) throw usage_error("PKCS#11 certificate has no value: " + where);
  return *value;
}

std::string Pkcs11Key::sign(std::string_view message) const {
  const KeyType t = type();
  std::string input = t == KeyType::ed25519 ? std::string(message) : digest(message, t);
  CK_MECHANISM mech{t == KeyType::ed25519 ? CKM_EDDSA : CKM_ECDSA, nullptr, 0};
  std::string sig(t == KeyType::ecdsa_p384 ? 96 : 64, '\0');
  CK_ULONG len = sig.size();
  {
    std::lock_guard lock(session_->mutex);
    CK_FUNCTION_LIST_PTR f = session_->f();
    if (CK_RV rv = f->C_SignInit(session_->handle, &mech, handle_); rv != CKR_OK)
      fail(rv, "cannot sign with PKCS#11 key", display_);
    if (CK_RV rv = f->C_Sign(session_->handle, reinterpret_cast<CK_BYTE_PTR>(input.data()), input.size(),
                             reinterpret_cast<CK_BYTE_PTR>(sig.data()), &len);
        rv != CKR_OK)
      fail(rv, "cannot sign with PKCS#11 key", display_);
  }
  if (len != sig.size()) throw io_error("PKCS#11 token returned a signature of the wrong size: " + display_);
  if (t != KeyType::ed25519) sig = ecdsa_der(sig);
  try {
    pub_.verify(message, sig);
  } catch (const Error&) {
    throw io_error("PKCS#11 token made a signature that its public key does not verify: " + display_,
                   "the public key object on the token does not belong to the private key");
  }
  return sig;
}

PublicKey Pkcs11Key::generate(const Pkcs11Uri& uri, KeyType type) {
  const std::string where = uri.display();
  if (!uri.object) throw usage_error("PKCS#11 URI for a new key names no object (label): " + where,
                                     "add object=NAME to the URI");
  auto s = Session::open(uri, true);
  std::string id = uri.id.value_or(std::string(16, '\0'));
  if (!uri.id) randombytes_buf(id.data(), id.size());
  for (CK_OBJECT_CLASS cls : {CKO_PRIVATE_KEY, CKO_PUBLIC_KEY}) {
    if (!find(*s, {attr(CKA_CLASS, &cls, sizeof cls), attr(CKA_LABEL, *uri.object)}, where).empty() ||
        !find(*s, {attr(CKA_CLASS, &cls, sizeof cls), attr(CKA_ID, id)}, where).empty())
      throw usage_error("a key with this label or id is already on the PKCS#11 token: " + where,
                        "choose another object= (and id=), or delete the old key with pkcs11-tool --delete-object");
  }
  const bool ed = type == KeyType::ed25519;
  CK_KEY_TYPE kt = ed ? CKK_EC_EDWARDS : CKK_EC;
  std::string_view params = ed ? kOidEd25519 : type == KeyType::ecdsa_p256 ? kOidP256 : kOidP384;
  CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
  CK_OBJECT_CLASS pub_class = CKO_PUBLIC_KEY, priv_class = CKO_PRIVATE_KEY;
  std::vector<CK_ATTRIBUTE> pub_t{
      attr(CKA_CLASS, &pub_class, sizeof pub_class), attr(CKA_KEY_TYPE, &kt, sizeof kt),
      attr(CKA_TOKEN, &yes, 1), attr(CKA_PRIVATE, &no, 1), attr(CKA_VERIFY, &yes, 1),
      attr(CKA_LABEL, *uri.object), attr(CKA_ID, id), attr(CKA_EC_PARAMS, params.data(), params.size())};
  std::vector<CK_ATTRIBUTE> priv_t{
      attr(CKA_CLASS, &priv_class, sizeof priv_class), attr(CKA_KEY_TYPE, &kt, sizeof kt),
      attr(CKA_TOKEN, &yes, 1), attr(CKA_PRIVATE, &yes, 1), attr(CKA_SENSITIVE, &yes, 1),
      attr(CKA_EXTRACTABLE, &no, 1), attr(CKA_SIGN, &yes, 1), attr(CKA_LABEL, *uri.object), attr(CKA_ID, id)};
  CK_MECHANISM mech{ed ? CKM_EC_EDWARDS_KEY_PAIR_GEN : CKM_EC_KEY_PAIR_GEN, nullptr, 0};
  CK_OBJECT_HANDLE pub_h = CK_INVALID_HANDLE, priv_h = CK_INVALID_HANDLE;
  if (CK_RV rv = s->f()->C_GenerateKeyPair(s->handle, &mech, pub_t.data(), pub_t.size(), priv_t.data(), priv_t.size(),
                                           &pub_h, &priv_h);
      rv != CKR_OK)
    fail(rv, "cannot generate a key pair on PKCS#11 token", where);
  return public_key_object(*s, pub_h, type, where);
}

}  // namespace modelseal
