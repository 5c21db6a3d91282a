// A HeartbeatEngine on a FakeClock over a FakeEtcd, with helpers to read health keys.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "etcd/fake_etcd.h"
#include "heartbeat/engine.h"
#include "heartbeat/health_value.h"
#include "support/virtual_time.h"

namespace hb::heartbeat {

class EngineFixture : public ::testing::Test {
 protected:
  void Start(EngineOptions options = {}) {
    options.seed = 42;
    engine_ = std::make_unique<HeartbeatEngine>(etcd_, clock_, options);
  }
  void Run(absl::Duration d, absl::Duration step = absl::Milliseconds(10)) {
    testing::RunFor(clock_, etcd_, *engine_, d, step);
  }

  static CapabilitySpec Spec(std::string id, absl::Duration interval = absl::Seconds(10),
                             int64_t ttl = 30) {
    CapabilitySpec spec;
    spec.identifier = std::move(id);
    spec.interval = interval;
    spec.ttl_seconds = ttl;
    return spec;
  }
  static std::string Key(const std::string& id) {
    return absl::StrCat("/chora/capabilities/", id, "/health");
  }
  // heartbeat_count in the stored value; 0 when absent.
  uint64_t Count(const std::string& id) {
    auto kv = etcd_.Get(Key(id));
    if (!kv) return 0;
    auto value = ParseHealthValue(kv->value);
    return value.ok() ? value->heartbeat_count : 0;
  }

  FakeClock clock_;
  etcd::FakeEtcd etcd_{clock_};
  std::unique_ptr<HeartbeatEngine> engine_;
};

}  // namespace hb::heartbeat
