// Shared pieces of the Kubernetes client's integration tests: one kube-emulator per test
// suite, a client built from the emulator's kubeconfig, and a watch running on its own
// thread whose events a test can wait for.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "kube/client.h"
#include "kube/config.h"
#include "kube/rest_client.h"
#include "support/kube_emulator.h"
#include "support/process.h"

namespace hb::kube::testing {

inline const ResourceRef kConfigMaps{"", "v1", "configmaps", "default"};
inline const ResourceRef kNamespaces{"", "v1", "namespaces", ""};
inline const ResourceRef kCrds{"apiextensions.k8s.io", "v1", "customresourcedefinitions", ""};

// A name no other test uses: `prefix`-<counter>.
inline std::string UniqueName(const std::string& prefix) {
  static std::atomic<int> counter{0};
  return absl::StrCat(prefix, "-", counter.fetch_add(1));
}

inline nlohmann::json ConfigMap(const std::string& name, nlohmann::json data,
                                nlohmann::json labels = nlohmann::json::object()) {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", {{"name", name}, {"labels", std::move(labels)}}},
          {"data", std::move(data)}};
}

// A test suite sharing one emulator (started with the suite's Options()); faults are reset
// before every test.
class EmulatorTest : public ::testing::Test {
 protected:
  static void StartEmulator(hb::testing::KubeEmulator::Options options) {
    auto started = hb::testing::KubeEmulator::Start(std::move(options));
    ASSERT_TRUE(started.ok()) << started.status();
    emulator_ = std::move(started).value().release();
  }
  static void SetUpTestSuite() { StartEmulator({}); }
  static void TearDownTestSuite() {
    delete emulator_;
    emulator_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(emulator_, nullptr);
    ASSERT_TRUE(emulator_->ResetFaults().ok());
    client_ = NewClient();
    ASSERT_NE(client_, nullptr);
  }

  static std::unique_ptr<RestKubeClient> NewClient(RestClientOptions options = {}) {
    auto config = LoadKubeconfig(emulator_->kubeconfig_path());
    EXPECT_TRUE(config.ok()) << config.status();
    if (!config.ok()) return nullptr;
    auto client = RestKubeClient::FromConfig(*config, std::move(options));
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? std::move(client).value() : nullptr;
  }

  static inline hb::testing::KubeEmulator* emulator_ = nullptr;  // one suite at a time
  std::unique_ptr<RestKubeClient> client_;
};

// Runs client.Watch() on a thread of its own and records what it sees.
class WatchRunner {
 public:
  WatchRunner(KubeClient& client, ResourceRef ref, WatchOptions options) {
    thread_ = std::thread([this, &client, ref = std::move(ref), options = std::move(options)] {
      absl::Status status = client.Watch(
          ref, options,
          [this](WatchEvent event) {
            absl::MutexLock lock(&mu_);
            events_.push_back(std::move(event));
            return absl::OkStatus();
          },
          cancel_);
      absl::MutexLock lock(&mu_);
      result_ = status;
      finished_at_ = absl::Now();
    });
  }
  ~WatchRunner() {
    cancel_.Cancel();
    thread_.join();
  }

  void Cancel() { cancel_.Cancel(); }
  std::vector<WatchEvent> Events() {
    absl::MutexLock lock(&mu_);
    return events_;
  }
  // "ADDED name" / "BOOKMARK " lines of the events so far.
  std::vector<std::string> Summary() {
    std::vector<std::string> lines;
    for (const auto& e : Events()) {
      lines.push_back(absl::StrCat(WatchEventTypeName(e.type), " ", ObjectName(e.object)));
    }
    return lines;
  }
  bool WaitForEvents(size_t count, absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto enough = [this, count]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return events_.size() >= count || result_.has_value();
    };
    mu_.AwaitWithTimeout(absl::Condition(&enough), timeout);
    return events_.size() >= count;
  }
  // Whether Watch() has returned.
  bool Finished() {
    absl::MutexLock lock(&mu_);
    return result_.has_value();
  }
  // Watch()'s result, or nullopt if it is still running after `timeout`.
  std::optional<absl::Status> WaitForResult(absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto done = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return result_.has_value(); };
    mu_.AwaitWithTimeout(absl::Condition(&done), timeout);
    return result_;
  }
  absl::Time finished_at() {
    absl::MutexLock lock(&mu_);
    return finished_at_;
  }

 private:
  CancelToken cancel_;
  absl::Mutex mu_;
  std::vector<WatchEvent> events_ ABSL_GUARDED_BY(mu_);
  std::optional<absl::Status> result_ ABSL_GUARDED_BY(mu_);
  absl::Time finished_at_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;  // last: starts after the members above exist
};

}  // namespace hb::kube::testing
