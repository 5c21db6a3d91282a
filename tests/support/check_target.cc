#include "support/check_target.h"

#include <curl/curl.h>

#include <filesystem>

#include "absl/strings/str_cat.h"

namespace hb::testing {
namespace {

size_t Append(char* data, size_t size, size_t count, void* out) {
  static_cast<std::string*>(out)->append(data, size * count);
  return size * count;
}

// A plain GET on loopback; the status code (0 when it failed) and the body.
long Get(const std::string& url, std::string& body) {
  CURL* curl = curl_easy_init();
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 5000L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, Append);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
  long status = 0;
  if (curl_easy_perform(curl) == CURLE_OK) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(curl);
  return status;
}

}  // namespace

absl::StatusOr<std::unique_ptr<CheckTarget>> CheckTarget::Start(CheckTargetOptions options) {
  std::unique_ptr<CheckTarget> t(new CheckTarget());
  t->dir_ = MakeTempDir("check-target");
  std::vector<std::string> argv = {"/usr/bin/python3",
                                   HB_SOURCE_DIR "/tests/support/check_target.py",
                                   "--exit-with-parent", "-q"};
  if (options.tls) {
    if (!MakeTlsFiles(t->dir_, t->tls_)) return absl::InternalError("cannot make certificates");
    argv.insert(argv.end(), {"--cert", t->tls_.server_cert, "--key", t->tls_.server_key});
    if (options.client_ca) argv.insert(argv.end(), {"--client-ca", t->tls_.ca});
  }
  if (options.tcp) argv.push_back("--tcp");
  if (options.http_port != 0)
    argv.insert(argv.end(), {"--http-port", std::to_string(options.http_port)});
  if (!options.token_file.empty())
    argv.insert(argv.end(), {"--expect-token-file", options.token_file});
  t->process_ = std::make_unique<Process>(argv, t->dir_ + "/target.log");
  nlohmann::json ports;
  bool ready = WaitFor(
      [&] {
        std::string out = t->process_->Output();
        size_t start = out.find('{');
        size_t end = out.find('\n', start);
        if (start == std::string::npos || end == std::string::npos) return false;
        ports = nlohmann::json::parse(out.substr(start, end - start), nullptr, false);
        return ports.is_object();
      },
      absl::Seconds(20));
  if (!ready) {
    return absl::UnavailableError(
        absl::StrCat("check target did not start: ", t->process_->Output()));
  }
  t->http_ = ports.value("http", 0);
  t->https_ = ports.value("https", 0);
  t->tcp_ = ports.value("tcp", 0);
  return t;
}

CheckTarget::~CheckTarget() {
  process_.reset();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::string CheckTarget::HttpUrl(const std::string& path) const {
  return absl::StrCat("http://127.0.0.1:", http_, path);
}
std::string CheckTarget::HttpsUrl(const std::string& path) const {
  return absl::StrCat("https://127.0.0.1:", https_, path);
}

bool CheckTarget::SetMode(const std::string& mode) {
  std::string body;
  return Get(HttpUrl("/_control?mode=" + mode), body) == 200;
}

bool CheckTarget::SetTcp(bool on) {
  std::string body;
  return Get(HttpUrl(absl::StrCat("/_control?tcp=", on ? "on" : "off")), body) == 200;
}

nlohmann::json CheckTarget::Stats() {
  std::string body;
  if (Get(HttpUrl("/_stats"), body) != 200) return nullptr;
  return nlohmann::json::parse(body, nullptr, false);
}

}  // namespace hb::testing
