// Unit tests of the scanner's internals: globals policy, pickle emulation, DEFLATE, CRC-32,
// safetensors and GGUF validation, bounds and limits.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <cstring>
#include <string>

#include "../../lib/scan/internal.hpp"
#include "modelseal/error.hpp"
#include "modelseal/scan.hpp"

using namespace modelseal::scan;
using namespace modelseal::scan::detail;

namespace {

FileReport scan_str(const std::string& s) {
  return scan_memory({reinterpret_cast<const uint8_t*>(s.data()), s.size()}, "test");
}

std::string unhex(const char* h) {
  std::string out;
  for (size_t i = 0; h[i] && h[i + 1]; i += 2) out += static_cast<char>(std::stoi(std::string(h + i, 2), nullptr, 16));
  return out;
}

bool mentions(const FileReport& r, const std::string& s) {
  for (const Finding& f : r.findings) {
    if (f.what.find(s) != std::string::npos) return true;
  }
  return r.error.find(s) != std::string::npos;
}

std::string sbu(const std::string& s) { return std::string("\x8c") + static_cast<char>(s.size()) + s; }
const std::string kCall = sbu("id") + "\x85R.";  // TUPLE1 REDUCE STOP

std::string le64(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[static_cast<size_t>(i)] = static_cast<char>(v >> (8 * i));
  return s;
}

}  // namespace

TEST_CASE("globals policy: allowlist, denylist, dotted names") {
  CHECK(global_severity("torch._utils", "_rebuild_tensor_v2") == nullptr);
  CHECK(global_severity("collections", "OrderedDict") == nullptr);
  CHECK(global_severity("torch", "float16") == nullptr);
  CHECK(global_severity("numpy.core.multiarray", "_reconstruct") == nullptr);
  CHECK(std::string(global_severity("os", "system")) == "critical");
  CHECK(std::string(global_severity("os.path", "join")) == "critical");
  CHECK(std::string(global_severity("builtins", "eval.__call__")) == "critical");
  CHECK(std::string(global_severity("__builtin__", "getattr")) == "critical");
  CHECK(std::string(global_severity("collections", "OrderedDict.__init__")) == "critical");
  CHECK(std::string(global_severity("torch", "load")) == "critical");
  CHECK(std::string(global_severity("mypkg", "thing")) == "high");
  CHECK(std::string(global_severity("builtins", "print")) == "high");
  CHECK(std::string(global_severity("torch", "")) == "high");
}

TEST_CASE("pickle: protocol 0 GLOBAL and REDUCE") {
  FileReport r = scan_str("cos\nsystem\n(S'id'\ntR.");
  CHECK(r.format == "pickle");
  CHECK(r.verdict == Verdict::unsafe);
  REQUIRE(r.findings.size() == 1);
  CHECK(r.findings[0].what == "global os.system");
  CHECK(r.findings[0].severity == "critical");
  CHECK(r.findings[0].offset == 0);
}

TEST_CASE("pickle: STACK_GLOBAL fed by memo, MEMOIZE keyed by the memo's size") {
  // PUT 1 'decoy'; MEMOIZE of 'os' lands on key len(memo) == 1 and replaces it.
  std::string p = "\x80\x04" + sbu("decoy") + "q\x01" "0" + sbu("os") + "\x94" "0" + "h\x01" + sbu("system") + "\x93" + kCall;
  FileReport r = scan_str(p);
  CHECK(r.verdict == Verdict::unsafe);
  CHECK(mentions(r, "global os.system"));
  CHECK_FALSE(mentions(r, "decoy"));
}

TEST_CASE("pickle: GET of a missing memo key is malformed, and nothing ran before it") {
  FileReport r = scan_str("\x80\x04h\x07.");
  CHECK(r.verdict == Verdict::unknown);
  CHECK(mentions(r, "memo key 7"));
  // After an import, the same failure is unsafe: the import already ran.
  CHECK(scan_str("\x80\x04" "cos\nsystem\nh\x07.").verdict == Verdict::unsafe);
}

TEST_CASE("pickle: text integers are read as CPython's int() reads them") {
  // PUT/GET keys: whitespace, sign, underscores, leading zeros (base 10), C stops at a NUL.
  for (const char* key : {" 1_0 ", "+10", "010", "10\r", "1_0"}) {
    std::string p = std::string("\x80\x02") + sbu("os") + "p" + key + "\n0" + sbu("system") + "p2\n0g" + key + "\ng2\n\x93" + kCall;
    CHECK(mentions(scan_str(p), "global os.system"));
  }
  std::string nul = std::string("\x80\x02") + sbu("os") + "p7" + std::string(1, '\0') + "x\n0" + sbu("system") + "\x93";
  CHECK(mentions(scan_str(nul), "STACK_GLOBAL requires str") == false);
  // Keys int() refuses are malformed: 0x10 is not base 10, 1__0 has a double underscore.
  CHECK(mentions(scan_str("\x80\x02Np0x10\n."), "bad memo index"));
  CHECK(mentions(scan_str("\x80\x02Np1__0\n."), "bad memo index"));
  CHECK(mentions(scan_str("\x80\x02Np-1\n."), "memo index"));
}

TEST_CASE("pickle: torch's legacy magic number in every spelling") {
  // LONG1, LONG1 with sign padding, LONG4, INT and LONG text in several bases, via the memo.
  std::string magic(reinterpret_cast<const char*>("\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"), 10);
  for (const std::string& m : {"\x8a\x0a" + magic, "\x8a\x0b" + magic + std::string(1, '\0'),
                               "\x8b" + std::string("\x0a\x00\x00\x00", 4) + magic,
                               std::string("I119547037146038801333356\n"), std::string("L119547037146038801333356L\n"),
                               std::string("I 0x1950a86a20f9469cfc6c\n"), std::string("L1_19547037146038801333356\n"),
                               "\x8a\x0a" + magic + std::string("q\x00\x30h\x00", 5)}) {
    std::string p = "\x80\x02" + m + ".\x80\x02M\xe9\x03.\x80\x02}.\x80\x02}.\x80\x02].";
    INFO("spelling: ", m);
    CHECK(scan_str(p + "\x01\x02\x03").format == "pytorch-legacy");
  }
}

TEST_CASE("pickle: content every unpickler rejects before importing anything is not unsafe") {
  // copyreg's extension registry is empty in a fresh interpreter: CPython raises first.
  FileReport ext = scan_str("\x82\x01)R.");
  CHECK(ext.verdict != Verdict::unsafe);
  CHECK(scan_str("\x80\x02\x82\x07)R.").verdict != Verdict::unsafe);
  // ...but after something ran, an extension code may have been registered.
  CHECK(scan_str("\x80\x02" "ccopyreg\nadd_extension\n)R0\x82\x07)R.").verdict == Verdict::unsafe);
}

TEST_CASE("pickle: names CPython cannot decode end the stream before any import") {
  // Random data (found by bench_random.py): GLOBAL with bytes that are not UTF-8, then STOP.
  CHECK(scan_str("c\x8dJ0\x1cN\nos.system\nN.junk").verdict != Verdict::unsafe);
  CHECK(scan_str("(i\xfb\xa3o\nx.y\n.").verdict != Verdict::unsafe);  // INST names are ASCII
  CHECK(scan_str("c\nsystem\n.").verdict != Verdict::unsafe);          // empty module name
  CHECK(scan_str("cos\nsystem\n.").verdict == Verdict::unsafe);
}

TEST_CASE("pickle: bytes after the last pickle are scanned by content") {
  std::string zip_after = "\x80\x02N.";
  FileReport r = scan_str("\x80\x02N.garbage\xff" + std::string("\x80\x02cos\nsystem\n"));
  CHECK(mentions(r, "after the last pickle"));
}

TEST_CASE("findings: the cap never drops a critical finding and makes the file unsafe") {
  std::string p = "\x80\x02";
  for (int i = 0; i < 1100; ++i) p += "cfoo\nbar\n0";
  p += "cos\nsystem\n0N.";
  FileReport r = scan_str(p);
  CHECK(r.verdict == Verdict::unsafe);
  CHECK(mentions(r, "global os.system"));
  CHECK(mentions(r, "findings limit reached"));
}

TEST_CASE("pickle: escaped STRING and raw-unicode-escape names") {
  CHECK(mentions(scan_str("\x80\x02S'o\\x73'\nS'sy\\163tem'\n\x93" + kCall), "global os.system"));
  CHECK(mentions(scan_str("Vpo\\u0073ix\nV\\U00000073ystem\n\x93" + kCall), "global posix.system"));
}

TEST_CASE("pickle: benign data passes; concatenated pickles are all read") {
  FileReport ok = scan_str(std::string("\x80\x02}q\x00(X\x01\x00\x00\x00" "aK\x01u.", 16));
  CHECK(ok.verdict == Verdict::safe);
  CHECK(ok.findings.empty());
  FileReport two = scan_str("\x80\x02N.cos\nsystem\n)R.");
  CHECK(two.verdict == Verdict::unsafe);
  CHECK(two.findings.at(0).offset == 4);
}

TEST_CASE("pickle: FRAME ending inside an opcode: parsing goes on as in the C unpickler") {
  std::string body = sbu("os") + sbu("system") + "\x93" + kCall;
  FileReport r = scan_str("\x80\x04\x95" + le64(3) + body);
  CHECK(mentions(r, "os.system"));
}

TEST_CASE("pickle: nested pickle in bytes is scanned") {
  std::string inner = "\x80\x04" + sbu("os") + sbu("system") + "\x93" + kCall;
  std::string p = "\x80\x04" "cpickle\nloads\n" "C" + std::string(1, static_cast<char>(inner.size())) + inner + "\x85R.";
  FileReport r = scan_str(p);
  bool nested = false;
  for (const Finding& f : r.findings) nested |= f.member.starts_with("pickle@") && f.what == "global os.system";
  CHECK(nested);
  CHECK(mentions(r, "global pickle.loads"));
}

TEST_CASE("pickle: text and data that are not pickles are not flagged") {
  CHECK(scan_str("hello world\n").verdict == Verdict::unknown);
  CHECK(scan_str("config\nvalue\n").verdict == Verdict::unknown);
  CHECK(scan_str("cat\ndog\nelephant\n").verdict == Verdict::unknown);
  CHECK(scan_str("in\nto\nof\n").verdict == Verdict::unknown);
  // ...but a failing stream that already reached a known-dangerous import is not.
  CHECK(scan_str("cos\nsystem\n\xff").verdict == Verdict::unsafe);
  CHECK(scan_str("cmypkg\nevil\n)R").verdict == Verdict::unsafe);
  CHECK(scan_str("\x83\xf4\x3d\xbf\x00\x00\x80\x3f").verdict != Verdict::unsafe);
  CHECK(scan_str(std::string("\x08\x07\x12\x07pytorch", 10)).verdict == Verdict::unknown);
  CHECK(scan_str("").format == "empty");
}

TEST_CASE("pickle: a PROTO start that breaks before any import is reported, not unsafe") {
  FileReport r = scan_str("\x80\x04N");
  CHECK(r.verdict == Verdict::unknown);
  CHECK(mentions(r, "without STOP"));
  CHECK(mentions(scan_str(std::string("\x80\x04\x95\x05\x00\x00\x00\x00\x00\x00\x00N", 12)), "FRAME longer"));
}

TEST_CASE("pickle: the emulator's own limits fail closed") {
  std::string marks(static_cast<size_t>((1u << 20) + 1), '(');
  FileReport r = scan_str(marks + "cos\nsystem\n.");
  CHECK(r.verdict == Verdict::unsafe);
  CHECK(mentions(r, "MARK"));
}

TEST_CASE("pickle: lengths are checked against the real size before reading") {
  FileReport r = scan_str("\x80\x04\x8e" + le64(uint64_t{1} << 62) + ".");
  CHECK(r.verdict == Verdict::unknown);
  CHECK(mentions(r, "past the end"));
}

TEST_CASE("inflate: stored, fixed and dynamic blocks; corrupt data") {
  std::string stored = unhex("010300fcff616263");
  MemorySource s1{stored};
  bool trunc = false;
  CHECK(inflate(s1, 0, s1.size(), 1000, &trunc) == "abc");
  CHECK_FALSE(trunc);
  std::string fixed = unhex("cb48cdc9c957c8402701");
  MemorySource s2{fixed};
  CHECK(inflate(s2, 0, s2.size(), 1000, &trunc) == "hello hello hello hello");
  CHECK(inflate(s2, 0, s2.size(), 5, &trunc) == "hello");
  CHECK(trunc);
  std::string bad = unhex("ff");
  MemorySource s3{bad};
  CHECK_THROWS_AS(inflate(s3, 0, s3.size(), 1000, &trunc), modelseal::Error);
  MemorySource s4{fixed.substr(0, 4)};
  CHECK_THROWS_AS(inflate(s4, 0, s4.size(), 1000, &trunc), modelseal::Error);
}

TEST_CASE("crc32 check value") { CHECK(crc32(0, "123456789", 9) == 0xCBF43926u); }

TEST_CASE("safetensors: valid file and each kind of damage") {
  auto file = [](const std::string& header, const std::string& data) { return le64(header.size()) + header + data; };
  std::string hdr = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"U8","shape":[1],"data_offsets":[8,9]}})";
  FileReport ok = scan_str(file(hdr, std::string(9, '\0')));
  CHECK(ok.format == "safetensors");
  CHECK(ok.verdict == Verdict::safe);
  CHECK(mentions(scan_str(file(hdr, std::string(10, '\0'))), "trailing"));
  CHECK(mentions(scan_str(file(hdr, std::string(8, '\0'))), "ends at"));
  CHECK(mentions(scan_str(file(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", std::string(8, '\0'))), "need"));
  CHECK(mentions(scan_str(file(R"({"a":{"dtype":"X","shape":[1],"data_offsets":[0,1]}})", "x")), "dtype"));
  std::string past = le64(1000) + "{}";
  CHECK(mentions(scan_str(past), "past the end"));
}

TEST_CASE("gguf: header bounds") {
  std::string h = "GGUF" + std::string("\x03\x00\x00\x00", 4) + le64(0) + le64(0);
  FileReport ok = scan_str(h);
  CHECK(ok.format == "gguf");
  CHECK(ok.verdict == Verdict::safe);
  CHECK(mentions(scan_str("GGUF" + std::string("\x03\x00\x00\x00", 4) + le64(1000) + le64(0)), "tensor count"));
  CHECK(mentions(scan_str("GGUF" + std::string("\x09\x00\x00\x00", 4) + le64(0) + le64(0)), "version"));
  std::string kv = "GGUF" + std::string("\x03\x00\x00\x00", 4) + le64(0) + le64(1) + le64(1) + "k" +
                   std::string("\x08\x00\x00\x00", 4) + le64(uint64_t{1} << 50);
  CHECK(mentions(scan_str(kv), "string length"));
}

TEST_CASE("reader: lines, integers, bounds") {
  std::string data = "ab\ncd";
  MemorySource src{data};
  Reader in(src);
  uint64_t len = 0;
  CHECK(in.line(1, &len) == "a");
  CHECK(len == 2);
  CHECK(in.le(1) == 'c');
  CHECK_THROWS_AS(in.line(10), modelseal::Error);
  Reader in2(src);
  CHECK_THROWS_AS(in2.skip(6), modelseal::Error);
  CHECK_THROWS_AS(SubSource(src, 3, 5), modelseal::Error);
}

TEST_CASE("to_json and blocks_trust") {
  FileReport bad = scan_str("cos\nsystem\n)R.");
  FileReport ok = scan_str("N.");
  nlohmann::json j = to_json({ok, bad});
  CHECK(j["summary"]["unsafe"] == 1);
  CHECK(j["summary"]["passed"] == false);
  CHECK(j["files"][1]["findings"][0]["what"] == "global os.system");
  CHECK(blocks_trust(bad));
  CHECK_FALSE(blocks_trust(ok));
}
