// Type-checked reads of JSON objects as the API server sends them (internal to
// src/capability). Nothing here throws: a field that is absent or of another type reads as
// absent, so a malformed object can never take a worker or an informer thread down.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "nlohmann/json.hpp"

namespace hb::capability::internal {

// The field, or nullptr when `object` is not an object or lacks it (null counts as absent).
inline const nlohmann::json* Field(const nlohmann::json& object, const char* name) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(name);
  return it == object.end() || it->is_null() ? nullptr : &*it;
}

// The field when it is an object, else an empty object.
inline const nlohmann::json& ObjectField(const nlohmann::json& object, const char* name) {
  static const nlohmann::json* const kEmpty = new nlohmann::json(nlohmann::json::object());
  const nlohmann::json* f = Field(object, name);
  return f != nullptr && f->is_object() ? *f : *kEmpty;
}

inline std::string StringField(const nlohmann::json& object, const char* name) {
  const nlohmann::json* f = Field(object, name);
  return f != nullptr && f->is_string() ? f->get<std::string>() : std::string();
}

inline std::optional<int64_t> IntField(const nlohmann::json& object, const char* name) {
  const nlohmann::json* f = Field(object, name);
  if (f == nullptr || !f->is_number_integer()) return std::nullopt;
  return f->get<int64_t>();
}

}  // namespace hb::capability::internal
