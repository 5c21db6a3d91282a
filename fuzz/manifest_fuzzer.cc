// Fuzz target: capability manifests (manifest/manifest.h, manifest/discovery.h).
//
// The input is one manifest: ParseManifest(), then on success ResolveTiming() under two sets
// of defaults and ResolveCheck() under three sets of check defaults. The input cut at "---"
// lines is also a set of documents for BuildCatalog(). Properties checked besides "no
// exception, no sanitizer report":
//  - a resolved timing keeps the contract: TTL >= 2 s, interval >= 1 s, interval < TTL;
//  - a resolved check carries the thresholds the manifest wrote;
//  - BuildCatalog() accounts for every document exactly once (a service, another manifest or
//    an error) and never lists an identifier twice.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "fuzz_support.h"
#include "manifest/discovery.h"
#include "manifest/manifest.h"

namespace hb::manifest {
namespace {

void CheckTiming(const HeartbeatTiming& t) {
  if (t.ttl_seconds < 2 || t.interval_seconds < 1 || t.interval_seconds >= t.ttl_seconds) {
    fuzz::Fail("ResolveTiming accepted a timing outside its contract",
               absl::StrCat("interval ", t.interval_seconds, " ttl ", t.ttl_seconds));
  }
}

void CheckThreshold(const std::optional<int64_t>& written, int resolved, const char* field) {
  if (written.has_value() && *written != resolved) {
    fuzz::Fail("ResolveCheck changed a threshold",
               absl::StrCat(field, ": manifest ", *written, ", check ", resolved));
  }
}

void Resolve(const Manifest& m) {
  for (const HeartbeatTiming& defaults : {HeartbeatTiming{10, 30}, HeartbeatTiming{1, 2}}) {
    auto timing = ResolveTiming(m, defaults);
    if (!timing.ok()) continue;
    CheckTiming(*timing);
    for (const CheckDefaults& checks :
         {CheckDefaults{}, CheckDefaults{true, ""}, CheckDefaults{false, "127.0.0.1"}}) {
      auto spec = ResolveCheck(m, *timing, checks);
      if (!spec.ok() || spec->kind == check::CheckKind::kNone) continue;
      CheckThreshold(m.failure_threshold, spec->failure_threshold, "failure_threshold");
      CheckThreshold(m.success_threshold, spec->success_threshold, "success_threshold");
      CheckThreshold(m.flap_threshold, spec->flap_threshold, "flap_threshold");
      (void)spec->Target();
    }
  }
}

void CheckCatalog(absl::string_view text) {
  std::vector<Document> documents;
  for (std::string& piece : fuzz::SplitDocuments(text, 4)) {
    documents.push_back(Document{absl::StrCat("doc", documents.size(), ".yaml"), std::move(piece)});
  }
  if (documents.size() < 2) return;  // one document: ParseManifest() above covered it
  Catalog catalog = BuildCatalog(documents, HeartbeatTiming{10, 30});
  size_t accounted = catalog.services.size() + catalog.others.size() + catalog.errors.size();
  if (accounted != documents.size()) {
    fuzz::Fail("BuildCatalog lost or duplicated a document",
               absl::StrCat(documents.size(), " documents, ", accounted, " results"));
  }
  std::set<std::string> identifiers;
  for (const ServiceCapability& s : catalog.services) {
    CheckTiming(s.timing);
    if (!identifiers.insert(s.manifest.identifier).second) {
      fuzz::Fail("BuildCatalog listed an identifier twice", s.manifest.identifier);
    }
  }
  for (const Manifest& m : catalog.others) {
    if (!identifiers.insert(m.identifier).second) {
      fuzz::Fail("BuildCatalog listed an identifier twice", m.identifier);
    }
  }
}

}  // namespace
}  // namespace hb::manifest

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view text = hb::fuzz::AsText(data, size);
  auto manifest = hb::manifest::ParseManifest(text, "fuzz.yaml");
  if (manifest.ok()) {
    if (!hb::manifest::IsValidIdentifier(manifest->identifier)) {
      hb::fuzz::Fail("ParseManifest accepted an invalid identifier", manifest->identifier);
    }
    hb::manifest::Resolve(*manifest);
  }
  hb::manifest::CheckCatalog(text);
  return 0;
}
