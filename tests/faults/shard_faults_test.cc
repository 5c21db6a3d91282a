// Three controller replicas with --shards auto share the capabilities of the test API
// server: one is killed with SIGKILL and its share is adopted by the other two; it comes
// back and takes about a third again. An etcd watch of the health keys audits the whole
// run: no DELETE, no key moved to another lease, and per key one writer at a time (the
// writers a key sees follow the ownership changes and never interleave).
//
// HB_SHARD_CAPABILITIES sets the number of capabilities (default 3,000; e.g. 30000 for a
// larger run).
#include <signal.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <map>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "controller_fixture.h"
#include "leader/rendezvous.h"
#include "support/watch_audit.h"

namespace hb::testing {
namespace {

constexpr char kPrefix[] = "/chora/capabilities/";
const std::vector<std::string> kAll = {"sh-0", "sh-1", "sh-2"};
const std::vector<std::string> kSurvivors = {"sh-0", "sh-2"};

int Capabilities() {
  const char* n = std::getenv("HB_SHARD_CAPABILITIES");
  return n != nullptr && std::atoi(n) > 0 ? std::atoi(n) : 3000;
}
std::string Id(int i) { return absl::StrCat("chora.sh.n", i); }
std::string Owner(const std::string& id, const std::vector<std::string>& members) {
  return *leader::RendezvousOwner(id, members);
}

class ShardFaults : public ControllerE2E {
 protected:
  Replica StartShard(const std::string& instance) {
    return StartMember(
        instance, {"--shards=auto", "--kube-api-qps=2000", "--kube-api-burst=2000", "--workers=8"});
  }

  // identifier -> the writer of its key now (from one range of the prefix).
  std::map<std::string, std::string> WritersNow() {
    CommandResult r = etcd_->Etcdctl({"get", kPrefix, "--prefix", "-w", "json"});
    std::map<std::string, std::string> writers;
    nlohmann::json got = nlohmann::json::parse(r.output, nullptr, false);
    if (!got.is_object() || !got.contains("kvs")) return writers;
    for (const nlohmann::json& kv : got["kvs"]) {
      std::string value;
      if (!absl::Base64Unescape(kv.value("value", ""), &value)) continue;
      nlohmann::json v = nlohmann::json::parse(value, nullptr, false);
      if (v.is_object())
        writers[v.value("namespace", "")] = v.value("writer", "");  // the identifier
    }
    return writers;
  }

  // Every key is written by its owner among `members`; `mismatched` says how many are not.
  bool WrittenByOwners(const std::vector<std::string>& members, int& mismatched) {
    auto writers = WritersNow();
    mismatched = 0;
    for (int i = 0; i < n_; ++i) {
      auto it = writers.find(Id(i));
      if (it == writers.end() || it->second != Owner(Id(i), members)) ++mismatched;
    }
    return mismatched == 0;
  }

  // Polls WrittenByOwners every second; returns the seconds it took, or -1 on timeout.
  double AwaitOwners(const std::vector<std::string>& members, absl::Duration timeout) {
    absl::Time start = absl::Now();
    int mismatched = 0;
    while (absl::Now() - start < timeout) {
      if (WrittenByOwners(members, mismatched)) return absl::ToDoubleSeconds(absl::Now() - start);
      absl::SleepFor(absl::Seconds(1));
    }
    std::cerr << mismatched << " keys not written by their owner among "
              << absl::StrJoin(members, ",") << "\n";
    return -1;
  }

  std::string Logs() {
    std::string out;
    for (auto& [name, r] : replicas_) {
      std::string log = r.process->Output();
      if (log.size() > 4000) log = log.substr(log.size() - 4000);
      absl::StrAppend(&out, "--- ", name, "\n", log);
    }
    return out;
  }

  int n_ = Capabilities();
  std::map<std::string, Replica> replicas_;
};

TEST_F(ShardFaults, AKilledReplicasShareIsAdoptedAndComesBackWithoutADeleteOrASecondWriter) {
  etcd_->StartWatch(kPrefix);
  CommandResult created = RunCommand(
      {"/usr/bin/python3", std::string(HB_SOURCE_DIR) + "/tests/support/create_capabilities.py",
       "--server", kube_->server_url(), "--count", absl::StrCat(n_), "--prefix", "sh", "--interval",
       "20", "--ttl", "60"},
      absl::Seconds(600));
  ASSERT_EQ(created.exit_code, 0) << created.output;
  std::cout << "[ shards   ] " << created.output;

  for (const std::string& m : kAll) replicas_[m] = StartShard(m);
  double start_s = AwaitOwners(kAll, absl::Seconds(300));
  ASSERT_GE(start_s, 0) << Logs();
  const size_t settled = etcd_->WatchEvents().size();
  std::map<std::string, std::string> at_settle;
  for (int i = 0; i < n_; ++i) at_settle[Key(Id(i))] = Owner(Id(i), kAll);
  int share = 0;
  for (int i = 0; i < n_; ++i) share += Owner(Id(i), kAll) == "sh-1" ? 1 : 0;

  const absl::Time killed_at = absl::Now();
  replicas_["sh-1"].process->Signal(SIGKILL);
  replicas_["sh-1"].process->Wait(absl::Seconds(10));
  double handover_s = AwaitOwners(kSurvivors, absl::Seconds(120));
  ASSERT_GE(handover_s, 0) << Logs();

  replicas_["sh-1"] = StartShard("sh-1");
  double back_s = AwaitOwners(kAll, absl::Seconds(180));
  ASSERT_GE(back_s, 0) << Logs();
  int mismatched = 0;
  EXPECT_TRUE(WrittenByOwners(kAll, mismatched)) << mismatched;

  // The audit of everything after the three had settled.
  std::vector<EtcdServer::WatchRecord> events = etcd_->WatchEvents();
  std::vector<EtcdServer::WatchRecord> after(events.begin() + settled, events.end());
  WatchAudit audit = WatchAudit::Of(after, kPrefix, "");
  // Per key the writers in order, consecutive repeats folded: what ownership allows.
  std::map<std::string, std::vector<std::string>> writers;
  for (const auto& [key, owner] : at_settle) writers[key] = {owner};
  // Per key of sh-1: the time its first value written by a survivor carries, after the kill.
  std::vector<double> adopted_after;
  for (const auto& e : after) {
    if (e.deleted || e.key.rfind(kPrefix, 0) != 0 || e.key.find("/health") == std::string::npos) {
      continue;
    }
    nlohmann::json v = nlohmann::json::parse(e.value, nullptr, false);
    std::string w = v.is_object() ? v.value("writer", "") : "";
    auto& seq = writers[e.key];
    if (seq.empty() || seq.back() != w) {
      absl::Time written;
      std::string err;
      if (seq.size() == 1 && seq.back() == "sh-1" && w != "sh-1" &&
          absl::ParseTime(absl::RFC3339_full, v.value("timestamp", ""), &written, &err)) {
        adopted_after.push_back(absl::ToDoubleSeconds(written - killed_at));
      }
      seq.push_back(w);
    }
  }
  std::sort(adopted_after.begin(), adopted_after.end());
  const double adopted_median =
      adopted_after.empty() ? -1 : adopted_after[adopted_after.size() / 2];
  const double adopted_max = adopted_after.empty() ? -1 : adopted_after.back();
  int interleaved = 0;
  std::string first_bad;
  for (int i = 0; i < n_; ++i) {
    std::vector<std::string> expected = {Owner(Id(i), kAll)};
    if (expected[0] == "sh-1") expected = {"sh-1", Owner(Id(i), kSurvivors), "sh-1"};
    if (writers[Key(Id(i))] != expected) {
      if (first_bad.empty()) {
        first_bad = absl::StrCat(Id(i), ": ", absl::StrJoin(writers[Key(Id(i))], " -> "),
                                 " (expected ", absl::StrJoin(expected, " -> "), ")");
      }
      ++interleaved;
    }
  }
  int present = 0;  // health keys (the watch's marker key is not one)
  for (const std::string& key : etcd_->Keys(kPrefix)) {
    present += key.size() > 7 && key.compare(key.size() - 7, 7, "/health") == 0 ? 1 : 0;
  }
  RecordFaultSummary(
      absl::StrCat("shards: 3 replicas, ", n_, " capabilities, one SIGKILLed and back"),
      n_ - present, audit);
  std::cout << "[ shards   ] " << n_ << " capabilities, 3 replicas: every key written by its owner "
            << start_s << " s after the start; SIGKILL of sh-1 (" << share
            << " keys): all written by the other two after " << handover_s
            << " s (lease duration 4 s; beats every 20 s), per key adopted and rewritten after "
            << adopted_median << " s (median), " << adopted_max << " s (max); sh-1 back: " << share
            << " keys written by it again after " << back_s << " s; " << audit.puts
            << " PUTs audited, " << audit.deletes << " DELETE, " << audit.lease_changes
            << " lease changes, " << interleaved << " keys with writers out of turn\n";
  EXPECT_EQ(present, n_);
  EXPECT_EQ(audit.deletes, 0);
  // Every key of sh-1 was rewritten by a survivor, at adoption, not at its next beat (20 s).
  EXPECT_EQ(static_cast<int>(adopted_after.size()), share);
  EXPECT_LT(adopted_max, 20.0) << "adopted keys wait for their next beat";
  EXPECT_EQ(audit.lease_changes, 0) << "a new owner adopts the lease";
  EXPECT_EQ(interleaved, 0) << first_bad;
  EXPECT_NEAR(share, n_ / 3, n_ / 30 + 50);

  // status.shard names the owner, shown with -o wide.
  CommandResult wide = Kubectl({"get", "capability", "sh-00001", "-o", "wide"});
  EXPECT_NE(wide.output.find("SHARD"), std::string::npos) << wide.output;
  std::string owner = Owner(Id(1), kAll);
  EXPECT_TRUE(WaitFor(
      [&] {
        nlohmann::json cap = Get("capability/sh-00001");
        return cap.is_object() &&
               cap.value("status", nlohmann::json::object()).value("shard", "") == owner;
      },
      absl::Seconds(30)))
      << Kubectl({"get", "capability", "sh-00001", "-o", "yaml"}).output;
}

}  // namespace
}  // namespace hb::testing
