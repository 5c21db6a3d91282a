// Turning a set of manifest files into the capabilities to heartbeat.
//
// Used by auto-discovery (a directory) and by the controller's ConfigMap source (data
// keys). A broken manifest never stops the others: it is skipped and reported with its
// source and field. Pure functions apart from ReadManifestDirectory().
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "manifest/manifest.h"

namespace hb::manifest {

struct Document {
  std::string source;  // shown in messages
  std::string text;
};

struct ServiceCapability {
  Manifest manifest;
  HeartbeatTiming timing;  // defaults applied and checked
  check::CheckSpec check;  // ResolveCheck()
};

struct Catalog {
  std::vector<ServiceCapability> services;  // valid Service-type, unique identifiers
  std::vector<Manifest> others;             // valid manifests without chora_service
  std::vector<std::string> errors;          // one per skipped document
  std::vector<std::string> notes;           // valid but suspicious (e.g. dc_type mismatch)
};

// Parses and checks every document, in order. The first document declaring an identifier
// wins; later ones are reported as duplicates.
// A Service-type manifest whose timing or health check is invalid is skipped (an error).
Catalog BuildCatalog(const std::vector<Document>& documents, const HeartbeatTiming& defaults,
                     const CheckDefaults& checks = CheckDefaults());

// Reads every *.yaml and *.yml file directly in `dir` (symlinks followed), sorted by name.
// Fails when the directory cannot be read. Every entry gets a verdict: a document, an
// error (named like a manifest but not read: a directory, a FIFO, a broken symlink or a
// loop, over 1 MiB, unreadable) or ignored (another name). Never throws, never blocks on a
// FIFO.
struct DirectoryContents {
  std::vector<Document> documents;
  std::vector<std::string> errors;   // "<path>: <why it was not read>"
  std::vector<std::string> ignored;  // "<path>: not named *.yaml or *.yml"
};
absl::StatusOr<DirectoryContents> ReadManifestDirectory(const std::string& dir);

}  // namespace hb::manifest
