#include "dashboard/assets.h"

namespace hb::dashboard {

const Asset* FindAsset(absl::string_view path) {
  for (size_t i = 0; i < kEmbeddedAssetCount; ++i) {
    if (path == kEmbeddedAssets[i].path) return &kEmbeddedAssets[i];
  }
  return nullptr;
}

}  // namespace hb::dashboard
