#include "support/kube_emulator.h"

#include <cpprest/http_client.h>
#include <signal.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace hb::testing {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

absl::StatusOr<std::unique_ptr<KubeEmulator>> KubeEmulator::Start(Options options) {
  std::unique_ptr<KubeEmulator> emulator(new KubeEmulator());
  emulator->options_ = options;
  emulator->dir_ = MakeTempDir("kube-emulator");
  emulator->kubeconfig_ = emulator->dir_ + "/kubeconfig";
  const std::string port_file = emulator->dir_ + "/port";
  std::vector<std::string> argv = {"/usr/bin/python3",
                                   HB_KUBE_EMULATOR_PATH,
                                   "--host",
                                   "127.0.0.1",
                                   "--port",
                                   "0",
                                   "--port-file",
                                   port_file,
                                   "--kubeconfig",
                                   emulator->kubeconfig_,
                                   "--log-file",
                                   emulator->dir_ + "/requests.log",
                                   "--exit-with-parent"};
  if (options.tls) {
    argv.insert(argv.end(), {"--tls", "--cert-dir", emulator->dir_ + "/certs"});
  }
  if (!options.token.empty()) argv.insert(argv.end(), {"--token", options.token});
  argv.insert(argv.end(), options.extra_args.begin(), options.extra_args.end());
  emulator->process_ = std::make_unique<Process>(argv, emulator->dir_ + "/emulator.out");

  Process& process = *emulator->process_;
  WaitFor([&] { return std::filesystem::exists(port_file) || !process.Running(); },
          absl::Seconds(20));
  std::string port_text(absl::StripAsciiWhitespace(ReadFile(port_file)));
  if (!absl::SimpleAtoi(port_text, &emulator->port_) || emulator->port_ <= 0) {
    return absl::UnavailableError(absl::StrCat("kube-emulator did not start: ", process.Output()));
  }
  return emulator;
}

KubeEmulator::~KubeEmulator() {
  Stop();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::string KubeEmulator::server_url() const {
  return absl::StrCat(options_.tls ? "https" : "http", "://127.0.0.1:", port_);
}

void KubeEmulator::Signal(int signal) {
  if (process_ != nullptr) process_->Signal(signal);
}

void KubeEmulator::Stop() {
  if (process_ == nullptr) return;
  process_->Signal(SIGTERM);
  if (!process_->Wait(absl::Seconds(5)).has_value()) process_->Signal(SIGKILL);
  process_->Wait(absl::Seconds(5));
  process_.reset();
}

absl::StatusOr<nlohmann::json> KubeEmulator::Control(const std::string& method,
                                                     const std::string& path,
                                                     const nlohmann::json& body) {
  // The test's own plain client, independent of the code under test.
  web::http::client::http_client_config config;
  config.set_validate_certificates(false);
  config.set_timeout(std::chrono::seconds(10));
  try {
    web::http::client::http_client client(server_url(), config);
    web::http::http_request request(method);
    request.set_request_uri(path);
    if (!body.is_null()) request.set_body(body.dump(), "application/json");
    web::http::http_response response = client.request(request).get();
    std::string text = response.extract_utf8string(true).get();
    if (response.status_code() != 200) {
      return absl::InternalError(
          absl::StrCat(method, " ", path, ": ", response.status_code(), " ", text));
    }
    return nlohmann::json::parse(text);
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat(method, " ", path, ": ", e.what()));
  }
}

absl::Status KubeEmulator::SetFaults(const nlohmann::json& faults) {
  return Control("POST", "/_emulator/faults", faults).status();
}

absl::Status KubeEmulator::ResetFaults(double bookmark_interval_seconds) {
  return SetFaults({{"closeWatchesAfterSeconds", 0},
                    {"forceGoneOnNextWatch", 0},
                    {"errorRate", 0},
                    {"errorCode", 500},
                    {"latencyMs", 0},
                    {"bookmarkIntervalSeconds", bookmark_interval_seconds}});
}

absl::StatusOr<nlohmann::json> KubeEmulator::Info() {
  return Control("GET", "/_emulator/info", nullptr);
}

bool KubeEmulator::WaitForOpenWatches(size_t count, absl::Duration timeout) {
  return WaitFor(
      [&] {
        auto info = Info();
        return info.ok() && info->contains("watches") && (*info)["watches"].size() >= count;
      },
      timeout);
}

int KubeEmulator::OpenWatches(const std::string& label_selector) {
  auto info = Info();
  if (!info.ok() || !info->contains("watches")) return -1;
  int count = 0;
  for (const auto& watch : (*info)["watches"]) {
    if (watch.value("labelSelector", "") == label_selector) ++count;
  }
  return count;
}

bool KubeEmulator::WaitForWatch(const std::string& label_selector, absl::Duration timeout) {
  return WaitFor([&] { return OpenWatches(label_selector) > 0; }, timeout);
}

std::vector<nlohmann::json> KubeEmulator::Requests() const {
  std::vector<nlohmann::json> requests;
  std::ifstream in(dir_ + "/requests.log");
  for (std::string line; std::getline(in, line);) {
    auto json = nlohmann::json::parse(line, nullptr, false);
    if (!json.is_discarded()) requests.push_back(std::move(json));
  }
  return requests;
}

std::string KubeEmulator::Output() const {
  return process_ != nullptr ? process_->Output() : ReadFile(dir_ + "/emulator.out");
}

}  // namespace hb::testing
