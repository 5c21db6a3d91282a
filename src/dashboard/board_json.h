// The JSON the dashboard page receives: a snapshot (every row) when a stream opens, then
// deltas (the rows changed since the last one), each with the summary counts, the etcd
// revision and the server's wall time (the page corrects its own clock's offset by it).
//
//   {"type":"snapshot"|"delta","now":<ms>,"revision":N,"prefix":"/chora/capabilities/",
//    "summary":{"total":..,"healthy":..,"unhealthy":..,"pending":..,"expired":..},
//    "rows":[{"id":"chora.devex.registry","state":"healthy","status":"healthy",
//             "check":"http","reason":"","flapping":false,"ts":<ms>,"count":42,"ttl":30,
//             "interval":10,"mode":"every-beat","writer":"...","lease":"694d77aa1e7f2e04",
//             "rev":N,"gone_at":<ms>|null,"gone_reason":"lease expired",
//             "transitions":[["healthy",<ms>],["expired",<ms>]]}, ...]}
//
// Times are milliseconds since the Unix epoch (null when unknown); lease ids hexadecimal
// strings (they exceed JavaScript's exact integers). Only the rows' fields appear: no etcd
// endpoint, user or credential. Pure functions.
#pragma once

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "dashboard/health_board.h"

namespace hb::dashboard {

std::string RenderBoardJson(const char* type, const std::vector<CapabilityRow>& rows,
                            const BoardSummary& summary, int64_t revision,
                            const std::string& prefix, absl::Time now);

}  // namespace hb::dashboard
