#include "manifest/discovery.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace hb::manifest {

Catalog BuildCatalog(const std::vector<Document>& documents, const HeartbeatTiming& defaults,
                     const CheckDefaults& checks) {
  Catalog catalog;
  std::map<std::string, std::string> seen;  // identifier -> source of its first declaration
  for (const Document& doc : documents) {
    auto parsed = ParseManifest(doc.text, doc.source);
    if (!parsed.ok()) {
      catalog.errors.emplace_back(parsed.status().message());
      continue;
    }
    Manifest& m = *parsed;
    auto [it, inserted] = seen.emplace(m.identifier, m.source);
    if (!inserted) {
      catalog.errors.push_back(absl::StrCat(m.source, ": metadata.dc_identifier: duplicate \"",
                                            m.identifier, "\", already declared in ", it->second,
                                            "; skipped"));
      continue;
    }
    std::string declared = absl::AsciiStrToLower(m.declared_type);
    if (!m.service) {
      if (declared == "service") {
        catalog.notes.push_back(absl::StrCat(m.source, ": dc_type is Service but there is no ",
                                             "chora_service block; no heartbeat"));
      }
      catalog.others.push_back(std::move(m));
      continue;
    }
    auto timing = ResolveTiming(m, defaults);
    if (!timing.ok()) {
      catalog.errors.emplace_back(timing.status().message());
      continue;
    }
    auto check = ResolveCheck(m, *timing, checks);
    if (!check.ok()) {
      catalog.errors.emplace_back(check.status().message());
      continue;
    }
    if (!declared.empty() && declared != "service") {
      catalog.notes.push_back(absl::StrCat(m.source, ": dc_type is ", m.declared_type,
                                           " but a chora_service block is present; heartbeating"));
    }
    catalog.services.push_back(ServiceCapability{std::move(m), *timing, *std::move(check)});
  }
  return catalog;
}

absl::StatusOr<DirectoryContents> ReadManifestDirectory(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return absl::NotFoundError(absl::StrCat("capabilities directory \"", dir, "\" ",
                                            ec ? ec.message() : "is not a directory"));
  }
  std::vector<fs::path> files;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const fs::path& path = it->path();
    std::string ext = path.extension().string();
    if ((ext == ".yaml" || ext == ".yml") && it->is_regular_file()) files.push_back(path);
  }
  if (ec) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot list capabilities directory \"", dir, "\": ", ec.message()));
  }
  std::sort(files.begin(), files.end());
  DirectoryContents contents;
  for (const fs::path& path : files) {
    std::ifstream in(path, std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in && !in.eof()) {
      contents.errors.push_back(
          absl::StrCat(path.string(), ": cannot read file: ", std::strerror(errno)));
      continue;
    }
    contents.documents.push_back(Document{path.string(), std::move(text)});
  }
  return contents;
}

}  // namespace hb::manifest
