#include "dashboard/board_json.h"

#include "heartbeat/health_value.h"
#include "nlohmann/json.hpp"

namespace hb::dashboard {
namespace {

nlohmann::json Millis(absl::Time t) {
  if (t == absl::InfinitePast() || t == absl::InfiniteFuture()) return nullptr;
  return absl::ToUnixMillis(t);
}

nlohmann::json RowJson(const CapabilityRow& row) {
  nlohmann::json transitions = nlohmann::json::array();
  for (const Transition& t : row.transitions)
    transitions.push_back(nlohmann::json::array({t.state, Millis(t.at)}));
  return {{"id", row.identifier},
          {"state", row.state()},
          {"status", row.status},
          {"check", row.check},
          {"reason", row.reason},
          {"flapping", row.flapping},
          {"ts", Millis(row.timestamp)},
          {"count", row.heartbeat_count},
          {"ttl", row.ttl_seconds},
          {"interval", row.interval_seconds},
          {"mode", row.mode},
          {"writer", row.writer},
          {"lease", row.lease != 0 ? heartbeat::LeaseIdHex(row.lease) : ""},
          {"rev", row.mod_revision},
          {"gone_at", Millis(row.gone_at)},
          {"gone_reason", row.gone_reason},
          {"transitions", std::move(transitions)}};
}

}  // namespace

std::string RenderBoardJson(const char* type, const std::vector<CapabilityRow>& rows,
                            const BoardSummary& summary, int64_t revision,
                            const std::string& prefix, absl::Time now) {
  nlohmann::json list = nlohmann::json::array();
  for (const CapabilityRow& row : rows) list.push_back(RowJson(row));
  nlohmann::json doc = {{"type", type},
                        {"now", absl::ToUnixMillis(now)},
                        {"revision", revision},
                        {"prefix", prefix},
                        {"summary",
                         {{"total", summary.total},
                          {"healthy", summary.healthy},
                          {"unhealthy", summary.unhealthy},
                          {"pending", summary.pending},
                          {"expired", summary.expired}}},
                        {"rows", std::move(list)}};
  // Invalid UTF-8 in a value (an identifier cannot hold it, a reason might) is replaced.
  return doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace hb::dashboard
