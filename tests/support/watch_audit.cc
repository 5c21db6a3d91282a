#include "support/watch_audit.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <mutex>

#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "nlohmann/json.hpp"

namespace hb::testing {
namespace {

struct Row {
  std::string scenario;
  int keys_lost;
  WatchAudit audit;
};

// Prints the rows when the test binary ends (after the last test).
class SummaryPrinter : public ::testing::Environment {
 public:
  void TearDown() override {
    if (rows.empty()) return;
    std::printf("\n%-66s %5s %7s %7s %8s %8s\n", "scenario", "lost", "DELETE", "leases", "max gap",
                "foreign");
    for (const Row& r : rows) {
      std::printf("%-66s %5d %7d %7d %7.1fs %8d\n", r.scenario.c_str(), r.keys_lost,
                  r.audit.deletes, r.audit.lease_changes, absl::ToDoubleSeconds(r.audit.max_gap),
                  r.audit.foreign_writes);
    }
    std::fflush(stdout);
  }
  std::vector<Row> rows;
};

SummaryPrinter* Printer() {
  static SummaryPrinter* printer = [] {
    auto* p = new SummaryPrinter();
    ::testing::AddGlobalTestEnvironment(p);  // gtest owns it
    return p;
  }();
  return printer;
}

// Registered before main() runs the tests, so that TearDown is called.
const bool kRegistered = (Printer(), true);

}  // namespace

WatchAudit WatchAudit::Of(const std::vector<EtcdServer::WatchRecord>& events,
                          const std::string& health_prefix, const std::string& fence_key) {
  WatchAudit audit;
  std::map<std::string, int64_t> lease_of;
  std::string holder;
  for (const EtcdServer::WatchRecord& e : events) {
    if (!fence_key.empty() && e.key == fence_key) {
      if (e.deleted) continue;
      auto value = nlohmann::json::parse(e.value, nullptr, false);
      holder = value.is_object() ? value.value("instance", "") : "";
      audit.fence_holders.push_back(holder);
      continue;
    }
    if (!absl::StartsWith(e.key, health_prefix) || !absl::EndsWith(e.key, "/health")) continue;
    if (e.deleted) {
      ++audit.deletes;
      lease_of.erase(e.key);
      continue;
    }
    ++audit.puts;
    auto it = lease_of.find(e.key);
    if (it != lease_of.end() && it->second != e.lease) ++audit.lease_changes;
    lease_of[e.key] = e.lease;
    auto value = nlohmann::json::parse(e.value, nullptr, false);
    std::string writer = value.is_object() ? value.value("writer", "") : "";
    absl::Time stamp;
    std::string err;
    if (value.is_object() &&
        absl::ParseTime(absl::RFC3339_full, value.value("timestamp", ""), &stamp, &err)) {
      auto last = audit.last_beat.find(e.key);
      if (last != audit.last_beat.end()) {
        audit.max_gap = std::max(audit.max_gap, stamp - last->second);
      }
      audit.last_beat[e.key] = stamp;
    }
    audit.last_writer[e.key] = writer;
    if (!fence_key.empty() && writer != holder) {
      if (audit.foreign_writes++ == 0) {
        audit.first_foreign = absl::StrFormat("%s by %s while %s held the fence", e.key, writer,
                                              holder.empty() ? "nobody" : holder);
      }
    }
  }
  return audit;
}

void RecordFaultSummary(const std::string& scenario, int keys_lost, const WatchAudit& audit) {
  Printer()->rows.push_back(Row{scenario, keys_lost, audit});
}

}  // namespace hb::testing
