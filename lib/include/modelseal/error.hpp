// Errors: every failure carries the exit status it maps to (DESIGN §7).
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

#pragma GCC visibility push(default)   // the installed API: exported from libmodelseal.so

namespace modelseal {

// Exit status of every tool; also the category of a library error.
enum class Status : int {
  ok = 0,
  not_trusted = 1,  // verification failed, unsafe content: the model is not trusted
  usage = 2,        // the caller asked for something malformed (bad flag, bad policy)
  io = 3,           // I/O or system error
};

// "ok", "not_trusted", "usage", "io": the status as JSON reports spell it.
std::string_view status_name(Status s);

class Error : public std::runtime_error {
 public:
  Error(Status status, const std::string& what, std::string hint = {}, int sys_errno = 0)
      : std::runtime_error(what), status_(status), hint_(std::move(hint)), sys_errno_(sys_errno) {}
  Status status() const noexcept { return status_; }
  const std::string& hint() const noexcept { return hint_; }
  // The errno of the system call that failed (errors made by errno_error()); 0 for the others.
  int sys_errno() const noexcept { return sys_errno_; }

 private:
  Status status_;
  std::string hint_;
  int sys_errno_;
};

inline Error untrusted(const std::string& what, std::string hint = {}) {
  return Error(Status::not_trusted, what, std::move(hint));
}
inline Error usage_error(const std::string& what, std::string hint = {}) {
  return Error(Status::usage, what, std::move(hint));
}
inline Error io_error(const std::string& what, std::string hint = {}) {
  return Error(Status::io, what, std::move(hint));
}
// An I/O error from errno: "<what>: <path>: <strerror>", carrying `err` as sys_errno().
Error errno_error(const std::string& what, const std::string& path, int err);

}  // namespace modelseal

#pragma GCC visibility pop
