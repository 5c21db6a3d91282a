// The dashboard page's static files, embedded in the binary at build time from
// src/dashboard/assets/ (src/dashboard/embed_assets.cmake writes assets_data.cc): the page
// works offline and the binary reads no file to serve it. Constant data; thread-safe.
#pragma once

#include <cstddef>

#include "absl/strings/string_view.h"

namespace hb::dashboard {

struct Asset {
  const char* path;  // "/index.html", "/app.js", ...
  const char* content_type;
  const unsigned char* data;
  size_t size;

  absl::string_view bytes() const { return {reinterpret_cast<const char*>(data), size}; }
};

// Defined in the generated assets_data.cc.
extern const Asset kEmbeddedAssets[];
extern const size_t kEmbeddedAssetCount;

// The asset served at `path`; null when there is none.
const Asset* FindAsset(absl::string_view path);

}  // namespace hb::dashboard
