#include "support/fault_proxy.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"

namespace hb::testing {
namespace {

constexpr absl::Duration kStartTimeout = absl::Seconds(10);
constexpr absl::Duration kControlTimeout = absl::Seconds(5);

// $HB_FAULT_PROXY, else fault_proxy.py in the source tree (HB_SOURCE_DIR, or beside this file,
// which the build compiles by its absolute path).
std::string ScriptPath() {
  if (const char* env = std::getenv("HB_FAULT_PROXY"); env != nullptr && *env != '\0') return env;
#ifdef HB_SOURCE_DIR
  return std::string(HB_SOURCE_DIR) + "/tests/support/fault_proxy.py";
#else
  std::string file = __FILE__;
  return file.substr(0, file.find_last_of('/') + 1) + "fault_proxy.py";
#endif
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// "READY listen=<port> control=<port>\n" -> the two ports.
bool ParseReady(const std::string& text, int& listen_port, int& control_port) {
  absl::string_view line = absl::StripSuffix(text, "\n");
  if (!absl::ConsumePrefix(&line, "READY ")) return false;
  listen_port = control_port = 0;
  for (absl::string_view field : absl::StrSplit(line, ' ', absl::SkipEmpty())) {
    if (absl::ConsumePrefix(&field, "listen=")) {
      if (!absl::SimpleAtoi(field, &listen_port)) return false;
    } else if (absl::ConsumePrefix(&field, "control=")) {
      if (!absl::SimpleAtoi(field, &control_port)) return false;
    }
  }
  return listen_port > 0 && control_port > 0;
}

// Send and receive timeouts of `fd` (connect uses the send timeout); at least 1 ms.
void SetTimeouts(int fd, absl::Duration timeout) {
  timeval tv = absl::ToTimeval(std::max(timeout, absl::Milliseconds(1)));
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

}  // namespace

std::unique_ptr<FaultProxy> FaultProxy::Start(const std::string& target,
                                              const std::string& log_dir) {
  static std::atomic<int> started{0};
  const std::string stem = absl::StrCat(log_dir, "/fault-proxy-", ++started);
  const std::string ready_path = stem + ".ready";
  const std::string script = ScriptPath();
  std::error_code ec;
  std::filesystem::remove(ready_path, ec);
  if (!std::filesystem::exists(script, ec)) {
    std::fprintf(stderr, "FaultProxy: %s not found (set HB_FAULT_PROXY)\n", script.c_str());
    return nullptr;
  }

  std::unique_ptr<FaultProxy> proxy(new FaultProxy());
  proxy->log_path_ = stem + ".log";
  std::vector<std::string> argv = {"/usr/bin/python3", script};
  argv.insert(argv.end(), {"--listen", "127.0.0.1:0", "--target", target, "--control-port", "0"});
  argv.insert(argv.end(), {"--ready-file", ready_path, "--exit-with-parent"});
  proxy->process_ = std::make_unique<Process>(argv, proxy->log_path_);

  Process& process = *proxy->process_;
  WaitFor(
      [&] {
        std::error_code exists_ec;
        return std::filesystem::exists(ready_path, exists_ec) || !process.Running();
      },
      kStartTimeout);
  if (!process.Running() ||
      !ParseReady(ReadFile(ready_path), proxy->listen_port_, proxy->control_port_)) {
    std::fprintf(stderr, "FaultProxy: %s did not start:\n%s\n", script.c_str(),
                 process.Output().c_str());
    return nullptr;
  }
  return proxy;
}

FaultProxy::~FaultProxy() {
  if (process_ == nullptr) return;
  process_->Signal(SIGTERM);
  if (!process_->Wait(absl::Seconds(5)).has_value()) process_->Signal(SIGKILL);
  process_->Wait(absl::Seconds(5));
}

std::string FaultProxy::endpoint() const { return absl::StrCat("127.0.0.1:", listen_port_); }

bool FaultProxy::Pass() { return Ok("pass"); }

bool FaultProxy::Latency(absl::Duration d) {
  if (d < absl::ZeroDuration()) return false;
  return Ok(absl::StrCat("latency ", absl::ToDoubleMilliseconds(d)));
}

bool FaultProxy::Blackhole() { return Ok("blackhole"); }

bool FaultProxy::Reset() { return Ok("reset"); }

bool FaultProxy::Refuse() { return Ok("refuse"); }

std::string FaultProxy::Stats() { return Command("stats"); }

std::string FaultProxy::Output() const { return process_->Output(); }

bool FaultProxy::Ok(const std::string& line) {
  std::string answer = Command(line);
  if (absl::StartsWith(answer, "OK")) return true;
  std::fprintf(stderr, "FaultProxy: '%s' answered '%s'\n", line.c_str(), answer.c_str());
  return false;
}

std::string FaultProxy::Command(const std::string& line) {
  const absl::Time deadline = absl::Now() + kControlTimeout;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return "";
  SetTimeouts(fd, kControlTimeout);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(control_port_));
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return "";
  }

  const std::string request = line + "\n";
  size_t sent = 0;
  while (sent < request.size() && absl::Now() < deadline) {
    SetTimeouts(fd, deadline - absl::Now());
    ssize_t n = send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }

  std::string answer;
  char buffer[512];
  while (sent == request.size() && absl::Now() < deadline) {
    SetTimeouts(fd, deadline - absl::Now());
    ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EOF, error or timeout
    answer.append(buffer, static_cast<size_t>(n));
    if (size_t end = answer.find('\n'); end != std::string::npos) {
      close(fd);
      answer.resize(end);
      return answer;
    }
  }
  close(fd);
  return "";  // no complete answer line
}

}  // namespace hb::testing
