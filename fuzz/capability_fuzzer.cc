// Fuzz target: Capability objects and capability ConfigMaps as declarations
// (capability/declaration.h, capability/configmap_source.h).
//
// An input that is JSON is read as a Capability object (FromCapability(), FromMirror(),
// IsMirror(), then RenderStatus() of the status read) and as a ConfigMap (FromConfigMap()).
// Any input, JSON or not, cut at "---" lines, also becomes the data values of a capability
// ConfigMap (keys a.yaml, b.yml, c.yaml and notes.txt, which is not a manifest). Properties
// checked besides "no exception, no sanitizer report":
//  - a declaration without `invalid` has a valid identifier and a timing within the
//    contract (TTL >= 2 s, interval >= 1 s, interval < TTL), and its check carries the port,
//    minReady and thresholds the object wrote;
//  - FromConfigMap() gives one declaration or one error per manifest key, and every
//    declaration's mirror has a valid object name length.
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "capability/configmap_source.h"
#include "capability/declaration.h"
#include "fuzz_support.h"
#include "manifest/manifest.h"

namespace hb::capability {
namespace {

const manifest::HeartbeatTiming kDefaults{10, 30};

void CheckTiming(const Declaration& d) {
  if (!d.invalid.empty() || !d.service) return;
  if (d.ttl_seconds < 2 || d.interval_seconds < 1 || d.interval_seconds >= d.ttl_seconds) {
    fuzz::Fail("a runnable declaration with a timing outside the contract",
               absl::StrCat(d.source, ": interval ", d.interval_seconds, " ttl ", d.ttl_seconds));
  }
  if (!manifest::IsValidIdentifier(d.identifier)) {
    fuzz::Fail("a runnable declaration with an invalid identifier", d.identifier);
  }
}

// `object[path...]` when it is an integer.
std::optional<int64_t> IntAt(const nlohmann::json& object,
                             std::initializer_list<const char*> path) {
  const nlohmann::json* at = &object;
  for (const char* key : path) {
    if (!at->is_object()) return std::nullopt;
    auto it = at->find(key);
    if (it == at->end()) return std::nullopt;
    at = &*it;
  }
  if (!at->is_number_integer()) return std::nullopt;
  return at->get<int64_t>();
}

void Kept(const nlohmann::json& object, std::initializer_list<const char*> path, int64_t resolved) {
  auto written = IntAt(object, path);
  if (written.has_value() && *written != resolved) {
    fuzz::Fail("the check changed a value the Capability wrote",
               absl::StrCat(*(path.end() - 1), ": written ", *written, ", check ", resolved));
  }
}

void CheckSpecKept(const nlohmann::json& capability, const Declaration& d) {
  if (!d.invalid.empty() || d.check.kind == check::CheckKind::kNone) return;
  const check::CheckSpec& c = d.check;
  if (c.kind == check::CheckKind::kTcp) Kept(capability, {"spec", "health", "tcp", "port"}, c.port);
  if (c.kind == check::CheckKind::kGrpc) {
    Kept(capability, {"spec", "health", "grpc", "port"}, c.port);
  }
  if (c.kind == check::CheckKind::kServiceRef) {
    Kept(capability, {"spec", "health", "serviceRef", "minReady"}, c.min_ready);
  }
  Kept(capability, {"spec", "health", "failureThreshold"}, c.failure_threshold);
  Kept(capability, {"spec", "health", "successThreshold"}, c.success_threshold);
  Kept(capability, {"spec", "health", "flapThreshold"}, c.flap_threshold);
}

void FromConfigMapChecked(const nlohmann::json& configmap, size_t manifests) {
  ConfigMapCapabilities result = FromConfigMap(configmap, kDefaults);
  if (manifests != SIZE_MAX && result.declarations.size() + result.errors.size() != manifests) {
    fuzz::Fail("FromConfigMap lost or duplicated an entry",
               absl::StrCat(manifests, " manifests, ", result.declarations.size(),
                            " declarations, ", result.errors.size(), " errors"));
  }
  for (const Declaration& d : result.declarations) {
    CheckTiming(d);
    nlohmann::json mirror = MirrorObject(d);
    std::string name = mirror["metadata"]["name"].get<std::string>();
    if (name.empty() || name.size() > 253) fuzz::Fail("a mirror name of a bad length", name);
    (void)mirror.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    (void)MirrorKey(d);
  }
}

void AsCapability(const nlohmann::json& object) {
  Declaration d = FromCapability(object);
  CheckTiming(d);
  CheckSpecKept(object, d);
  (void)d.HasFinalizer();
  (void)RenderStatus(d.status).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (IsMirror(object)) (void)FromMirror(object);
  (void)Winner({d, FromCapability(object)});
  FromConfigMapChecked(object, SIZE_MAX);  // the manifest count is unknown here
}

void AsConfigMapData(absl::string_view text) {
  static const char* const kKeys[] = {"a.yaml", "b.yml", "c.yaml", "notes.txt"};
  nlohmann::json configmap = {{"apiVersion", "v1"},
                              {"kind", "ConfigMap"},
                              {"metadata",
                               {{"name", "fuzz-capabilities"},
                                {"namespace", "default"},
                                {"uid", "0b6e1c1e-5d5e-4a8e-9f6e-000000000001"},
                                {"resourceVersion", "7"},
                                {"creationTimestamp", "2026-01-01T00:00:00Z"}}},
                              {"data", nlohmann::json::object()}};
  size_t manifests = 0;
  std::vector<std::string> documents = fuzz::SplitDocuments(text, 4);
  for (size_t i = 0; i < documents.size(); ++i) {
    configmap["data"][kKeys[i]] = documents[i];
    if (i < 3) ++manifests;
  }
  FromConfigMapChecked(configmap, manifests);
}

}  // namespace
}  // namespace hb::capability

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view text = hb::fuzz::AsText(data, size);
  nlohmann::json object = nlohmann::json::parse(text.begin(), text.end(), nullptr, false);
  if (!object.is_discarded()) hb::capability::AsCapability(object);
  hb::capability::AsConfigMapData(text);
  return 0;
}
