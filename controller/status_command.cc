#include "status_command.h"

#include <future>
#include <iostream>
#include <memory>
#include <optional>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "common/log.h"
#include "common/time_format.h"
#include "etcd/grpc_etcd_client.h"
#include "heartbeat/health_key.h"
#include "heartbeat/health_value.h"
#include "heartbeat_command.h"
#include "nlohmann/json.hpp"
#include "signals.h"

namespace hb::cli {
namespace {

struct Row {
  std::string identifier;
  std::string status = "?";
  std::string age = "-";
  std::string count = "-";
  std::string ttl_left = "-";
  std::string lease = "-";
  std::optional<heartbeat::HealthValue> value;
  int64_t ttl_remaining = -1;
};

Row MakeRow(const etcd::KeyValue& kv, const std::string& id, absl::Time now) {
  Row row;
  row.identifier = id;
  auto value = heartbeat::ParseHealthValue(kv.value);
  if (value.ok()) {
    row.status = value->status;
    row.age = HumanDuration(now - value->timestamp);
    row.count = absl::StrCat(value->heartbeat_count);
    row.value = *value;
  } else {
    row.status = "unreadable";
  }
  if (kv.lease != 0) row.lease = heartbeat::LeaseIdHex(kv.lease);
  return row;
}

// Fills in the TTL remaining of every row's lease, asking etcd in parallel.
void FillTtls(etcd::EtcdClient& client, std::vector<Row>& rows) {
  std::vector<std::future<absl::StatusOr<etcd::LeaseTtl>>> answers;
  for (Row& row : rows) {
    auto promise = std::make_shared<std::promise<absl::StatusOr<etcd::LeaseTtl>>>();
    answers.push_back(promise->get_future());
    auto id = heartbeat::ParseLeaseIdHex(row.lease);
    if (!id.ok()) {
      promise->set_value(id.status());
      continue;
    }
    client.LeaseTimeToLive(*id, false, [promise](absl::StatusOr<etcd::LeaseTtl> ttl) {
      promise->set_value(std::move(ttl));
    });
  }
  for (size_t i = 0; i < rows.size(); ++i) {
    auto ttl = answers[i].get();
    if (!ttl.ok()) continue;
    rows[i].ttl_remaining = ttl->ttl;
    rows[i].ttl_left = ttl->ttl >= 0 ? absl::StrCat(ttl->ttl, "s") : "expired";
  }
}

void PrintTable(const std::vector<Row>& rows) {
  size_t width = 10;
  for (const Row& row : rows) width = std::max(width, row.identifier.size());
  auto pad = [](const std::string& s, size_t n) {
    return s.size() >= n ? s : s + std::string(n - s.size(), ' ');
  };
  auto line = [&](const std::string& a, const std::string& b, const std::string& c,
                  const std::string& d, const std::string& e, const std::string& f) {
    std::cout << pad(a, width) << "  " << pad(b, 9) << "  " << pad(c, 10) << "  " << pad(d, 7)
              << "  " << pad(e, 8) << "  " << f << "\n";
  };
  line("IDENTIFIER", "STATUS", "LAST BEAT", "COUNT", "TTL LEFT", "LEASE");
  for (const Row& row : rows) {
    line(row.identifier, row.status, row.age == "-" ? "-" : row.age + " ago", row.count,
         row.ttl_left, row.lease);
  }
  std::cout.flush();
}

void PrintJson(const std::vector<Row>& rows) {
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const Row& row : rows) {
    nlohmann::ordered_json item;
    item["identifier"] = row.identifier;
    item["status"] = row.status;
    if (row.value) {
      item["timestamp"] = FormatRfc3339(row.value->timestamp);
      item["heartbeat_count"] = row.value->heartbeat_count;
    }
    item["lease_id"] = row.lease == "-" ? "" : row.lease;
    item["ttl_remaining"] = row.ttl_remaining;
    list.push_back(item);
  }
  std::cout << list.dump(2) << std::endl;
}

// Prints watch events as lines: time, event, identifier, details.
class EventPrinter final : public etcd::WatchListener {
 public:
  explicit EventPrinter(std::string prefix) : prefix_(std::move(prefix)) {}

  void OnWatchEvents(const std::vector<etcd::WatchEvent>& events) override {
    absl::Time now = absl::Now();
    for (const auto& event : events) {
      std::optional<std::string> parsed = heartbeat::ParseHealthKey(prefix_, event.kv.key);
      if (!parsed) continue;
      const std::string& id = *parsed;
      std::string line;
      if (event.type == etcd::WatchEvent::Type::kPut) {
        Row row = MakeRow(event.kv, id, now);
        const char* what = event.kv.version == 1 ? "ADDED" : "HEARTBEAT";
        line = absl::StrCat(what, "  ", id, "  status=", row.status, " count=", row.count,
                            " lease=", row.lease);
      } else {
        line = absl::StrCat(DescribeDelete(event, now), "  ", id);
      }
      std::cout << FormatRfc3339(now) << "  " << line << std::endl;
    }
  }

  void OnWatchError(const absl::Status& status, bool fatal) override {
    std::cerr << "watch " << (fatal ? "ended" : "interrupted, resuming") << ": " << status.message()
              << std::endl;
  }

 private:
  // etcd reports expiry and removal alike; the last value tells which it most likely was:
  // a key whose last heartbeat is older than its TTL expired.
  static std::string DescribeDelete(const etcd::WatchEvent& event, absl::Time now) {
    if (!event.has_prev_kv) return "GONE";
    auto value = heartbeat::ParseHealthValue(event.prev_kv.value);
    if (!value.ok() || value->ttl_seconds <= 0 || value->mode == "on-change") return "GONE";
    absl::Duration silent = now - value->timestamp;
    return silent >= absl::Seconds(value->ttl_seconds) - absl::Seconds(1)
               ? absl::StrCat("EXPIRED (last heartbeat ", HumanDuration(silent), " ago)")
               : "REMOVED";
  }

  std::string prefix_;
};

}  // namespace

CLI::App* AddStatusCommand(CLI::App& app, StatusFlags& flags) {
  CLI::App* cmd = app.add_subcommand(
      "status",
      "Show every health key in etcd: identifier, status, age of the last heartbeat, count "
      "and lease TTL remaining. With --watch, then print heartbeats, expiries and removals "
      "as they happen (Ctrl-C to stop).");
  cmd->add_flag("--watch,-w", flags.watch, "Keep printing changes after the table");
  cmd->add_option("--output,-o", flags.output, "table or json")
      ->capture_default_str()
      ->check(CLI::IsMember({"table", "json"}));
  cmd->add_option("--key-prefix", flags.key_prefix, "Prefix of the health keys")
      ->capture_default_str();
  cmd->add_option("--log-format", flags.log_format, "text or json")
      ->capture_default_str()
      ->envname("LOG_FORMAT");
  AddEtcdFlags(*cmd, flags.etcd);
  return cmd;
}

int RunStatus(const StatusFlags& flags) {
  if (!ConfigureLogging(flags.log_format)) return 2;
  auto options = ToClientOptions(flags.etcd);
  if (!options.ok()) {
    return UsageError("status", std::string(options.status().message()));
  }
  auto client = etcd::GrpcEtcdClient::Create(*options);
  if (!client.ok()) {
    std::cerr << "heartbeat-operator status: " << client.status().message() << "\n";
    return 1;
  }
  std::vector<Row> rows;
  int64_t revision = 0;
  absl::Time now = absl::Now();
  etcd::RangeRequest request = etcd::RangeRequest::Prefix(flags.key_prefix, 1000);
  while (true) {
    auto page = etcd::RangeSync(**client, request);
    if (!page.ok()) {
      std::cerr << "heartbeat-operator status: cannot read " << flags.key_prefix << " from etcd at "
                << DescribeEndpoints(*options) << ": " << page.status().message() << "\n";
      return 1;
    }
    if (revision == 0) revision = page->revision;
    for (const auto& kv : page->kvs) {
      if (auto id = heartbeat::ParseHealthKey(flags.key_prefix, kv.key)) {
        rows.push_back(MakeRow(kv, *id, now));
      }
    }
    if (!page->more || page->kvs.empty()) break;
    request.key = page->kvs.back().key + std::string(1, '\0');
  }
  FillTtls(**client, rows);
  if (flags.output == "json") {
    PrintJson(rows);
  } else {
    PrintTable(rows);
  }
  if (!flags.watch) return 0;

  EventPrinter printer(flags.key_prefix);
  etcd::WatchRequest watch;
  watch.key = flags.key_prefix;
  watch.range_end = etcd::PrefixEnd(flags.key_prefix);
  watch.start_revision = revision + 1;
  watch.prev_kv = true;
  auto handle = (*client)->Watch(watch, &printer);
  while (WaitForTerminationSignal(absl::Hours(1)) == 0) {
  }
  handle.reset();
  return 0;
}

}  // namespace hb::cli
