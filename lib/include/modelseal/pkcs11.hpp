// Private keys on PKCS#11 tokens (HSMs, smart cards, softhsm2), named by RFC 7512 URIs.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "modelseal/keys.hpp"
#include "modelseal/secret.hpp"

#pragma GCC visibility push(default)   // the installed API: exported from libmodelseal.so

namespace modelseal {

// A parsed `pkcs11:` URI. Parsing touches no file; the module and the PIN file are found when a
// key is opened. Every malformed URI is Error(usage) with one line; the PIN is never in it.
struct Pkcs11Uri {
  // Path attributes (percent-decoded); unset ones match anything.
  std::optional<std::string> token, manufacturer, serial, model;  // the token
  std::optional<std::string> object;                              // CKA_LABEL
  std::optional<std::string> id;                                  // CKA_ID, raw bytes
  std::optional<unsigned long> slot_id;
  // Query attributes. At most one of pin_value / pin_source, and of module_path / module_name.
  std::optional<SecretBytes> pin_value;
  std::string pin_source;   // absolute path of a file (mode 600) whose first line is the PIN
  std::string module_path;  // absolute path of the module
  std::string module_name;  // e.g. "softhsm2", searched by find_pkcs11_module

  static Pkcs11Uri parse(std::string_view uri);
  static bool is_uri(std::string_view text) { return text.starts_with("pkcs11:"); }

  // The URI without its PIN, for messages: "pkcs11:token=t;object=k?module-name=softhsm2".
  std::string display() const;
  // The module to load: module_path, or module_name resolved. Error(usage) when neither is set
  // or the name is not found.
  std::string module() const;
};

// The folders searched for module-name=NAME, in order: p11-kit's module configs
// (/etc/pkcs11/modules/NAME.module, /usr/share/p11-kit/modules/NAME.module, their "module:"
// line), then NAME.so / libNAME.so in /usr/lib/<multiarch>/pkcs11/, /usr/lib/<multiarch>/softhsm/,
// /usr/lib/<multiarch>/. nullopt if none exists.
std::optional<std::string> find_pkcs11_module(std::string_view name);

// The DER of the one certificate object (CKO_CERTIFICATE) that `uri` names by object= (CKA_LABEL)
// and/or id= (CKA_ID), for `sign --signing-certificate pkcs11:...`. A certificate is a public
// object: the URI needs no PIN (one given is used to log in). Error(usage) when none or more than
// one matches, or the URI names neither object nor id; io when the module or token fails.
std::string pkcs11_certificate(const Pkcs11Uri& uri);

// A private key on a token, reached through the module's C API (dlopen). The session stays open
// (logged in) while the key or a copy of it lives; sign() may be called from several threads.
class Pkcs11Key : public SigningKey {
 public:
  // Loads the module, finds the one token and the one private key the URI names, logs in and
  // reads the matching public key (public key object with the same CKA_ID, else same label,
  // else a certificate with the same CKA_ID). Errors: usage (malformed or ambiguous URI, wrong
  // PIN, no such token or key), io (module cannot be loaded, token fails). PKCS#11 logs in per
  // token and process: while another key of the same token is open, no PIN is checked again.
  static Pkcs11Key open(const Pkcs11Uri& uri);

  // Generates a key pair on the token, labelled uri.object (required) with CKA_ID uri.id (else
  // 16 random bytes); refuses when a key with that label or id exists. Returns its public key.
  static PublicKey generate(const Pkcs11Uri& uri, KeyType type);

  KeyType type() const { return pub_.type(); }
  const PublicKey& public_key() const override { return pub_; }
  const std::string& display() const { return display_; }
  // Exactly what PrivateKey::sign returns: Ed25519 64 raw bytes (CKM_EDDSA over the message);
  // ECDSA a DER signature over SHA-256 (P-256) / SHA-384 (P-384) of the message (hashed here,
  // CKM_ECDSA on the token). The signature is verified with public_key() before it is returned.
  std::string sign(std::string_view message) const override;

  struct Session;  // module + logged-in session, shared by copies

 private:
  Pkcs11Key(std::shared_ptr<Session> s, unsigned long handle, PublicKey pub, std::string display)
      : session_(std::move(s)), handle_(handle), pub_(std::move(pub)), display_(std::move(display)) {}
  std::shared_ptr<Session> session_;
  unsigned long handle_;
  PublicKey pub_;
  std::string display_;
};

}  // namespace modelseal

#pragma GCC visibility pop
