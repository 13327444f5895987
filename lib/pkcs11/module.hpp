// A PKCS#11 module loaded with dlopen and initialised once per process, and a logged-in session
// on one of its tokens. Internal to lib/pkcs11.
#pragma once

#include <p11-kit/pkcs11.h>

#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "modelseal/pkcs11.hpp"

namespace modelseal::pkcs11 {

// Shared by every session on the module; finalised and unloaded when the last one goes.
class Module {
 public:
  static std::shared_ptr<Module> load(const std::string& path);
  struct Token {  // only load() makes one: the constructor is for make_shared
   private:
    Token() = default;
    friend class Module;
  };
  explicit Module(Token) {}
  ~Module();
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;
  CK_FUNCTION_LIST_PTR f() const { return f_; }
  const std::string& path() const { return path_; }

 private:
  void* lib_ = nullptr;
  CK_FUNCTION_LIST_PTR f_ = nullptr;
  bool finalize_ = false;
  std::string path_;
};

// "CKR_PIN_INCORRECT" or "CKR_0x1234".
std::string rv_name(CK_RV rv);
// Throws the Error for a failed call: `what` names what failed, `where` is the URI shown.
[[noreturn]] void fail(CK_RV rv, const std::string& what, const std::string& where);

}  // namespace modelseal::pkcs11

namespace modelseal {

struct Pkcs11Key::Session {
  std::shared_ptr<pkcs11::Module> module;
  CK_SESSION_HANDLE handle = CK_INVALID_HANDLE;
  std::mutex mutex;  // a PKCS#11 session runs one operation at a time
  ~Session();
  // Opens a session on the one token `uri` names and logs in (the PIN is wiped after). With
  // `public_only`, a URI without a PIN opens a session that is not logged in (public objects).
  static std::shared_ptr<Session> open(const Pkcs11Uri& uri, bool read_write, bool public_only = false);
  CK_FUNCTION_LIST_PTR f() const { return module->f(); }
};

}  // namespace modelseal
