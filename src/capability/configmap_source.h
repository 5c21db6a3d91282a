// Capability ConfigMaps: every data key ending in .yaml or .yml holds one capability
// manifest in the original registry format (see manifest/manifest.h).
//
// Each valid manifest becomes a Declaration; each broken one an error naming the
// ConfigMap, the key and the field. The operator mirrors every declared capability as a
// Capability object (MirrorObject) so that `kubectl get capabilities` shows it. Pure
// functions.
#pragma once

#include <string>
#include <vector>

#include "capability/declaration.h"
#include "manifest/manifest.h"
#include "nlohmann/json.hpp"

namespace hb::capability {

struct ConfigMapCapabilities {
  std::vector<Declaration> declarations;
  std::vector<std::string> errors;  // "ConfigMap ns/name[key]: field: message"
};

ConfigMapCapabilities FromConfigMap(const nlohmann::json& configmap,
                                    const manifest::HeartbeatTiming& defaults);

// The name of the Capability mirroring `identifier` from ConfigMap `configmap`: a valid
// object name, distinct for distinct pairs. "<configmap>.<identifier>" when that is
// unambiguous (no dot in the ConfigMap name, no underscore in the identifier, at most 253
// characters); otherwise "<configmap>.<identifier with _ as ->-<10 hex digits>", the hash
// stable across builds.
std::string MirrorName(const std::string& configmap, const std::string& identifier);

// "<namespace>/<MirrorName>" of a ConfigMap declaration's mirror: its informer cache key.
std::string MirrorKey(const Declaration& declaration);

// The Capability object mirroring a ConfigMap declaration (labels, source annotation,
// owner reference to the ConfigMap when its uid is known, spec copied from the manifest).
nlohmann::json MirrorObject(const Declaration& declaration);

// The "configmap/<ns>/<name>/<key>" source annotation of a mirror, which names the entry.
std::string MirrorSource(const Declaration& declaration);

}  // namespace hb::capability
