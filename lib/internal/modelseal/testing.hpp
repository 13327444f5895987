// Hooks for the test suite only.
#pragma once

#include <cstdint>

namespace modelseal {

// How many SecretBytes buffers have been wiped and freed in this process.
uint64_t secret_wipes_for_testing();

}  // namespace modelseal
