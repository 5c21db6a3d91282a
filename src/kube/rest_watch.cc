// RestKubeClient::Watch: a GET ...?watch=true whose chunked body is decoded as it arrives.
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "kube/http_transport.h"
#include "kube/rest_client.h"
#include "kube/token_source.h"
#include "kube/watch_decoder.h"

namespace hb::kube {
namespace {

absl::Duration IdleTimeout(const WatchOptions& options) {
  if (options.idle_timeout > absl::ZeroDuration()) return options.idle_timeout;
  if (options.timeout_seconds > 0) return absl::Seconds(options.timeout_seconds + 30);
  return absl::Minutes(10);
}

std::string WatchQuery(const WatchOptions& options) {
  return EncodeQuery({
      {"watch", "true"},
      {"resourceVersion", options.resource_version},
      {"allowWatchBookmarks", options.allow_bookmarks ? "true" : ""},
      {"timeoutSeconds", options.timeout_seconds > 0 ? absl::StrCat(options.timeout_seconds) : ""},
      {"labelSelector", options.label_selector},
      {"fieldSelector", options.field_selector},
  });
}

}  // namespace

absl::Status RestKubeClient::Watch(const ResourceRef& ref, const WatchOptions& options,
                                   const WatchHandler& handler, const CancelToken& cancel) {
  HB_ASSIGN_OR_RETURN(std::string path, ResourcePath(ref));
  const std::string what = absl::StrCat("watch ", path);
  HttpRequest request{"GET", path + WatchQuery(options), "", "", ""};
  for (int attempt = 0;; ++attempt) {
    HB_ASSIGN_OR_RETURN(std::string token, tokens_->Token());
    request.authorization = token.empty() ? "" : absl::StrCat("Bearer ", token);
    WatchDecoder decoder(what);
    LogDebug("Kubernetes watch starting", {{"target", request.target}});
    auto response =
        transport_->Stream(request, IdleTimeout(options), cancel,
                           [&](absl::string_view data) { return decoder.Feed(data, handler); });
    LogDebug("Kubernetes watch ended",
             {{"target", request.target},
              {"events", decoder.events()},
              {"status", response.ok() ? "ok" : response.status().ToString()}});
    if (!response.ok()) return response.status();
    if (response->status == 401 && attempt == 0 && tokens_->Refresh()) continue;
    if (response->status < 200 || response->status > 299) {
      return StatusFromHttp(what, response->status, response->body, response->retry_after);
    }
    return decoder.Finish(handler);
  }
}

}  // namespace hb::kube
