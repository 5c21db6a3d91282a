#include "alert/http_poster.h"

#include <curl/curl.h>

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace hb::alert {

bool PostResult::retryable() const {
  return http_status == 0 || http_status == 408 || http_status == 429 || http_status >= 500;
}

std::string RedactUrl(const std::string& url) {
  const size_t scheme = url.find("://");
  const size_t start = scheme == std::string::npos ? 0 : scheme + 3;
  const size_t end = url.find_first_of("/?#", start);
  const size_t at = url.rfind('@', end == std::string::npos ? url.size() : end);
  if (at == std::string::npos || at < start) return url;
  return url.substr(0, start) + url.substr(at + 1);
}

namespace {

constexpr size_t kKeptAnswer = 256;  // bytes of an error answer kept for the log

size_t KeepAnswer(char* data, size_t size, size_t count, void* out) {
  auto* answer = static_cast<std::string*>(out);
  const size_t n = size * count;
  if (answer->size() < kKeptAnswer) answer->append(data, std::min(n, kKeptAnswer - answer->size()));
  return n;
}

class CurlPoster final : public HttpPoster {
 public:
  CurlPoster() : curl_(curl_easy_init()) {}
  ~CurlPoster() override {
    if (curl_ != nullptr) curl_easy_cleanup(curl_);
  }

  PostResult Post(const std::string& url, const std::vector<std::string>& headers,
                  const std::string& body, absl::Duration timeout) override {
    PostResult result;
    if (curl_ == nullptr) {
      result.error = "libcurl could not be initialised";
      return result;
    }
    curl_easy_reset(curl_);
    curl_slist* list = curl_slist_append(nullptr, "Content-Type: application/json");
    for (const std::string& h : headers) list = curl_slist_append(list, h.c_str());
    std::string answer;
    const long ms = std::max<long>(1, static_cast<long>(absl::ToInt64Milliseconds(timeout)));
    curl_easy_setopt(curl_, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(curl_, CURLOPT_TIMEOUT_MS, ms);
    curl_easy_setopt(curl_, CURLOPT_CONNECTTIMEOUT_MS, ms);
    curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl_, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, &KeepAnswer);
    curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &answer);
    const CURLcode code = curl_easy_perform(curl_);
    curl_slist_free_all(list);
    if (code != CURLE_OK) {
      result.error = curl_easy_strerror(code);
      return result;
    }
    long status = 0;
    curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &status);
    result.http_status = static_cast<int>(status);
    if (!result.ok()) result.error = absl::StrCat("HTTP ", status, ": ", answer);
    return result;
  }

 private:
  CURL* curl_;
};

}  // namespace

std::unique_ptr<HttpPoster> MakeCurlPoster() { return std::make_unique<CurlPoster>(); }

}  // namespace hb::alert
