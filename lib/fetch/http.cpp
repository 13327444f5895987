// URLs and libcurl set-up for fetch: HTTPS only, TLS 1.2+, verified peers, bounded waits.
#include <cctype>
#include <mutex>

#include "internal.hpp"
#include "modelseal/version.hpp"

namespace modelseal::fetch_detail {

namespace {

struct CurlFree { void operator()(char* p) const noexcept { curl_free(p); } };
struct UrlDeleter { void operator()(CURLU* u) const noexcept { curl_url_cleanup(u); } };

bool starts_with_nocase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
  return true;
}

long http_code(CURL* h) {
  long code = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
  return code;
}

}  // namespace

void init_curl() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) throw io_error("cannot initialise libcurl");
  });
}

std::string base_url(const std::string& url, const TlsOptions& tls) {
  if (!starts_with_nocase(url, "https://")) {
    if (!starts_with_nocase(url, "http://"))
      throw usage_error("not an https URL: " + url, "give the model's folder as https://HOST/PATH");
    if (!tls.insecure_http)
      throw usage_error("refusing plain http (no TLS): " + url,
                        "use https://, or --insecure-http for a server on a network you trust");
  }
  std::unique_ptr<CURLU, UrlDeleter> u(curl_url());
  if (!u || curl_url_set(u.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK)
    throw usage_error("malformed URL: " + url);
  for (auto part : {CURLUPART_QUERY, CURLUPART_FRAGMENT}) {
    char* raw = nullptr;
    if (curl_url_get(u.get(), part, &raw, 0) == CURLUE_OK) {
      curl_free(raw);
      throw usage_error("URL has a query or fragment: " + url, "give the folder that holds model.sig");
    }
  }
  std::string base = url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base;
}

std::string resource_url(const std::string& base, std::string_view name) {
  std::string out = base;
  size_t start = 0;
  while (start <= name.size()) {
    size_t slash = name.find('/', start);
    if (slash == std::string_view::npos) slash = name.size();
    std::string_view seg = name.substr(start, slash - start);
    std::unique_ptr<char, CurlFree> esc(curl_easy_escape(nullptr, seg.data(), static_cast<int>(seg.size())));
    if (!esc) throw io_error("out of memory");
    out += '/';
    out += esc.get();
    start = slash + 1;
  }
  return out;
}

Easy make_easy(const std::string& url, const FetchOptions& opts, char* errbuf) {
  Easy e(curl_easy_init());
  if (!e) throw io_error("cannot create a libcurl handle");
  CURL* h = e.get();
  const char* protocols = opts.tls.insecure_http ? "http,https" : "https";
  bool ok = true;
  auto set = [&](CURLoption o, auto v) { ok = ok && curl_easy_setopt(h, o, v) == CURLE_OK; };
  set(CURLOPT_URL, url.c_str());
  set(CURLOPT_ERRORBUFFER, errbuf);
  set(CURLOPT_PROTOCOLS_STR, protocols);
  set(CURLOPT_REDIR_PROTOCOLS_STR, protocols);
  set(CURLOPT_FOLLOWLOCATION, 1L);
  set(CURLOPT_MAXREDIRS, 5L);
  set(CURLOPT_SSLVERSION, static_cast<long>(CURL_SSLVERSION_TLSv1_2));
  set(CURLOPT_SSL_VERIFYPEER, 1L);
  set(CURLOPT_SSL_VERIFYHOST, 2L);
  if (!opts.tls.ca_file.empty()) {
    set(CURLOPT_CAINFO, opts.tls.ca_file.c_str());
    set(CURLOPT_CAPATH, static_cast<const char*>(nullptr));   // only the given CAs
  }
  if (!opts.tls.pinned_pubkey.empty()) set(CURLOPT_PINNEDPUBLICKEY, opts.tls.pinned_pubkey.c_str());
  if (!opts.tls.client_cert.empty()) set(CURLOPT_SSLCERT, opts.tls.client_cert.c_str());
  if (!opts.tls.client_key.empty()) set(CURLOPT_SSLKEY, opts.tls.client_key.c_str());
  set(CURLOPT_FAILONERROR, 1L);
  set(CURLOPT_NOSIGNAL, 1L);
  set(CURLOPT_CONNECTTIMEOUT, opts.connect_timeout);
  set(CURLOPT_LOW_SPEED_LIMIT, 1024L);   // a trickle cannot hold a transfer open for ever
  set(CURLOPT_LOW_SPEED_TIME, opts.stall_timeout);
  set(CURLOPT_BUFFERSIZE, 512L * 1024);
  set(CURLOPT_USERAGENT, "modelseal/" MODELSEAL_VERSION);
  if (!ok) throw io_error("cannot set up libcurl for " + url, "libcurl 7.85 or newer with TLS is needed");
  return e;
}

bool transient(CURLcode rc, CURL* h) {
  switch (rc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return true;
    case CURLE_HTTP_RETURNED_ERROR: {
      long code = http_code(h);
      return code >= 500 || code == 429 || code == 408;
    }
    default:
      return false;
  }
}

Error transfer_error(CURLcode rc, CURL* h, const char* errbuf, std::string_view name, const std::string& url) {
  std::string why = errbuf && *errbuf ? errbuf : curl_easy_strerror(rc);
  std::string hint;
  switch (rc) {
    case CURLE_HTTP_RETURNED_ERROR: {
      long code = http_code(h);
      why = "HTTP " + std::to_string(code);
      if (code == 404)
        hint = name == "model.sig" ? "give the URL of the folder that holds model.sig"
                                   : "is every file of the signed model on the server?";
      if (code == 400 || code == 401 || code == 403 || code == 495 || code == 496)
        hint = "does the server want a client certificate (--cert, --key)?";
      break;
    }
    case CURLE_PEER_FAILED_VERIFICATION:
      why = "server certificate not trusted: " + why;
      hint = "use --cacert FILE if the server's certificate comes from a private CA";
      break;
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
      why = "server public key does not match --pinned-pubkey";
      break;
    case CURLE_SSL_CERTPROBLEM:
      hint = "check --cert and --key (PEM, key not encrypted)";
      break;
    case CURLE_UNSUPPORTED_PROTOCOL:
      hint = "redirects may lead only to https://";
      break;
    case CURLE_OPERATION_TIMEDOUT:
      hint = "the server stalled; raise --timeout if it is just slow";
      break;
    default:
      break;
  }
  while (!why.empty() && (why.back() == '\n' || why.back() == '.')) why.pop_back();
  return io_error("cannot download " + std::string(name) + " (" + why + "): " + url, hint);
}

}  // namespace modelseal::fetch_detail
