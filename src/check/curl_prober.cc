#include "check/curl_prober.h"

#include <curl/curl.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "nlohmann/json.hpp"

namespace hb::check {
namespace {

// libcurl's global set-up, once per process (thread-unsafe in old versions, so guarded).
void GlobalInit() {
  static const bool done = [] {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    return true;
  }();
  (void)done;
}

struct Transfer {
  CheckSpec spec;
  ProbeDone done;
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  std::string body;
  long max_body = 0;
  char error[CURL_ERROR_SIZE] = {0};
};

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t n = size * count;
  size_t room =
      static_cast<size_t>(t->max_body) - std::min(t->body.size(), static_cast<size_t>(t->max_body));
  t->body.append(data, std::min(n, room));
  return n;  // the rest is read and dropped
}

std::string FailureReason(CURLcode code, const Transfer& t) {
  switch (code) {
    case CURLE_COULDNT_CONNECT:
      return "connection refused";
    case CURLE_OPERATION_TIMEDOUT:
      return absl::StrCat("timeout after ", absl::ToInt64Milliseconds(t.spec.timeout), " ms");
    case CURLE_GOT_NOTHING:
      return "connection closed without an answer";
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
      return "connection reset";
    case CURLE_COULDNT_RESOLVE_HOST:
      return "host name not resolved";
    default:
      break;
  }
  return t.error[0] != 0 ? std::string(t.error) : std::string(curl_easy_strerror(code));
}

// What an answer's JSON body adds: its "dependencies" are kept, and for a 2xx answer its
// "status" decides.
void ReadBody(const std::string& body, ProbeResult& result) {
  size_t start = body.find_first_not_of(" \t\r\n");
  if (start == std::string::npos || body[start] != '{') return;
  nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return;
  if (auto deps = j.find("dependencies"); deps != j.end() && deps->is_object()) {
    std::string text = deps->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    if (text.size() <= 4096) result.dependencies = std::move(text);
  }
  auto status = j.find("status");
  if (!result.pass || status == j.end() || !status->is_string()) return;
  std::string value = absl::AsciiStrToLower(status->get<std::string>());
  if (value != "healthy") {
    result.pass = false;
    result.reason = absl::StrCat("body says status \"", status->get<std::string>(), "\"");
  }
}

}  // namespace

class CurlProber::Impl {
 public:
  explicit Impl(CurlProberOptions options) : options_(options) {
    GlobalInit();
    multi_ = curl_multi_init();
    curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS, options_.max_connections);
    thread_ = std::thread([this] { Loop(); });
  }

  ~Impl() {
    {
      absl::MutexLock lock(&mu_);
      stop_ = true;
    }
    curl_multi_wakeup(multi_);
    thread_.join();
    for (Transfer* t : active_) Release(t);
    for (CURL* easy : idle_) curl_easy_cleanup(easy);
    absl::MutexLock lock(&mu_);
    for (Transfer* t : submitted_) delete t;
    curl_multi_cleanup(multi_);
  }

  void Probe(const CheckSpec& spec, ProbeDone done) {
    if (absl::Status allowed = CheckFilesAllowed(spec, options_.files_dir); !allowed.ok()) {
      done(ProbeResult{false, std::string(allowed.message()), absl::ZeroDuration(), ""});
      return;
    }
    auto* t = new Transfer();
    t->spec = spec;
    t->done = std::move(done);
    t->max_body = options_.max_body_bytes;
    bool first;
    {
      absl::MutexLock lock(&mu_);
      first = submitted_.empty();  // else a wake-up is already on its way
      submitted_.push_back(t);
    }
    if (first) curl_multi_wakeup(multi_);
  }

 private:
  void Loop();
  void Add(Transfer* t);
  void Complete(CURL* easy, CURLcode code);
  void Release(Transfer* t);
  std::string BearerToken(const std::string& path);

  const CurlProberOptions options_;
  CURLM* multi_ = nullptr;
  std::thread thread_;
  absl::Mutex mu_;
  std::vector<Transfer*> submitted_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  // The prober thread's own state.
  std::vector<Transfer*> active_;
  std::vector<CURL*> idle_;  // easy handles for reuse
  struct Token {
    std::string value;
    absl::Time read;
  };
  absl::flat_hash_map<std::string, Token> tokens_;
  absl::flat_hash_set<std::string> warned_;  // token files found unreadable
};

void CurlProber::Impl::Loop() {
  while (true) {
    std::vector<Transfer*> batch;
    {
      absl::MutexLock lock(&mu_);
      if (stop_) return;
      batch.swap(submitted_);
    }
    for (Transfer* t : batch) Add(t);
    int running = 0;
    curl_multi_perform(multi_, &running);
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi_, &left)) {
      if (msg->msg == CURLMSG_DONE) Complete(msg->easy_handle, msg->data.result);
    }
    curl_multi_poll(multi_, nullptr, 0, 1000, nullptr);
  }
}

std::string CurlProber::Impl::BearerToken(const std::string& path) {
  absl::Time now = absl::Now();
  auto it = tokens_.find(path);
  if (it != tokens_.end() && now - it->second.read < absl::Seconds(30)) return it->second.value;
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  std::string token(absl::StripAsciiWhitespace(text.str()));
  if (!in && warned_.insert(path).second) {
    LogWarning("Cannot read a health check's bearer token file; probing without a token",
               {{"file", path}});
  }
  tokens_[path] = Token{token, now};
  return token;
}

void CurlProber::Impl::Add(Transfer* t) {
  CURL* easy = nullptr;
  if (!idle_.empty()) {
    easy = idle_.back();
    idle_.pop_back();
    curl_easy_reset(easy);
  } else {
    easy = curl_easy_init();
  }
  t->easy = easy;
  const CheckSpec& s = t->spec;
  long timeout_ms = static_cast<long>(absl::ToInt64Milliseconds(s.timeout));
  curl_easy_setopt(easy, CURLOPT_PRIVATE, t);
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, t->error);
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy, CURLOPT_PROXY, "");  // probes go to the service, never a proxy
  if (s.kind == CheckKind::kTcp) {
    bool v6 = s.host.find(':') != std::string::npos;
    std::string url =
        absl::StrCat("http://", v6 ? "[" : "", s.host, v6 ? "]" : "", ":", s.port, "/");
    curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
    curl_easy_setopt(easy, CURLOPT_CONNECT_ONLY, 1L);
    curl_easy_setopt(easy, CURLOPT_FRESH_CONNECT, 1L);
    curl_easy_setopt(easy, CURLOPT_FORBID_REUSE, 1L);
  } else {
    curl_easy_setopt(easy, CURLOPT_URL, s.url.c_str());
    curl_easy_setopt(easy, CURLOPT_USERAGENT, "heartbeat-operator health check");
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, OnBody);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, t);
    for (const auto& [name, value] : s.headers) {
      t->headers = curl_slist_append(t->headers, absl::StrCat(name, ": ", value).c_str());
    }
    if (!s.bearer_token_file.empty()) {
      std::string header = absl::StrCat("Authorization: Bearer ", BearerToken(s.bearer_token_file));
      t->headers = curl_slist_append(t->headers, header.c_str());
    }
    if (t->headers != nullptr) curl_easy_setopt(easy, CURLOPT_HTTPHEADER, t->headers);
    if (!s.tls.ca_file.empty()) curl_easy_setopt(easy, CURLOPT_CAINFO, s.tls.ca_file.c_str());
    if (!s.tls.cert_file.empty()) curl_easy_setopt(easy, CURLOPT_SSLCERT, s.tls.cert_file.c_str());
    if (!s.tls.key_file.empty()) curl_easy_setopt(easy, CURLOPT_SSLKEY, s.tls.key_file.c_str());
    if (s.tls.insecure_skip_verify) {
      curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 0L);
      curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 0L);
    }
  }
  active_.push_back(t);
  curl_multi_add_handle(multi_, easy);
}

void CurlProber::Impl::Complete(CURL* easy, CURLcode code) {
  Transfer* t = nullptr;
  curl_easy_getinfo(easy, CURLINFO_PRIVATE, &t);
  ProbeResult result;
  curl_off_t total_us = 0;
  curl_easy_getinfo(easy, CURLINFO_TOTAL_TIME_T, &total_us);
  result.latency = absl::Microseconds(total_us);
  if (code != CURLE_OK) {
    result.reason = FailureReason(code, *t);
  } else if (t->spec.kind == CheckKind::kTcp) {
    result.pass = true;
  } else {
    long status = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    result.pass = status >= 200 && status < 300;
    if (!result.pass) result.reason = absl::StrCat("HTTP ", status);
    ReadBody(t->body, result);  // a failure's reason stays the status code
  }
  ProbeDone done = std::move(t->done);
  active_.erase(std::find(active_.begin(), active_.end(), t));
  Release(t);
  done(std::move(result));
}

void CurlProber::Impl::Release(Transfer* t) {
  curl_multi_remove_handle(multi_, t->easy);
  if (t->headers != nullptr) curl_slist_free_all(t->headers);
  if (idle_.size() < 256) {
    idle_.push_back(t->easy);
  } else {
    curl_easy_cleanup(t->easy);
  }
  delete t;
}

CurlProber::CurlProber(CurlProberOptions options) : impl_(std::make_unique<Impl>(options)) {}
CurlProber::~CurlProber() = default;
void CurlProber::Probe(const CheckSpec& spec, ProbeDone done) {
  impl_->Probe(spec, std::move(done));
}

}  // namespace hb::check
