#include "kube/client.h"

#include <utility>

#include "common/log.h"
#include "kube/errors.h"

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
  const ListOptions original = options;
  do {
    auto page = client.List(ref, options);
    if (!page.ok() && IsGone(page.status()) && !options.continue_token.empty()) {
      // The snapshot behind the continue token is gone (the server compacted past it while
      // the pages were read, which writes elsewhere make likely for a large list): list
      // everything in one response instead, as client-go's pager does, rather than start a
      // paginated list again that the same writes may expire again.
      LogInfo("list continuation expired (410); listing without pages",
              {{"resource", ref.resource}, {"items_so_far", all.items.size()}});
      ListOptions whole = original;
      whole.limit = 0;
      whole.continue_token.clear();
      return client.List(ref, whole);
    }
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
