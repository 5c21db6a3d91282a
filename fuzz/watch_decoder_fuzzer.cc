// Fuzz target: the Kubernetes watch stream decoder (kube/watch_decoder.h).
//
// The input is the body of a watch response: newline-delimited JSON events. It is decoded
// twice, once in one piece and once in pieces of sizes drawn from a stream seeded by the
// input (as the chunks of an HTTP body arrive), with a handler that stops the watch after a
// number of events also drawn from the input (0: never). Both decodings must give the same
// events and the same final status, and the decoder's event count must match the events
// handed over.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "fuzz_support.h"
#include "kube/watch_decoder.h"

namespace hb::kube {
namespace {

struct Outcome {
  std::vector<std::string> events;  // "TYPE object-json"
  absl::Status status;
  int64_t counted = 0;  // WatchDecoder::events()
};

// `chunks`: sizes of the successive pieces; empty: the whole body at once.
Outcome Decode(absl::string_view body, const std::vector<size_t>& chunks, size_t stop_after) {
  Outcome out;
  WatchDecoder decoder("watch /api/v1/namespaces/default/configmaps");
  WatchHandler handler = [&](WatchEvent event) {
    out.events.push_back(
        absl::StrCat(WatchEventTypeName(event.type), " ",
                     event.object.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)));
    if (out.events.size() == stop_after) return absl::CancelledError("handler stopped");
    return absl::OkStatus();
  };
  absl::string_view rest = body;
  for (size_t i = 0; out.status.ok() && !rest.empty(); ++i) {
    size_t n = chunks.empty() ? rest.size() : std::min(chunks[i % chunks.size()], rest.size());
    out.status = decoder.Feed(rest.substr(0, n), handler);
    rest.remove_prefix(n);
  }
  if (out.status.ok()) out.status = decoder.Finish(handler);
  out.counted = decoder.events();
  return out;
}

void Compare(const Outcome& whole, const Outcome& pieces) {
  if (whole.events != pieces.events) {
    fuzz::Fail("chunking changed the events",
               absl::StrCat(whole.events.size(), " vs ", pieces.events.size(), " events"));
  }
  if (whole.status != pieces.status) {
    fuzz::Fail("chunking changed the status",
               absl::StrCat(whole.status.ToString(), " vs ", pieces.status.ToString()));
  }
  for (const Outcome* o : {&whole, &pieces}) {
    if (o->counted != static_cast<int64_t>(o->events.size())) {
      fuzz::Fail("events() disagrees with the events handed over",
                 absl::StrCat(o->counted, " vs ", o->events.size()));
    }
  }
}

}  // namespace
}  // namespace hb::kube

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view body = hb::fuzz::AsText(data, size);
  hb::fuzz::InputRandom random(body);
  size_t stop_after = random.Between(0, 4);
  std::vector<size_t> chunks;
  for (int i = 0; i < 64; ++i) {
    chunks.push_back(random.Next() % 4 == 0 ? random.Between(1, 512) : random.Between(1, 8));
  }
  auto whole = hb::kube::Decode(body, {}, stop_after);
  auto pieces = hb::kube::Decode(body, chunks, stop_after);
  hb::kube::Compare(whole, pieces);
  return 0;
}
