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
#include "manifest/yaml_hygiene.h"

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

namespace {

namespace fs = std::filesystem;

// Why a directory entry named like a manifest is not read; "" when it is a regular file
// (through symlinks). Never throws: every filesystem call takes an error code.
std::string Unreadable(const fs::directory_entry& entry) {
  std::error_code ec;
  fs::file_status link = entry.symlink_status(ec);
  if (ec) return absl::StrCat("cannot stat: ", ec.message());
  fs::file_status target = entry.status(ec);
  if (ec) {
    if (fs::is_symlink(link)) {
      return ec == std::errc::too_many_symbolic_link_levels
                 ? std::string("a symlink loop")
                 : absl::StrCat("a broken symlink (", ec.message(), ")");
    }
    return absl::StrCat("cannot stat: ", ec.message());
  }
  switch (target.type()) {
    case fs::file_type::regular:
      return "";
    case fs::file_type::directory:
      return "a directory, not a file";
    case fs::file_type::fifo:
      return "a FIFO, not a regular file";
    case fs::file_type::socket:
      return "a socket, not a regular file";
    case fs::file_type::block:
    case fs::file_type::character:
      return "a device, not a regular file";
    default:
      return "not a regular file";
  }
}

}  // namespace

absl::StatusOr<DirectoryContents> ReadManifestDirectory(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return absl::NotFoundError(absl::StrCat("capabilities directory \"", dir, "\" ",
                                            ec ? ec.message() : "is not a directory"));
  }
  std::vector<fs::directory_entry> entries;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    entries.push_back(*it);
  }
  if (ec) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot list capabilities directory \"", dir, "\": ", ec.message()));
  }
  std::sort(entries.begin(), entries.end(),
            [](const auto& a, const auto& b) { return a.path() < b.path(); });
  DirectoryContents contents;
  for (const fs::directory_entry& entry : entries) {
    const fs::path& path = entry.path();
    std::string ext = path.extension().string();
    if (ext != ".yaml" && ext != ".yml") {
      contents.ignored.push_back(absl::StrCat(path.string(), ": not named *.yaml or *.yml"));
      continue;
    }
    if (std::string why = Unreadable(entry); !why.empty()) {
      contents.errors.push_back(absl::StrCat(path.string(), ": ", why));
      continue;
    }
    uintmax_t size = fs::file_size(path, ec);
    if (!ec && size > internal::kMaxManifestBytes) {
      contents.errors.push_back(absl::StrCat(path.string(), ": larger than ",
                                             internal::kMaxManifestBytes, " bytes (", size, ")"));
      continue;
    }
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
