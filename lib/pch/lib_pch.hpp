// Precompiled for every source of the library in sanitizer builds (lib/meson.build): the heavy
// headers most sources include, parsed once per build instead of once per source (measured under
// ASan+UBSan at -O0: lib/policy.cpp 11.1 -> 8.9 s). It is included before each source's first
// line, so no source of the library may define a macro these headers read. The shim's sources
// (lib/preload) do, so the shim has no precompiled header.
#include <algorithm>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>
#include <openssl/evp.h>
#include <sodium.h>
