// Public and private keys: Ed25519 (libsodium) by default, ECDSA P-256/P-384 (OpenSSL).
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "modelseal/error.hpp"
#include "modelseal/secret.hpp"

#pragma GCC visibility push(default)   // the installed API: exported from libmodelseal.so

struct evp_pkey_st;  // OpenSSL's EVP_PKEY

namespace modelseal {

enum class KeyType { ed25519, ecdsa_p256, ecdsa_p384 };

std::string_view key_type_name(KeyType t);                // "ed25519", "p256", "p384"
std::optional<KeyType> key_type_from_name(std::string_view name);

class PublicKey {
 public:
  // SPKI PEM; text before the PEM block (as certtool writes) is skipped. Error(usage) if not a
  // supported key.
  // `status` is whose input a bad key is: usage for the operator's files, not_trusted for a key
  // that arrived inside a signed document.
  static PublicKey from_pem(std::string_view pem, const std::string& what, Status status = Status::usage);
  static PublicKey load(const std::filesystem::path& path);

  KeyType type() const { return type_; }
  const std::string& pem() const { return pem_; }
  // Hex SHA-256 of the PEM text, as model_signing writes in the bundle's key hint.
  std::string hint() const;
  // A short stable identifier: hex SHA-256 of the DER SubjectPublicKeyInfo.
  const std::string& keyid() const { return keyid_; }

  // Throws Error(not_trusted) unless `sig` is a valid signature of `message` by this key. The
  // algorithm is this key's, never anything from the signature.
  void verify(std::string_view message, std::string_view sig) const;

  const std::string& der() const { return der_; }

 private:
  PublicKey() = default;
  friend class PrivateKey;
  static PublicKey from_evp(evp_pkey_st* pkey, const std::string& what, Status status = Status::usage);
  KeyType type_ = KeyType::ed25519;
  std::string raw_;      // Ed25519: 32 bytes
  std::string der_;      // SPKI DER
  std::string pem_;
  std::string keyid_;
  std::shared_ptr<evp_pkey_st> evp_;   // ECDSA keys
};

// The passphrase protecting a private key file.
struct Passphrase {
  SecretBytes bytes;
};

// What signs: a private key from a file (PrivateKey) or on a PKCS#11 token (Pkcs11Key). Every
// signing program takes its keys through this interface.
class SigningKey {
 public:
  virtual ~SigningKey() = default;
  virtual const PublicKey& public_key() const = 0;
  // A signature of `message` by this key: Ed25519 64 raw bytes; ECDSA DER over SHA-256 (P-256)
  // or SHA-384 (P-384) of the message.
  virtual std::string sign(std::string_view message) const = 0;
};

class PrivateKey : public SigningKey {
 public:
  static PrivateKey generate(KeyType type);
  // Loads a PKCS#8 PEM (encrypted or not); refuses files readable by group or others.
  // `passphrase` is asked only when the key is encrypted.
  using PassphraseSource = std::function<Passphrase()>;
  static PrivateKey load(const std::filesystem::path& path, const PassphraseSource& passphrase);
  static PrivateKey from_pem(std::string_view pem, const PassphraseSource& passphrase, const std::string& what);

  KeyType type() const { return pub_.type(); }
  const PublicKey& public_key() const override { return pub_; }
  std::string sign(std::string_view message) const override;
  // PKCS#8 PEM: ENCRYPTED PRIVATE KEY (scrypt + AES-256-CBC). Error(usage) for an empty passphrase.
  SecretBytes to_pem(const Passphrase& pass) const;
  // PKCS#8 PEM: PRIVATE KEY, unencrypted: anyone who can read the file can sign.
  SecretBytes to_pem_insecure_unencrypted() const;


 private:
  PrivateKey() = default;
  static PrivateKey from_evp(evp_pkey_st* pkey, const std::string& what);
  PublicKey pub_;
  SecretBytes ed_sk_;                   // Ed25519: seed || public key (libsodium layout)
  std::shared_ptr<evp_pkey_st> evp_;    // ECDSA key
};

// Reads the passphrase for a key: MODELSEAL_PASSPHRASE, else `file` (first line), else a prompt
// on the terminal without echo (twice when `confirm`). Error(usage) when none can be had.
Passphrase read_passphrase(const std::string& file, bool confirm, const std::string& prompt);

}  // namespace modelseal

#pragma GCC visibility pop
