#include "etcd/endpoints.h"

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace hb::etcd {

absl::StatusOr<std::vector<Endpoint>> ParseEndpoints(absl::string_view list) {
  std::vector<Endpoint> endpoints;
  for (absl::string_view item : absl::StrSplit(list, ',', absl::SkipWhitespace())) {
    item = absl::StripAsciiWhitespace(item);
    Endpoint endpoint;
    absl::string_view rest = item;
    if (absl::ConsumePrefix(&rest, "https://")) {
      endpoint.https = true;
    } else {
      absl::ConsumePrefix(&rest, "http://");
    }
    absl::ConsumeSuffix(&rest, "/");
    size_t colon = rest.rfind(':');
    uint32_t port = 0;
    if (colon == absl::string_view::npos || colon == 0 ||
        !absl::SimpleAtoi(rest.substr(colon + 1), &port) || port == 0 || port > 65535 ||
        absl::StrContains(rest, '/')) {
      return absl::InvalidArgumentError(absl::StrCat(
          "invalid etcd endpoint \"", item, "\": expected host:port, e.g. 127.0.0.1:2379"));
    }
    endpoint.host_port = std::string(rest);
    endpoints.push_back(std::move(endpoint));
  }
  if (endpoints.empty()) return absl::InvalidArgumentError("no etcd endpoint given");
  return endpoints;
}

bool ClientOptions::UseTls() const {
  if (tls || !ca_file.empty() || !cert_file.empty()) return true;
  for (const auto& endpoint : endpoints) {
    if (endpoint.https) return true;
  }
  return false;
}

}  // namespace hb::etcd
