// Signing a statement into a DSSE envelope and appending it to a bundle.
#include <algorithm>

#include "modelseal/attest.hpp"
#include "modelseal/error.hpp"
#include "modelseal/formats.hpp"

namespace modelseal {

Envelope sign_statement(const Statement& st, const std::vector<const SigningKey*>& keys) {
  if (st.subjects.empty()) throw usage_error("an attestation needs at least one subject");
  return sign_envelope(std::string(kInTotoPayloadType), st.serialize(), keys);
}

std::string envelope_line(const Envelope& env) { return env.to_json().dump(); }

void append_attestation(const std::filesystem::path& jsonl, const Statement& st,
                        const std::vector<const SigningKey*>& keys) {
  const std::string line = envelope_line(sign_statement(st, keys));
  // Read back what is about to be written, as a verifier will (minisign does the same).
  auto entries = parse_attestations(line + "\n", "new attestation");
  std::vector<TrustedSigner> self;
  for (const SigningKey* k : keys) self.push_back({k->public_key().keyid(), k->public_key(), {}});
  AuthenticatedPayload payload = authenticate(entries.at(0).envelope, self, kAttestation, "new attestation");
  if (payload.signers().size() != keys.size()) throw io_error("the new attestation does not verify; nothing was written");
  Statement back = Statement::parse(payload, "new attestation");
  if (back.to_json() != st.to_json()) throw io_error("the new attestation does not read back; nothing was written");
  append_line_atomic(jsonl, line);
}

}  // namespace modelseal
