// Loading a PKCS#11 module, finding the token a URI names, logging in.
#include "module.hpp"

#include <dlfcn.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <vector>

#include "modelseal/encoding.hpp"
#include "modelseal/error.hpp"
#include "modelseal/fileio.hpp"

namespace modelseal::pkcs11 {

namespace {

// One Module per path in the process: C_Initialize once, C_Finalize when the last user goes.
std::mutex registry_mutex;
std::map<std::string, std::weak_ptr<Module>>& registry() {
  static std::map<std::string, std::weak_ptr<Module>> r;
  return r;
}

}  // namespace

std::shared_ptr<Module> Module::load(const std::string& path) {
  std::lock_guard lock(registry_mutex);
  if (auto m = registry()[path].lock()) return m;
  if (!path.starts_with("/")) throw usage_error("PKCS#11 module path is not absolute: " + path);
  auto m = std::make_shared<Module>(Token{});
  m->path_ = path;
  // RTLD_NODELETE: C_Finalize ends the module's work, but its code stays mapped, because
  // modules leave threads and atexit handlers behind that crash a process they were unmapped from.
  m->lib_ = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
  if (!m->lib_) {
    const char* why = ::dlerror();
    throw io_error("cannot load PKCS#11 module: " + path + (why ? ": " + printable(why) : std::string()),
                   "module-path must name the module's .so file (e.g. /usr/lib/softhsm/libsofthsm2.so)");
  }
  auto get = reinterpret_cast<CK_C_GetFunctionList>(::dlsym(m->lib_, "C_GetFunctionList"));
  if (!get) throw io_error("not a PKCS#11 module (no C_GetFunctionList): " + path);
  CK_FUNCTION_LIST_PTR f = nullptr;
  if (CK_RV rv = get(&f); rv != CKR_OK || !f) fail(rv, "PKCS#11 module gives no function list", path);
  CK_C_INITIALIZE_ARGS args{};
  args.flags = CKF_OS_LOCKING_OK;
  CK_RV rv = f->C_Initialize(&args);
  if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) fail(rv, "cannot initialise PKCS#11 module", path);
  m->f_ = f;
  m->finalize_ = rv == CKR_OK;  // someone else in the process initialised it: they finalise it
  registry()[path] = m;
  return m;
}

Module::~Module() {
  if (f_ && finalize_) f_->C_Finalize(nullptr);
  if (lib_) ::dlclose(lib_);
}

std::string rv_name(CK_RV rv) {
  switch (rv) {
#define NAME(x) \
  case x: return #x;
    NAME(CKR_OK) NAME(CKR_HOST_MEMORY) NAME(CKR_SLOT_ID_INVALID) NAME(CKR_GENERAL_ERROR) NAME(CKR_FUNCTION_FAILED)
    NAME(CKR_ARGUMENTS_BAD) NAME(CKR_ATTRIBUTE_TYPE_INVALID) NAME(CKR_ATTRIBUTE_VALUE_INVALID)
    NAME(CKR_DEVICE_ERROR) NAME(CKR_DEVICE_MEMORY) NAME(CKR_DEVICE_REMOVED) NAME(CKR_FUNCTION_NOT_SUPPORTED)
    NAME(CKR_KEY_HANDLE_INVALID) NAME(CKR_KEY_TYPE_INCONSISTENT) NAME(CKR_KEY_FUNCTION_NOT_PERMITTED)
    NAME(CKR_MECHANISM_INVALID) NAME(CKR_MECHANISM_PARAM_INVALID) NAME(CKR_OBJECT_HANDLE_INVALID)
    NAME(CKR_OPERATION_ACTIVE) NAME(CKR_PIN_INCORRECT) NAME(CKR_PIN_INVALID) NAME(CKR_PIN_LEN_RANGE)
    NAME(CKR_PIN_EXPIRED) NAME(CKR_PIN_LOCKED) NAME(CKR_SESSION_CLOSED) NAME(CKR_SESSION_HANDLE_INVALID)
    NAME(CKR_TEMPLATE_INCOMPLETE) NAME(CKR_TEMPLATE_INCONSISTENT) NAME(CKR_TOKEN_NOT_PRESENT)
    NAME(CKR_TOKEN_NOT_RECOGNIZED) NAME(CKR_TOKEN_WRITE_PROTECTED) NAME(CKR_USER_NOT_LOGGED_IN)
    NAME(CKR_USER_PIN_NOT_INITIALIZED) NAME(CKR_USER_TYPE_INVALID) NAME(CKR_DATA_LEN_RANGE)
    NAME(CKR_BUFFER_TOO_SMALL) NAME(CKR_CRYPTOKI_NOT_INITIALIZED) NAME(CKR_CRYPTOKI_ALREADY_INITIALIZED)
    NAME(CKR_CURVE_NOT_SUPPORTED) NAME(CKR_DOMAIN_PARAMS_INVALID) NAME(CKR_SESSION_READ_ONLY)
#undef NAME
    default: {
      char buf[32];
      std::snprintf(buf, sizeof buf, "CKR_0x%lx", static_cast<unsigned long>(rv));
      return buf;
    }
  }
}

void fail(CK_RV rv, const std::string& what, const std::string& where) {
  std::string msg = what + " (" + rv_name(rv) + "): " + where;
  switch (rv) {
    case CKR_PIN_INCORRECT:
    case CKR_PIN_INVALID:
    case CKR_PIN_LEN_RANGE:
      throw usage_error("wrong PIN for PKCS#11 token (" + rv_name(rv) + "): " + where,
                        "the PIN comes from the URI's pin-source file (its first line) or pin-value");
    case CKR_PIN_LOCKED:
    case CKR_PIN_EXPIRED:
      throw usage_error(msg, "the token's security officer must unlock or reset the user PIN");
    case CKR_KEY_FUNCTION_NOT_PERMITTED:
    case CKR_MECHANISM_INVALID:
    case CKR_KEY_TYPE_INCONSISTENT:
    case CKR_TOKEN_WRITE_PROTECTED:
    case CKR_USER_PIN_NOT_INITIALIZED:
      throw usage_error(msg);
    case CKR_DEVICE_REMOVED:
    case CKR_TOKEN_NOT_PRESENT:
    case CKR_SESSION_CLOSED:
    case CKR_SESSION_HANDLE_INVALID:
    case CKR_CRYPTOKI_NOT_INITIALIZED:
      throw io_error(what + ": the token was removed or its module unloaded (" + rv_name(rv) + "): " + where);
    default:
      throw io_error(msg);
  }
}

}  // namespace modelseal::pkcs11

namespace modelseal {

using namespace pkcs11;

namespace {

// A fixed-width, space-padded token info field.
std::string field(const unsigned char* p, size_t n) {
  std::string s(reinterpret_cast<const char*>(p), n);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\0')) s.pop_back();
  return s;
}

bool matches(const Pkcs11Uri& uri, const CK_TOKEN_INFO& t) {
  auto eq = [](const std::optional<std::string>& want, const unsigned char* p, size_t n) {
    return !want || *want == field(p, n);
  };
  return eq(uri.token, t.label, sizeof t.label) && eq(uri.manufacturer, t.manufacturerID, sizeof t.manufacturerID) &&
         eq(uri.serial, t.serialNumber, sizeof t.serialNumber) && eq(uri.model, t.model, sizeof t.model);
}

// The PIN file's first line; the file must be private to its owner, like a key file.
SecretBytes read_pin_file(const std::string& path) {
  UniqueFd file(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (!file) throw errno_error("cannot open PKCS#11 PIN file", path, errno);
  struct stat st;
  if (::fstat(file.get(), &st) != 0) throw errno_error("cannot stat PKCS#11 PIN file", path, errno);
  if (!S_ISREG(st.st_mode)) throw usage_error("PKCS#11 PIN file is not a regular file: " + path);
  if (st.st_mode & 077)
    throw usage_error("PKCS#11 PIN file is accessible by group or others: " + path, "chmod 600 " + path);
  constexpr size_t kMax = 4096;
  SecretBytes buf(kMax);
  size_t got = 0;
  while (got < kMax) {
    ssize_t n = ::read(file.get(), buf.data() + got, kMax - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw errno_error("cannot read PKCS#11 PIN file", path, errno);
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  size_t len = 0;
  while (len < got && buf.data()[len] != '\n') ++len;
  if (len > 0 && buf.data()[len - 1] == '\r') --len;
  if (len == 0) throw usage_error("PKCS#11 PIN file is empty: " + path);
  buf.resize_down(len);
  return buf;
}

}  // namespace

std::shared_ptr<Pkcs11Key::Session> Pkcs11Key::Session::open(const Pkcs11Uri& uri, bool read_write, bool public_only) {
  const std::string where = uri.display();
  auto s = std::make_shared<Session>();
  s->module = Module::load(uri.module());
  CK_FUNCTION_LIST_PTR f = s->f();

  CK_ULONG n = 0;
  if (CK_RV rv = f->C_GetSlotList(CK_TRUE, nullptr, &n); rv != CKR_OK) fail(rv, "cannot list PKCS#11 slots", where);
  std::vector<CK_SLOT_ID> slots(n);
  if (CK_RV rv = f->C_GetSlotList(CK_TRUE, slots.data(), &n); rv != CKR_OK)
    fail(rv, "cannot list PKCS#11 slots", where);
  slots.resize(n);
  std::vector<CK_SLOT_ID> found;
  std::string seen;
  CK_TOKEN_INFO info{}, chosen{};
  for (CK_SLOT_ID slot : slots) {
    if (f->C_GetTokenInfo(slot, &info) != CKR_OK || !(info.flags & CKF_TOKEN_INITIALIZED)) continue;
    seen += (seen.empty() ? "" : ", ") + std::string("\"") + printable(field(info.label, sizeof info.label)) +
            "\" (slot-id=" + std::to_string(slot) + ")";
    if ((uri.slot_id && *uri.slot_id != slot) || !matches(uri, info)) continue;
    found.push_back(slot);
    chosen = info;
  }
  if (found.empty())
    throw usage_error("no PKCS#11 token matches: " + where,
                      seen.empty() ? "the module sees no token" : "tokens present: " + seen);
  if (found.size() > 1)
    throw usage_error("more than one PKCS#11 token matches: " + where,
                      "add token= or slot-id= to the URI; tokens present: " + seen);

  CK_FLAGS flags = CKF_SERIAL_SESSION | (read_write ? CKF_RW_SESSION : 0);
  if (CK_RV rv = f->C_OpenSession(found[0], flags, nullptr, nullptr, &s->handle); rv != CKR_OK)
    fail(rv, "cannot open a session on PKCS#11 token", where);

  if (!(chosen.flags & CKF_LOGIN_REQUIRED)) return s;
  CK_RV rv;
  if (uri.pin_value || !uri.pin_source.empty()) {
    // A copy in locked memory, wiped when this scope ends, whatever happens.
    SecretBytes pin = uri.pin_value ? SecretBytes(uri.pin_value->data(), uri.pin_value->size())
                                    : read_pin_file(uri.pin_source);
    rv = f->C_Login(s->handle, CKU_USER, pin.data(), pin.size());
  } else if (public_only) {
    return s;
  } else if (chosen.flags & CKF_PROTECTED_AUTHENTICATION_PATH) {
    rv = f->C_Login(s->handle, CKU_USER, nullptr, 0);  // the PIN pad asks
  } else {
    throw usage_error("PKCS#11 token needs a PIN: " + where,
                      "add pin-source=/path/to/pin-file (mode 600, the PIN on its first line) to the URI");
  }
  if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) fail(rv, "cannot log in to PKCS#11 token", where);
  return s;
}

Pkcs11Key::Session::~Session() {
  if (handle != CK_INVALID_HANDLE) module->f()->C_CloseSession(handle);  // logs out with the last session
}

}  // namespace modelseal
