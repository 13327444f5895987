#include "modelseal/error.hpp"

#include <cstring>

namespace modelseal {

std::string_view status_name(Status s) {
  switch (s) {
    case Status::ok: return "ok";
    case Status::not_trusted: return "not_trusted";
    case Status::usage: return "usage";
    case Status::io: return "io";
  }
  return "io";
}

Error errno_error(const std::string& what, const std::string& path, int err) {
  std::string msg = what;
  msg.append(": ").append(path).append(": ").append(std::strerror(err));
  std::string hint;
  if (err == EACCES || err == EPERM) hint = "check the permissions of " + path;
  if (err == ENOSPC || err == EDQUOT) hint = "free some space on the file system";
  return Error(Status::io, msg, hint, err);
}

}  // namespace modelseal
