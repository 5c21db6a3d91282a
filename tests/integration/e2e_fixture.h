// End-to-end fixture: a real etcd and the real heartbeat-operator binary.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "heartbeat/health_value.h"
#include "support/etcd_server.h"
#include "support/process.h"

namespace hb::testing {

class HeartbeatE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    etcd_ = EtcdServer::Start();
    ASSERT_NE(etcd_, nullptr) << "etcd did not start";
    dir_ = MakeTempDir("e2e");
  }
  void TearDown() override {
    processes_.clear();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  // Starts `heartbeat-operator heartbeat ARGS --etcd-endpoints <etcd>`.
  Process& StartHeartbeat(std::vector<std::string> args, std::vector<std::string> env = {}) {
    std::vector<std::string> argv = {BinaryPath(), "heartbeat"};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back("--etcd-endpoints=" + etcd_->endpoint());
    std::string log = absl::StrCat(dir_, "/heartbeat-", processes_.size(), ".log");
    processes_.push_back(std::make_unique<Process>(argv, log, std::move(env)));
    return *processes_.back();
  }

  static std::string Key(const std::string& id) {
    return absl::StrCat("/chora/capabilities/", id, "/health");
  }
  // heartbeat_count of `id`'s health value; -1 when the key is absent or unreadable.
  int64_t Count(const std::string& id) {
    auto value = etcd_->Get(Key(id));
    if (!value) return -1;
    auto parsed = heartbeat::ParseHealthValue(*value);
    return parsed.ok() ? static_cast<int64_t>(parsed->heartbeat_count) : -1;
  }
  bool Present(const std::string& id) { return etcd_->Get(Key(id)).has_value(); }
  // Deletions of `id`'s key seen by the etcdctl watch.
  int Deletes(const std::string& id) {
    std::string log = etcd_->WatchLog();
    std::string needle = "DELETE\n" + Key(id) + "\n";
    int n = 0;
    for (size_t pos = 0; (pos = log.find(needle, pos)) != std::string::npos; ++pos) ++n;
    return n;
  }
  std::string WriteFile(const std::string& name, const std::string& text) {
    std::string path = dir_ + "/" + name;
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    std::ofstream(path) << text;
    return path;
  }

  std::unique_ptr<EtcdServer> etcd_;
  std::string dir_;
  std::vector<std::unique_ptr<Process>> processes_;
};

}  // namespace hb::testing
