// modelseal's C++ API in one include: verify and sign models, trust policies and keys, the
// verified-read API, the scanner, attestations and chains, fetch, the audit log and models
// encrypted at rest (age). Needs C++20.
#pragma once

#include "modelseal/age_model.hpp"
#include "modelseal/attest.hpp"
#include "modelseal/audit.hpp"
#include "modelseal/chain.hpp"
#include "modelseal/error.hpp"
#include "modelseal/fetch.hpp"
#include "modelseal/keys.hpp"
#include "modelseal/layout.hpp"
#include "modelseal/modelseal.h"
#include "modelseal/policy.hpp"
#include "modelseal/scan.hpp"
#include "modelseal/sign.hpp"
#include "modelseal/verified_read.hpp"
#include "modelseal/verify.hpp"

#pragma GCC visibility push(default)   // the installed API: exported from libmodelseal.so

#pragma GCC visibility pop
