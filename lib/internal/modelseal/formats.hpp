// Every magic value of the formats modelseal reads and writes, in one place.
#pragma once

#include <array>
#include <cstddef>
#include <string_view>

namespace modelseal {

inline constexpr std::string_view kBundleMediaType = "application/vnd.dev.sigstore.bundle.v0.3+json";
inline constexpr std::string_view kBundleMediaTypePrefix = "application/vnd.dev.sigstore.bundle";
inline constexpr std::string_view kInTotoPayloadType = "application/vnd.in-toto+json";
inline constexpr std::string_view kStatementType = "https://in-toto.io/Statement/v1";
inline constexpr std::string_view kStatementTypeV01 = "https://in-toto.io/Statement/v0.1";
inline constexpr std::string_view kOmsPredicateType = "https://model_signing/signature/v1.0";
inline constexpr std::string_view kOmsLegacyPredicateType = "https://model_signing/Digests/v0.1";
inline constexpr std::string_view kDssePaePrefix = "DSSEv1";

inline constexpr std::string_view kDefaultSignatureName = "model.sig";
inline constexpr std::string_view kSignatureSuffix = ".sig";
// Ignored by default when signing (and recorded in ignore_paths), as the reference does.
inline constexpr std::array<std::string_view, 4> kDefaultIgnores = {".git", ".gitattributes", ".github",
                                                                    ".gitignore"};
// Also left out by `sign` (and recorded): what `hf download --local-dir` writes beside a model.
inline constexpr std::string_view kHfDownloadMetadata = ".cache/huggingface";

// Upper bounds on untrusted input.
inline constexpr size_t kMaxBundleBytes = 64u << 20;   // a bundle of ~300k resources
inline constexpr size_t kMaxResources = 1u << 20;
inline constexpr size_t kMaxSignatures = 64;
// JSON values and keys in an envelope or bundle before it is authenticated: a bundle is a handful
// of fields, certificates and log entries around one payload string.
inline constexpr size_t kMaxEnvelopeValues = 4096;

}  // namespace modelseal
