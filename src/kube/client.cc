#include "kube/client.h"

#include <utility>

namespace hb::kube {

const char* WatchEventTypeName(WatchEventType type) {
  switch (type) {
    case WatchEventType::kAdded:
      return "ADDED";
    case WatchEventType::kModified:
      return "MODIFIED";
    case WatchEventType::kDeleted:
      return "DELETED";
    case WatchEventType::kBookmark:
      return "BOOKMARK";
  }
  return "UNKNOWN";
}

absl::StatusOr<ListResult> ListAll(KubeClient& client, const ResourceRef& ref,
                                   ListOptions options) {
  ListResult all;
  bool first = true;
  do {
    auto page = client.List(ref, options);
    if (!page.ok()) return page.status();
    if (first) all.resource_version = page->resource_version;
    first = false;
    for (auto& item : page->items) all.items.push_back(std::move(item));
    options.continue_token = page->continue_token;
    options.resource_version.clear();  // a continue token carries its own snapshot
  } while (!options.continue_token.empty());
  return all;
}

}  // namespace hb::kube
