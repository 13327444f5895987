// A Rekor v1 entry, offline: its inclusion proof (RFC 6962 §2.1.1, RFC 9162 §2.1.3.2) up to the
// root of a checkpoint the log signed, and its signed entry timestamp (the log's signature over
// the RFC 8785 canonical JSON of body, integratedTime, logID and the global logIndex).
#include "internal.hpp"
#include "modelseal/encoding.hpp"
#include "modelseal/error.hpp"
#include "modelseal/hash.hpp"
#include "modelseal/json.hpp"

namespace modelseal::sigstore {

namespace {

std::string node_hash(char prefix, std::string_view a, std::string_view b = {}) {
  Sha256 h;
  h.update(&prefix, 1);
  h.update(a);
  h.update(b);
  Digest d = h.finish();
  return std::string(reinterpret_cast<const char*>(d.data()), d.size());
}

// RFC 8785 for this object: keys in code-point order, no whitespace, integers as written, the
// base64 body needs no escaping (nlohmann's compact, sorted dump is exactly that here).
std::string set_payload(const TlogEntry& e) {
  json j = {{"body", base64_encode(e.canonicalized_body)},
            {"integratedTime", e.integrated_time},
            {"logID", to_hex(e.log_id)},
            {"logIndex", e.log_index}};
  return j.dump();
}

}  // namespace

bool merkle_inclusion_ok(std::string_view leaf, int64_t index, int64_t size, const std::vector<std::string>& proof,
                         std::string_view root) {
  if (index < 0 || size <= 0 || index >= size) return false;
  uint64_t fn = uint64_t(index), sn = uint64_t(size - 1);
  std::string r = node_hash('\0', leaf);
  for (const std::string& p : proof) {
    if (sn == 0) return false;
    if ((fn & 1) || fn == sn) {
      r = node_hash('\1', p, r);
      if (!(fn & 1))
        while (fn != 0 && !(fn & 1)) fn >>= 1, sn >>= 1;
    } else {
      r = node_hash('\1', r, p);
    }
    fn >>= 1, sn >>= 1;
  }
  return sn == 0 && r == root;
}

bool verify_rekor_entry(const TlogEntry& entry, const TransparencyLog& log) {
  auto key = spki_key(log.spki_der);
  if (!key) throw untrusted("rekor entry: the log's key in the trusted root is not supported");
  if (!entry.inclusion_proof) throw untrusted("rekor entry: no inclusion proof");
  const InclusionProof& proof = *entry.inclusion_proof;
  if (!merkle_inclusion_ok(entry.canonicalized_body, proof.log_index, proof.tree_size, proof.hashes, proof.root_hash))
    throw untrusted("rekor entry: the inclusion proof does not lead to its root hash");

  Checkpoint cp = Checkpoint::parse(proof.checkpoint, "rekor entry");
  if (cp.tree_size != proof.tree_size || cp.root_hash != proof.root_hash)
    throw untrusted("rekor entry: the checkpoint's tree size or root hash differs from the inclusion proof's");
  bool signed_by_log = false;
  for (const auto& s : cp.signatures) {
    try {
      key->verify(cp.note_text, s.sig);
      signed_by_log = true;
      break;
    } catch (const Error&) {
    }
  }
  if (!signed_by_log) throw untrusted("rekor entry: the checkpoint is not signed by the log's key");

  if (!entry.signed_entry_timestamp) return false;
  try {
    key->verify(set_payload(entry), *entry.signed_entry_timestamp);
  } catch (const Error&) {
    throw untrusted("rekor entry: the signed entry timestamp does not verify (integratedTime " +
                    std::to_string(entry.integrated_time) + ", logIndex " + std::to_string(entry.log_index) + ")");
  }
  return true;
}

}  // namespace modelseal::sigstore
